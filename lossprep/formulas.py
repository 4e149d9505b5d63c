"""SymPy forms of the standard losses, in the glossary's symbols, shared by the chapters.

Each function returns the per-example loss as ``torch.nn.functional`` computes it (no hidden
factor 1/2 unless PyTorch has one), so a chapter can differentiate it and check it against
autograd. Chapters import these instead of restating a formula.

Example::

    >>> from lossprep.formulas import huber_expr
    >>> from lossprep.symbols import e, delta
    >>> huber_expr().subs({e: 3, delta: 1})
    5/2
"""

from __future__ import annotations

from collections.abc import Sequence

import sympy as sp

from lossprep import symbols as sym
from lossprep.symbols import beta, delta, e, q, y, y_hat

__all__ = [
    "mse_expr",
    "mae_expr",
    "huber_expr",
    "smooth_l1_expr",
    "log_cosh_expr",
    "pinball_expr",
    "pinball_abs_expr",
    "in_prediction",
]


def mse_expr(err: sp.Expr = e) -> sp.Expr:
    """Squared error ``e**2``, as ``F.mse_loss`` computes it (no factor 1/2)."""
    return err**2


def mae_expr(err: sp.Expr = e) -> sp.Expr:
    """Absolute error ``|e|``, as ``F.l1_loss``."""
    return sp.Abs(err)


def huber_expr(err: sp.Expr = e, threshold: sp.Expr = delta) -> sp.Expr:
    """Huber: ``e**2 / 2`` for ``|e| <= delta``, ``delta * (|e| - delta / 2)`` beyond, as ``F.huber_loss``."""
    return sp.Piecewise((err**2 / 2, sp.Abs(err) <= threshold), (threshold * (sp.Abs(err) - threshold / 2), True))


def smooth_l1_expr(err: sp.Expr = e, threshold: sp.Expr = beta) -> sp.Expr:
    """Smooth L1: ``e**2 / (2 beta)`` for ``|e| <= beta``, ``|e| - beta / 2`` beyond, as ``F.smooth_l1_loss``.

    PyTorch writes the condition ``|e| < beta``; at ``|e| = beta`` both branches give ``beta / 2``.
    """
    return sp.Piecewise((err**2 / (2 * threshold), sp.Abs(err) <= threshold), (sp.Abs(err) - threshold / 2, True))


def log_cosh_expr(err: sp.Expr = e) -> sp.Expr:
    """``log(cosh(e))``: about ``e**2 / 2`` near 0 and ``|e| - log 2`` far from it."""
    return sp.log(sp.cosh(err))


def in_prediction(expr: sp.Expr) -> sp.Expr:
    """The loss written with ``e = y - y_hat``, ready to be differentiated with respect to ``y_hat``."""
    return expr.subs(e, y - y_hat)


def pinball_expr(err: sp.Expr = e, level: sp.Expr = q) -> sp.Expr:
    """rho_q(e) = e * (q - 1[e < 0]): q*e for e >= 0, (q - 1)*e for e < 0."""
    return sp.Piecewise(((level - 1) * err, err < 0), (level * err, True))


def pinball_abs_expr(err: sp.Expr = e, level: sp.Expr = q) -> sp.Expr:
    """The pinball loss as half the absolute error plus a linear tilt: ``|e| / 2 + (q - 1/2) e``.

    Equal to :func:`pinball_expr` on both sides of the kink; written with ``|e|``, SymPy's second
    derivative keeps the kink as a Dirac term (``Dirac(e)``, as for ``|e|``) instead of 0.
    """
    return sp.Abs(err) / 2 + (level - sp.Rational(1, 2)) * err


# --- classification (chapters "Classification losses" and "Class imbalance") ---------------------

__all__ += [
    "sigmoid_expr",
    "bce_expr",
    "weighted_bce_expr",
    "softmax_exprs",
    "cross_entropy_expr",
    "focal_expr",
    "hinge_expr",
]


def sigmoid_expr(logit: sp.Expr = sym.z) -> sp.Expr:
    """The sigmoid ``1 / (1 + exp(-z))``, as ``torch.sigmoid``."""
    return 1 / (1 + sp.exp(-logit))


def bce_expr(prob: sp.Expr = sym.p, target: sp.Expr = sym.y) -> sp.Expr:
    """Binary cross-entropy ``-y log p - (1 - y) log(1 - p)``, as ``F.binary_cross_entropy``."""
    return -target * sp.log(prob) - (1 - target) * sp.log(1 - prob)


def weighted_bce_expr(logit: sp.Expr = sym.z, target: sp.Expr = sym.y, weight: sp.Expr = sym.w) -> sp.Expr:
    """BCE on a logit with the positive term weighted by ``w``, as
    ``F.binary_cross_entropy_with_logits(..., pos_weight=w)``; ``w = 1`` is plain BCE."""
    prob = sigmoid_expr(logit)
    return -weight * target * sp.log(prob) - (1 - target) * sp.log(1 - prob)


def softmax_exprs(logits: Sequence[sp.Expr]) -> list[sp.Expr]:
    """``softmax(z)_k = exp(z_k) / sum_j exp(z_j)`` for each of the logits."""
    total = sum(sp.exp(zj) for zj in logits)
    return [sp.exp(zk) / total for zk in logits]


def cross_entropy_expr(logits: Sequence[sp.Expr], target: int) -> sp.Expr:
    """``-log softmax(z)_t``, written as log-sum-exp minus the true logit, as ``F.cross_entropy``
    with the 0-based class index ``target``."""
    if not 0 <= target < len(logits):
        raise ValueError(f"Expected 0 <= target < {len(logits)}, got {target}")
    return sp.log(sum(sp.exp(zj) for zj in logits)) - logits[target]


def focal_expr(prob_true: sp.Expr = sym.p_t, focus: sp.Expr = sym.gamma) -> sp.Expr:
    """Focal loss ``-(1 - p_t)**gamma log p_t`` (Lin et al. 2017) of the true class's probability."""
    return -((1 - prob_true) ** focus) * sp.log(prob_true)


def hinge_expr(score: sp.Expr = sym.z, label: sp.Expr = sym.y_pm, margin: sp.Expr = sym.m) -> sp.Expr:
    """The hinge loss ``max(0, m - y~ z)`` with the label ``y~`` in {-1, +1}."""
    return sp.Max(0, margin - label * score)
