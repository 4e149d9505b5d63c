"""Negative log-likelihoods of the noise models behind the common losses, in SymPy.

The chapter "Losses are likelihoods" and its tests import these, so the page and the tests
check the same expressions. Symbols follow the book's glossary: ``y`` target, ``y_hat``
prediction, ``z`` logit, ``p`` probability.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sympy as sp
import torch

from lossprep.formulas import pinball_expr
from lossprep.symbols import b, p, q, sigma, y, y_hat, z

__all__ = [
    "y",
    "y_hat",
    "z",
    "p",
    "sigma",
    "b",
    "q",
    "gaussian_nll",
    "laplace_nll",
    "bernoulli_nll",
    "categorical_nll",
    "asymmetric_laplace_nll",
    "check_loss",
    "pinball_expr",
    "NoiseModel",
    "noise_models",
    "minimise_constant",
]


def _nll(density: sp.Expr) -> sp.Expr:
    return sp.expand_log(-sp.log(density), force=True)


def gaussian_nll() -> sp.Expr:
    """-log N(y; y_hat, sigma^2)."""
    return _nll(sp.exp(-((y - y_hat) ** 2) / (2 * sigma**2)) / sp.sqrt(2 * sp.pi * sigma**2))


def laplace_nll() -> sp.Expr:
    """-log Laplace(y; y_hat, b)."""
    return _nll(sp.exp(-sp.Abs(y - y_hat) / b) / (2 * b))


def bernoulli_nll() -> sp.Expr:
    """-log Bernoulli(y; p) for y in {0, 1}: p^y (1 - p)^(1 - y)."""
    return _nll(p**y * (1 - p) ** (1 - y))


def categorical_nll(C: int = 3, target: int = 0) -> tuple[sp.Expr, tuple[sp.Symbol, ...]]:
    """-log softmax(z)_target for ``C`` logits; returns the expression and the logits."""
    if not 0 <= target < C:
        raise ValueError(f"Expected 0 <= target < C, got target={target}, C={C}")
    zs = sp.symbols(f"z_1:{C + 1}", real=True)
    softmax_t = sp.exp(zs[target]) / sum(sp.exp(zk) for zk in zs)
    return _nll(softmax_t), zs


def asymmetric_laplace_nll() -> sp.Expr:
    """-log ALD(y; y_hat, sigma, q) with density q (1 - q) / sigma * exp(-rho_q((y - y_hat) / sigma))."""
    return sp.log(sigma) - sp.log(q * (1 - q)) + pinball_expr((y - y_hat) / sigma)


@dataclass(frozen=True)
class NoiseModel:
    """A noise model, its negative log-likelihood, and the loss it reduces to."""

    name: str
    nll: sp.Expr
    loss: sp.Expr
    loss_name: str


def noise_models() -> list[NoiseModel]:
    """The three regression noise models and the losses they give, with ``e = y - y_hat``."""
    e = y - y_hat
    return [
        NoiseModel("Gaussian", gaussian_nll(), e**2, "squared error"),
        NoiseModel("Laplace", laplace_nll(), sp.Abs(e), "absolute error"),
        NoiseModel("asymmetric Laplace", asymmetric_laplace_nll(), pinball_expr(e), "pinball loss"),
    ]


def check_loss(model: NoiseModel) -> dict[sp.Rel, sp.Expr]:
    """``d NLL / d y_hat`` divided by ``d loss / d y_hat``, on each side of the kink
    (keys ``e > 0`` and ``e < 0``, SymPy relations in the error ``e = y - y_hat``).

    When both sides give the same positive constant (free of ``y`` and ``y_hat``), the NLL is
    the loss up to a positive scale and an additive constant, so both have the same minimiser.
    Sides are taken separately because |e| and the pinball loss have a kink at ``e = 0``.
    """
    t = sp.Symbol("t", positive=True)
    e_sym = sp.Symbol("e", real=True)
    d_nll, d_loss = sp.diff(model.nll, y_hat), sp.diff(model.loss, y_hat)
    out = {}
    for side, e in ((e_sym > 0, t), (e_sym < 0, -t)):
        sub = {y_hat: y - e}
        out[side] = sp.simplify(d_nll.subs(sub) / d_loss.subs(sub))
    return out


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
    s = sample.to(torch.float64)[None, :]
    best_val, best_c = float("inf"), float("nan")
    for i in range(0, steps, chunk):
        c = grid[i : i + chunk, None]
        vals = loss(c, s).mean(dim=1)
        k = int(torch.argmin(vals))
        if float(vals[k]) < best_val:
            best_val, best_c = float(vals[k]), float(c[k, 0])
    return best_c
