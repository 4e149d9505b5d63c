"""What only the chapter "Losses are likelihoods" (``book/likelihoods.md``) needs.

Negative log-likelihoods of the noise models behind the common losses, in SymPy, in the book's
glossary symbols (:mod:`lossprep.symbols`; this module defines none); where naive binary
cross-entropy breaks, measured; and the brute-force search for the constant that minimises a
loss. The chapter and ``tests/test_likelihoods_chapter.py`` import this module, so the tests
check the very expressions and numbers the page shows.

Chapters and exercises: the chapter derives binary cross-entropy and its gradient ``p - y`` for
one example, which the graded exercises build on (``medical_loss``: a weighted, batched BCE and
its gradient). It never hands over an exercise's answer: it works with SymPy expressions of one
example and with ``torch.nn.functional``'s own losses, never a batched implementation of a loss
an exercise asks for (the leak test in ``tests/test_grading_pipeline.py`` keeps that honest).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp
import torch
import torch.nn.functional as F

from lossprep.formulas import pinball_expr
from lossprep.symbols import F as cdf
from lossprep.symbols import b, c, logits, p, q, s, tau, theta, u, y, y_hat

__all__ = [
    "gaussian_nll",
    "laplace_nll",
    "bernoulli_nll",
    "categorical_nll",
    "asymmetric_laplace_nll",
    "NoiseModel",
    "noise_models",
    "scale_and_constant",
    "gaussian_prior_nll",
    "weight_decay_from_prior",
    "expected_pinball_slope",
    "bce_naive_and_exact",
    "bce_break_point",
    "minimise_constant",
]


def _nll(density: sp.Expr) -> sp.Expr:
    return sp.expand_log(-sp.log(density), force=True)


def gaussian_nll() -> sp.Expr:
    """-log N(y; y_hat, s^2): Gaussian noise of standard deviation ``s`` around the prediction."""
    return _nll(sp.exp(-((y - y_hat) ** 2) / (2 * s**2)) / sp.sqrt(2 * sp.pi * s**2))


def laplace_nll() -> sp.Expr:
    """-log Laplace(y; y_hat, b)."""
    return _nll(sp.exp(-sp.Abs(y - y_hat) / b) / (2 * b))


def bernoulli_nll() -> sp.Expr:
    """-log Bernoulli(y; p) for y in {0, 1}: the likelihood is p^y (1 - p)^(1 - y)."""
    return _nll(p**y * (1 - p) ** (1 - y))


def categorical_nll(C: int = 3, target: int = 0) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """-log softmax(z)_target for ``C`` logits ``z_0 .. z_{C-1}`` (0-based ``target``, as in
    PyTorch); returns the expression and the logits."""
    if not 0 <= target < C:
        raise ValueError(f"Expected 0 <= target < C, got target={target}, C={C}")
    zs = logits(C)
    return sp.log(sum(sp.exp(zk) for zk in zs)) - zs[target], zs


def asymmetric_laplace_nll() -> sp.Expr:
    """-log ALD(y; y_hat, b, q), density q (1 - q) / b * exp(-rho_q((y - y_hat) / b))."""
    return sp.log(b) - sp.log(q * (1 - q)) + pinball_expr((y - y_hat) / b)


@dataclass(frozen=True)
class NoiseModel:
    """A noise model, its negative log-likelihood, and the loss it reduces to."""

    name: str
    nll: sp.Expr
    loss: sp.Expr
    loss_name: str


def noise_models() -> list[NoiseModel]:
    """The three regression noise models and the losses they give, with ``e = y - y_hat``."""
    err = y - y_hat
    return [
        NoiseModel("Gaussian", gaussian_nll(), err**2, "squared error"),
        NoiseModel("Laplace", laplace_nll(), sp.Abs(err), "absolute error"),
        NoiseModel("asymmetric Laplace", asymmetric_laplace_nll(), pinball_expr(err), "pinball loss"),
    ]


def scale_and_constant(model: NoiseModel) -> tuple[sp.Expr, sp.Expr]:
    """``(a, k)`` with ``NLL = a * loss + k``, ``a > 0`` and ``k`` free of ``y`` and ``y_hat``.

    Checked on each side of the kink at ``e = 0`` separately (``e = u`` and ``e = -u``, ``u > 0``),
    since ``|e|`` and the pinball loss have one: the same ``a`` and ``k`` must come out on both.
    Then the NLL and the loss have the same minimiser.

    Raises:
        ValueError: the NLL is not a positive multiple of the loss plus a constant.
    """
    found = set()
    for err in (u, -u):
        at = {y_hat: y - err}
        a = sp.simplify(sp.diff(model.nll, y_hat).subs(at) / sp.diff(model.loss, y_hat).subs(at))
        k = sp.simplify(sp.expand_log(model.nll.subs(at) - a * model.loss.subs(at), force=True))
        found.add((a, k))
    (a, k), *rest = found
    if rest or (a.free_symbols | k.free_symbols) & {y, y_hat, u} or not a.is_positive:
        raise ValueError(
            f"Expected the {model.name} NLL to be a positive multiple of the {model.loss_name} plus a constant"
        )
    return a, k


def gaussian_prior_nll() -> sp.Expr:
    """-log N(theta; 0, tau^2): a Gaussian prior of standard deviation ``tau`` on a parameter."""
    return _nll(sp.exp(-(theta**2) / (2 * tau**2)) / sp.sqrt(2 * sp.pi * tau**2))


def weight_decay_from_prior() -> sp.Expr:
    """The ``lambda`` for which ``squared error + lambda * theta^2`` has the same minimiser as the
    Gaussian NLL (noise ``s``) plus a Gaussian prior (``tau``) on ``theta``: the ratio of the
    prior's coefficient of ``theta^2`` to the NLL's coefficient of the squared error."""
    a, _ = scale_and_constant(noise_models()[0])
    prior_coefficient = sp.diff(gaussian_prior_nll(), theta, 2) / 2
    return sp.simplify(prior_coefficient / a)


def _integral_of_density(integral: sp.Integral) -> sp.Expr:
    """``∫_lo^hi F'(y) dy = F(hi) - F(lo)``, with ``F(-oo) = 0`` and ``F(oo) = 1`` (a CDF)."""
    (var, lo, hi) = integral.limits[0]
    if integral.function != sp.Derivative(cdf(var), var):
        raise ValueError(f"Expected the integral of the density F'(y), got {integral}")
    at = {sp.oo: sp.S.One, -sp.oo: sp.S.Zero}
    return at.get(hi, cdf(hi)) - at.get(lo, cdf(lo))


def expected_pinball_slope(level: sp.Expr = q) -> sp.Expr:
    """``d/dc E[rho_level(Y - c)]`` for a target ``Y`` of any distribution with CDF ``F``.

    ``E[rho_q(Y - c)] = ∫_{-oo}^c (1 - q)(c - y) dF(y) + ∫_c^oo q (y - c) dF(y)``; SymPy
    differentiates under the integral sign (Leibniz's rule), and each remaining ``∫ dF`` is a
    difference of ``F``. The result is ``F(c) - q``: zero where ``F(c) = q``, at the quantile.
    """
    density = sp.Derivative(cdf(y), y)
    risk = sp.Integral((1 - level) * (c - y) * density, (y, -sp.oo, c)) + sp.Integral(
        level * (y - c) * density, (y, c, sp.oo)
    )
    slope = sp.diff(risk, c).doit()
    return sp.expand(slope.replace(lambda ex: isinstance(ex, sp.Integral), _integral_of_density))


def bce_naive_and_exact(
    z: torch.Tensor, label: float, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Binary cross-entropy of logits ``z`` and one ``label``, value and gradient, computed naively
    (``F.binary_cross_entropy(torch.sigmoid(z), y)`` in ``dtype``) and exactly.

    The exact reference is float64 through identities that lose nothing to rounding:
    ``-log sigmoid(z) = softplus(-z)``, ``-log(1 - sigmoid(z)) = softplus(z)``, and the
    gradient ``sigmoid(z) - y`` written ``-sigmoid(-z)`` when ``y = 1``.

    Returns:
        naive value, naive gradient, exact value, exact gradient; float64, shape of ``z``.
    """
    if label not in (0.0, 1.0):
        raise ValueError(f"Expected a label of 0 or 1, got {label}")
    zz = z.detach().to(dtype).clone().requires_grad_(True)
    naive = F.binary_cross_entropy(torch.sigmoid(zz), torch.full_like(zz, label), reduction="none")
    (grad,) = torch.autograd.grad(naive.sum(), zz)
    z64 = z.detach().double()
    exact = F.softplus(-z64) if label == 1.0 else F.softplus(z64)
    exact_grad = -torch.sigmoid(-z64) if label == 1.0 else torch.sigmoid(z64)
    return naive.detach().double(), grad.double(), exact, exact_grad


def bce_break_point(
    label: float, dtype: torch.dtype, *, rtol: float = 0.01, z_max: float = 120.0, step: float = 0.01
) -> tuple[float, float]:
    """Where naive BCE first goes wrong, walking the logit away from the label (confidently
    wrong: ``z = -|z|`` for ``y = 1``, ``z = +|z|`` for ``y = 0``) in steps of ``step``.

    Returns:
        the smallest ``|z|`` at which the value, and the gradient, is off by more than ``rtol``
        (relative to the exact one); ``inf`` if it never is up to ``z_max``.
    """
    mags = torch.arange(0.0, z_max + step / 2, step, dtype=torch.float64)
    z = -mags if label == 1.0 else mags
    naive, grad, exact, exact_grad = bce_naive_and_exact(z, label, dtype)
    out = []
    for got, want in ((naive, exact), (grad, exact_grad)):
        bad = ((got - want).abs() > rtol * want.abs()) | ~torch.isfinite(got)
        out.append(float(mags[bad][0]) if bool(bad.any()) else float("inf"))
    return out[0], out[1]


def minimise_constant(
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    sample: torch.Tensor,
    *,
    steps: int = 400_001,
    chunk: int = 2_000,
) -> float:
    """The constant ``c`` in ``[min(sample), max(sample)]`` that minimises
    ``loss(c, sample)`` (the mean loss of predicting ``c`` for every point), by exhaustive search
    on a grid of ``steps`` values: no assumption about the answer, exact to the grid spacing.

    ``loss(c, sample)`` gets ``c`` of shape (K, 1) and ``sample`` of shape (1, N) and must return
    per-element losses of shape (K, N). Runs on ``sample``'s device.
    """
    if sample.ndim != 1 or sample.numel() == 0:
        raise ValueError(f"Expected a non-empty 1-D sample, got shape {tuple(sample.shape)}")
    grid = torch.linspace(float(sample.min()), float(sample.max()), steps, dtype=torch.float64, device=sample.device)
    smp = sample.to(torch.float64)[None, :]
    best_val, best_c = float("inf"), float("nan")
    for i in range(0, steps, chunk):
        cc = grid[i : i + chunk, None]
        vals = loss(cc, smp).mean(dim=1)
        k = int(torch.argmin(vals))
        if float(vals[k]) < best_val:
            best_val, best_c = float(vals[k]), float(cc[k, 0])
    return best_c
