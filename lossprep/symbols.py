"""The book's one glossary of SymPy symbols: one meaning per symbol, shared by every chapter.

Chapters, their modules and the tests import their symbols from here and define none of their
own (``tests/test_glossary.py`` checks), so a letter means the same on every page. ``GLOSSARY``
lists each symbol with its TeX form and its meaning, in the order the book introduces them; the
glossary page (``book/glossary.md``) is built from it, and :func:`latex` prints an expression
in the book's notation.

Decisions the whole book keeps:

- ``σ`` is the sigmoid, a function, always written applied: ``σ(z)``. The standard deviation of
  Gaussian noise is ``s``; the scale of (asymmetric) Laplace noise is ``b``.
- ``δ`` is Huber's threshold (``F.huber_loss(delta=...)``). The Dirac delta, which appears as
  the second derivative of a kink, is written ``Dirac(e)``.
- ``e`` is the error ``y - ŷ``; Euler's number only appears inside ``exp(·)``, which
  :func:`latex` prints as ``\\exp`` (never ``e^{...}``).
- Class indices are 0-based, as in PyTorch: logits ``z_0, ..., z_{C-1}``.

Example::

    >>> import sympy as sp
    >>> latex(sp.diff(sp.Abs(e), e, 2))
    '2 \\\\operatorname{Dirac}\\\\left(e\\\\right)'
    >>> latex(sp.diff(sigmoid(z), z))
    '\\\\left(1 - \\\\sigma\\\\left(z\\\\right)\\\\right) \\\\sigma\\\\left(z\\\\right)'
"""

from __future__ import annotations

import sympy as sp
from sympy.printing.latex import LatexPrinter

__all__ = [
    "x",
    "theta",
    "y",
    "y_hat",
    "e",
    "N",
    "L",
    "P",
    "s",
    "b",
    "z",
    "p",
    "sigmoid",
    "C",
    "c",
    "Y",
    "F",
    "q",
    "delta",
    "beta",
    "lam",
    "tau",
    "u",
    "Dirac",
    "logits",
    "latex",
    "GLOSSARY",
    "eta",
    "mu",
    "p_t",
    "y_pm",
    "w",
    "gamma",
    "alpha",
    "T",
    "m",
    "epsilon",
    "rho",
    "a",
    "indexed",
]

# The meanings are in GLOSSARY below, the one place that states them.
x, theta, y, e, z, c, Y, L = sp.symbols("x theta y e z c Y L", real=True)
y_hat = sp.Symbol(r"\hat{y}", real=True)
s, b, p, q, delta, beta, lam, tau, u = sp.symbols("s b p q delta beta lambda tau u", positive=True)
N, C = sp.symbols("N C", integer=True, positive=True)
P, F = sp.symbols("P F", cls=sp.Function)
Dirac = sp.DiracDelta


class sigmoid(sp.Function):
    """The sigmoid ``σ(x) = 1 / (1 + exp(-x))``, printed ``σ(x)``.

    SymPy knows its derivative, ``σ'(x) = σ(x) (1 - σ(x))``; ``.rewrite(sp.exp)`` gives the
    formula, so a derivation can be confirmed from the definition (``tests/test_glossary.py``
    checks the derivative that way).
    """

    nargs = 1

    @classmethod
    def eval(cls, arg):
        if arg.is_zero:
            return sp.S.Half
        return None

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise sp.ArgumentIndexError(self, argindex)
        return sigmoid(self.args[0]) * (1 - sigmoid(self.args[0]))

    def _eval_rewrite_as_exp(self, arg, **kwargs):
        return 1 / (1 + sp.exp(-arg))

    def _eval_is_real(self):
        return self.args[0].is_real

    def _eval_is_positive(self):
        return self.args[0].is_real


def logits(n_classes: int) -> tuple[sp.Symbol, ...]:
    """The logits ``z_0, ..., z_{C-1}`` of ``n_classes`` classes (0-based, as PyTorch indexes classes)."""
    if n_classes < 2:
        raise ValueError(f"Expected at least 2 classes, got {n_classes}")
    return sp.symbols(f"z_0:{n_classes}", real=True)


class _BookPrinter(LatexPrinter):
    """SymPy's LaTeX printer in the book's notation: ``exp`` as ``\\exp`` (``e`` is the error),
    the Dirac delta as ``Dirac`` (``δ`` is Huber's threshold), the sigmoid as ``σ``."""

    def _applied(self, name: str, expr: sp.Basic, exp: str | None) -> str:
        out = rf"{name}\left({self._print(expr.args[0])}\right)"
        return out if exp is None else rf"{out}^{{{exp}}}"

    def _print_ExpBase(self, expr, exp=None):
        return self._applied(r"\exp", expr, exp)

    def _print_DiracDelta(self, expr, exp=None):
        if len(expr.args) != 1:
            raise ValueError(f"Expected the Dirac delta itself, got a derivative of it: {expr}")
        return self._applied(r"\operatorname{Dirac}", expr, exp)

    def _print_sigmoid(self, expr, exp=None):
        return self._applied(r"\sigma", expr, exp)


def latex(expr: sp.Basic) -> str:
    """``expr`` as LaTeX in the book's notation (see the module's decisions)."""
    return _BookPrinter().doprint(sp.sympify(expr))


GLOSSARY: tuple[tuple[sp.Basic | type, str, str], ...] = (
    (x, "x", "the features of one example"),
    (theta, r"\theta", "a parameter (weight) of the model; all of them together"),
    (y, "y", "the target of one example: a number, a label 0 or 1, or a class index $0, \\dots, C - 1$"),
    (y_hat, r"\hat{y}", "the model's prediction for one example"),
    (e, "e", r"the error (residual) $y - \hat{y}$; Euler's number is only written $\exp(\cdot)$"),
    (N, "N", "the number of examples"),
    (L, "L", "the loss of one example"),
    (P, "P", r"$P(y \mid x; \theta)$: the probability, or density, that the model gives the target"),
    (s, "s", "the standard deviation of Gaussian noise"),
    (b, "b", "the scale of Laplace and asymmetric Laplace noise"),
    (z, "z", "a logit: the model's unbounded score before the sigmoid or softmax"),
    (p, "p", "a predicted probability (of the positive class, or of one class)"),
    (sigmoid, r"\sigma", r"the sigmoid $\sigma(z) = 1 / (1 + \exp(-z))$, always written applied"),
    (C, "C", "the number of classes; class indices run from $0$ to $C - 1$, as in PyTorch"),
    (c, "c", "a constant prediction, the same for every example"),
    (Y, "Y", "the target as a random variable (its distribution given the features)"),
    (F, "F", r"$F(c)$: the cumulative distribution function of $Y$, the probability that $Y \le c$"),
    (q, "q", "a quantile level, $0 < q < 1$ (the pinball loss)"),
    (delta, r"\delta", "Huber's threshold (`F.huber_loss(delta=...)`)"),
    (beta, r"\beta", "smooth L1's threshold (`F.smooth_l1_loss(beta=...)`)"),
    (lam, r"\lambda", r"the weight-decay strength: the loss plus $\lambda \theta^2$"),
    (tau, r"\tau", "the standard deviation of a Gaussian prior on a parameter"),
    (
        u,
        "u",
        r"a positive amount, to write 'beyond' or 'near' a point as an equation ($e = \delta + u$, $p_t = 1 - u$)",
    ),
    (
        Dirac,
        r"\operatorname{Dirac}",
        r"the Dirac delta, the second derivative of a kink: $\frac{d^2}{de^2} \lvert e \rvert = 2 \operatorname{Dirac}(e)$",
    ),
)
"""``(SymPy object, TeX, meaning)`` for every symbol of the book, in the order it introduces them.

The SymPy object is a symbol, or a function (``sigmoid``, ``P``, ``F``, ``Dirac``) for a
symbol the book always writes applied to an argument.
"""

# --- classification and class imbalance (chapters "Classification losses", "Class imbalance") --

eta, p_t, w, alpha, T, m, epsilon, rho = sp.symbols(r"eta p_t w alpha T m epsilon rho", positive=True)
mu, a = sp.symbols("mu a", real=True)
y_pm = sp.Symbol(r"\tilde{y}", real=True)
gamma = sp.Symbol("gamma", nonnegative=True)


def indexed(symbol: sp.Symbol, n: int, **assumptions: bool) -> tuple[sp.Symbol, ...]:
    """``symbol_0, ..., symbol_{n-1}``: the components of a vector over ``n`` classes (0-based, as
    PyTorch indexes classes), such as ``p_0, p_1, p_2``. They have ``symbol``'s assumptions, or
    ``assumptions`` when given (``positive=True`` for a target that is a distribution)."""
    if n < 1:
        raise ValueError(f"Expected n >= 1, got {n}")
    kept = assumptions or {k: v for k, v in symbol.assumptions0.items() if k in ("real", "positive", "nonnegative")}
    return tuple(sp.Symbol(f"{symbol.name}_{i}", **kept) for i in range(n))


GLOSSARY += (
    (eta, r"\eta", r"the true probability $P(y = 1 \mid x)$ of the positive class"),
    (mu, r"\mu", r"the mean $\E[y \mid x]$ a model predicts"),
    (p_t, "p_{t}", "the probability the model gives the true class: $p$ for a positive, $1 - p$ for a negative"),
    (y_pm, r"\tilde{y}", r"a binary label in $\{-1, +1\}$, $\tilde y = 2y - 1$"),
    (w, "w", "the weight of the positive class (`pos_weight`)"),
    (gamma, r"\gamma", "focal loss's focusing parameter"),
    (alpha, r"\alpha", "focal loss's class-balance weight"),
    (T, "T", "a softmax temperature"),
    (m, "m", "the hinge loss's margin"),
    (epsilon, r"\epsilon", "the label-smoothing amount"),
    (rho, r"\rho", "the fraction of the negatives that undersampling keeps"),
    (a, "a", "a constant subtracted from every logit (the log-sum-exp shift)"),
)
