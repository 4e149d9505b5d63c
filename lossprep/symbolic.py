"""SymPy helpers: state a loss, derive it, and check the derivation against PyTorch.

The reference for every check is the SymPy expression itself, evaluated with mpmath at high
precision, so a check can use huge and tiny inputs where a float64 evaluation of the textbook
formula would overflow (``log(cosh(1000))``) and still say whether the torch code is right.

Example::

    >>> import sympy as sp, torch
    >>> e, = sp.symbols("e", real=True)
    >>> d = derive(e**2, e)
    >>> d.gradient
    2*e
    >>> r = check_against_torch(e**2, lambda t: t**2, {e: sample_points(32)}, wrt=e)
    >>> r.passed
    True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp
import torch

__all__ = [
    "Derivation",
    "Equations",
    "NotConfirmed",
    "CheckResult",
    "derive",
    "confirm",
    "is_identity",
    "limits",
    "to_torch",
    "sample_points",
    "check_against_torch",
]


@dataclass(frozen=True)
class Derivation:
    """A loss, its first and second derivatives with respect to one variable."""

    loss: sp.Expr
    wrt: sp.Symbol
    gradient: sp.Expr
    second: sp.Expr
    name: str = "L"

    def _repr_latex_(self) -> str:
        v = sp.latex(self.wrt)
        n = self.name
        return (
            "$\\displaystyle \\begin{aligned}"
            f"{n} &= {sp.latex(self.loss)} \\\\"
            f"\\frac{{\\partial {n}}}{{\\partial {v}}} &= {sp.latex(self.gradient)} \\\\"
            f"\\frac{{\\partial^2 {n}}}{{\\partial {v}^2}} &= {sp.latex(self.second)}"
            "\\end{aligned}$"
        )


def derive(loss: sp.Expr, wrt: sp.Symbol, *, name: str = "L", simplify: bool = True) -> Derivation:
    """Differentiate ``loss`` twice with respect to ``wrt``.

    Args:
        loss: the loss of one example as a SymPy expression.
        wrt: the variable (a prediction, a logit, an error) to differentiate with respect to.
        name: the symbol used for the loss when the derivation is displayed.
        simplify: simplify the derivatives (slower for large expressions).
    """
    if wrt not in loss.free_symbols:
        raise ValueError(
            f"Expected the loss to depend on {wrt}, got an expression in {sorted(map(str, loss.free_symbols))}"
        )
    grad = sp.diff(loss, wrt)
    second = sp.diff(grad, wrt)
    if simplify:
        grad, second = sp.simplify(grad), sp.simplify(second)
    return Derivation(loss=loss, wrt=wrt, gradient=grad, second=second, name=name)


def limits(expr: sp.Expr, var: sp.Symbol, points: Sequence = (-sp.oo, sp.oo)) -> dict:
    """The limit of ``expr`` as ``var`` tends to each of ``points`` (``{point: limit}``)."""
    return {p: sp.limit(expr, var, p) for p in points}


class NotConfirmed(AssertionError):
    """SymPy could not show that a derivation's result equals the stated one."""


@dataclass(frozen=True)
class Equations:
    """Equations SymPy has confirmed, displayed as aligned math: what a chapter shows in place
    of raw SymPy output. Join them with ``+``.

    Attributes:
        rows: ``(left-hand side, right-hand side)`` pairs, both TeX.
    """

    rows: tuple[tuple[str, str], ...]

    def __add__(self, other: Equations) -> Equations:
        return Equations(self.rows + other.rows)

    def _repr_latex_(self) -> str:
        body = r" \\ ".join(f"{lhs} &= {rhs}" for lhs, rhs in self.rows)
        return f"$\\displaystyle \\begin{{aligned}}{body}\\end{{aligned}}$"

    def __str__(self) -> str:
        return "\n".join(f"{lhs} = {rhs}" for lhs, rhs in self.rows)


def is_identity(computed: sp.Expr, stated: sp.Expr) -> bool:
    """Whether ``computed - stated`` simplifies to zero (functions such as the sigmoid are first
    rewritten by their definitions, in ``exp``)."""
    difference = sp.sympify(computed - stated)
    if difference == 0:
        return True
    return sp.simplify(difference.rewrite(sp.exp)) == 0


def confirm(
    lhs: str,
    computed: sp.Expr,
    stated: sp.Expr,
    tex: str | None = None,
    *,
    cases: Sequence[Mapping[sp.Symbol, sp.Expr]] = (),
) -> Equations:
    """Check that a derivation gave the stated result, and return the equation to display.

    Args:
        lhs: the left-hand side, TeX (``r"\\frac{\\partial L}{\\partial z}"``).
        computed: what SymPy derived.
        stated: what the text claims, as a SymPy expression.
        tex: how to print ``stated`` (default: SymPy's LaTeX of it).
        cases: substitutions under each of which the identity must hold (the two sides of a
            kink: ``[{e: u}, {e: -u}]``); empty: it must hold as it is.

    Raises:
        NotConfirmed: the difference does not simplify to zero (in some case), so the cell, and
            the strict book build, fail instead of showing a wrong equation.
    """
    for case in cases or ({},):
        if not is_identity(sp.sympify(computed).subs(case), sp.sympify(stated).subs(case)):
            where = f" at {', '.join(f'{k} = {v}' for k, v in case.items())}" if case else ""
            raise NotConfirmed(
                f"SymPy does not confirm {lhs} = {sp.latex(stated)}{where}: it derived {sp.latex(sp.simplify(computed))}"
            )
    return Equations(((lhs, tex if tex is not None else sp.latex(stated)),))


def to_torch(expr: sp.Expr, *symbols: sp.Symbol) -> Callable[..., torch.Tensor]:
    """Turn a SymPy expression into a function of torch tensors, arguments in ``symbols`` order.

    The function is the formula as written: it differentiates with autograd, but it is not
    made numerically stable (``log(cosh(1000.0))`` overflows). Use it for plots and checks.
    """
    missing = expr.free_symbols - set(symbols)
    if missing:
        raise ValueError(f"Expected arguments for every free symbol, missing {sorted(map(str, missing))}")
    return sp.lambdify(symbols, expr, modules="torch")


def sample_points(
    n: int = 64,
    *,
    seed: int = 0,
    low: float = 1e-6,
    high: float = 1e3,
    signed: bool = True,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """Test points spread over many orders of magnitude: half log-uniform in ``[low, high]``
    (tiny and large values), half standard normal (the usual range), always including the
    extremes ``low`` and ``high`` (with both signs when ``signed``). Signs are random when
    ``signed``; zero is never drawn, so kinks such as ``|x|`` at 0 are avoided."""
    if n < 8:
        raise ValueError(f"Expected n >= 8, got {n}")
    if not 0 < low < high:
        raise ValueError(f"Expected 0 < low < high, got low={low}, high={high}")
    g = torch.Generator().manual_seed(seed)
    k = n // 2
    mags = torch.exp(torch.empty(k, dtype=torch.float64).uniform_(np.log(low), np.log(high), generator=g))
    normal = torch.randn(n - k, dtype=torch.float64, generator=g)
    normal = torch.where(normal.abs() < low, torch.full_like(normal, low), normal)
    pts = torch.cat([mags, normal])
    if signed:
        signs = torch.where(torch.rand(n, generator=g, dtype=torch.float64) < 0.5, -1.0, 1.0)
        pts = pts.abs() * signs
    else:
        pts = pts.abs()
    ends = torch.tensor([high, low, -high, -low] if signed else [high, low], dtype=torch.float64)
    pts[: len(ends)] = ends
    return pts.to(dtype)


@dataclass
class CheckResult:
    """How far a torch implementation is from the SymPy expression, in value and gradient."""

    n: int
    max_value_error: float
    max_grad_error: float
    rtol: float
    atol: float
    worst: dict = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.max_value_error <= 1.0 and self.max_grad_error <= 1.0

    def __str__(self) -> str:
        mark = "passed" if self.passed else "FAILED"
        text = (
            f"{mark} on {self.n} points (worst error / tolerance: "
            f"value {self.max_value_error:.1g}, gradient {self.max_grad_error:.1g})"
        )
        return text if self.passed else f"{text}; worst at {self.worst}"

    def _repr_html_(self) -> str:
        color = "#1a7f37" if self.passed else "#cf222e"
        return f'<p style="color:{color}"><strong>autograd check</strong> {self}</p>'

    def assert_ok(self) -> CheckResult:
        if not self.passed:
            raise AssertionError(str(self))
        return self


def _mp_values(expr: sp.Expr, symbols: Sequence[sp.Symbol], columns: Sequence[np.ndarray], dps: int) -> np.ndarray:
    """Evaluate ``expr`` exactly enough at each point. Where ``dps`` digits are not enough
    (``1 - sigmoid(1000)`` cancels to 0 and its log is infinite), retry with 20 times more."""
    f = sp.lambdify(symbols, expr, modules="mpmath")
    out = np.empty(len(columns[0]), dtype=np.float64)
    for i in range(len(out)):
        for digits in (dps, 20 * dps):
            with mpmath.workdps(digits):
                args = [mpmath.mpf(float(c[i])) for c in columns]
                try:
                    value = float(f(*args))
                except (ZeroDivisionError, ValueError):
                    value = float("nan")
            if np.isfinite(value):
                break
        out[i] = value
    return out


def _scaled_error(got: np.ndarray, want: np.ndarray, rtol: float, atol: float) -> tuple[float, int]:
    err = np.abs(got - want) / (atol + rtol * np.abs(want))
    err = np.where(np.isfinite(got), err, np.inf)
    i = int(np.argmax(err))
    return float(err[i]), i


def check_against_torch(
    expr: sp.Expr,
    torch_fn: Callable[..., torch.Tensor],
    inputs: Mapping[sp.Symbol, torch.Tensor | Sequence[float] | float],
    *,
    wrt: sp.Symbol,
    params: Mapping[sp.Symbol, float] | None = None,
    rtol: float = 1e-9,
    atol: float = 1e-12,
    dps: int = 60,
) -> CheckResult:
    """Compare a torch loss with a SymPy expression, in value and in autograd gradient.

    Args:
        expr: the loss of one example.
        torch_fn: called as ``torch_fn(*tensors)`` with one tensor per entry of ``inputs``, in
            order; returns the loss per element (``reduction="none"``).
        inputs: the points, one 1-D tensor (or number, broadcast) per symbol, all of one length.
        wrt: the input whose gradient is checked; autograd flows into its tensor.
        params: fixed numbers substituted into ``expr`` (``delta``, ``q``) before the check.
        rtol, atol: a point passes when ``|torch - exact| <= atol + rtol * |exact|``.
        dps: decimal digits mpmath uses for the exact reference.

    Returns:
        a :class:`CheckResult`; errors are reported in units of the tolerance (<= 1 passes).
    """
    if wrt not in inputs:
        raise ValueError(f"Expected {wrt} among the inputs, got {list(map(str, inputs))}")
    exact = expr.subs(params or {})
    symbols = list(inputs)
    extra = exact.free_symbols - set(symbols)
    if extra:
        raise ValueError(f"Expected a value for every symbol, missing {sorted(map(str, extra))} (pass them in params)")
    tensors = [torch.as_tensor(v, dtype=torch.float64) for v in inputs.values()]
    n = max(t.numel() for t in tensors)
    tensors = [t.reshape(-1).expand(n).clone() if t.numel() == 1 else t.reshape(-1).clone() for t in tensors]
    if any(t.numel() != n for t in tensors):
        raise ValueError(f"Expected inputs of one length, got {[t.numel() for t in tensors]}")
    k = symbols.index(wrt)
    tensors[k].requires_grad_(True)
    value = torch_fn(*tensors)
    if value.shape != (n,):
        raise ValueError(f"Expected torch_fn to return the loss per element, shape ({n},), got {tuple(value.shape)}")
    (grad,) = torch.autograd.grad(value.sum(), tensors[k])
    columns = [t.detach().cpu().numpy() for t in tensors]
    want_v = _mp_values(exact, symbols, columns, dps)
    want_g = _mp_values(sp.diff(exact, wrt), symbols, columns, dps)
    ev, iv = _scaled_error(value.detach().cpu().numpy(), want_v, rtol, atol)
    eg, ig = _scaled_error(grad.detach().cpu().numpy(), want_g, rtol, atol)
    i = iv if ev >= eg else ig
    worst = {str(s): float(c[i]) for s, c in zip(symbols, columns, strict=False)}
    return CheckResult(n=n, max_value_error=ev, max_grad_error=eg, rtol=rtol, atol=atol, worst=worst)
