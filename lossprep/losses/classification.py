"""Classification losses the chapters teach that torch does not ship.

One signature for the family: ``(logits, targets, *, ..., reduction="mean")``, as
``F.binary_cross_entropy_with_logits``: ``logits`` are raw scores (never probabilities),
``targets`` are binary labels in {0, 1} of the same shape. Each function follows its inputs'
device and dtype, is finite in value and gradient for every finite logit, and refuses an
unknown ``reduction``, mismatched shapes and out-of-range options with ``ValueError``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from lossprep.losses._common import REDUCTIONS, check_same_shape, reduce

__all__ = ["sigmoid_focal_loss", "hinge_loss"]


def _check_binary(logits: torch.Tensor, targets: torch.Tensor, reduction: str) -> torch.Tensor:
    """The targets as a boolean tensor, after the checks every loss of the family makes."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"Expected reduction in {REDUCTIONS}, got {reduction!r}")
    if not logits.is_floating_point():
        raise ValueError(f"Expected float logits, got {logits.dtype}")
    check_same_shape(logits, targets)
    if bool(((targets != 0) & (targets != 1)).any()):
        raise ValueError("Expected binary targets (0 or 1 in every entry), got another value")
    return targets.to(device=logits.device) == 1


def sigmoid_focal_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    gamma: float = 2.0,
    alpha: float | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """Focal loss on logits (Lin et al. 2017, "Focal Loss for Dense Object Detection").

    ``FL = -alpha_t (1 - p_t)**gamma log p_t``, where ``p_t = sigmoid(z)`` for a positive
    (``y = 1``) and ``1 - sigmoid(z)`` for a negative, and ``alpha_t`` is ``alpha`` for a positive
    and ``1 - alpha`` for a negative (1 for both when ``alpha`` is ``None``). ``gamma = 0`` with
    ``alpha=None`` is ``F.binary_cross_entropy_with_logits``; RetinaNet used ``gamma = 2``,
    ``alpha = 0.25``.

    Computed from the signed logit ``z_t`` (``z`` for a positive, ``-z`` for a negative):
    ``log p_t = -softplus(-z_t)`` and ``(1 - p_t)**gamma = exp(-gamma softplus(z_t))``. Both are
    finite, with finite gradients, for every finite logit and every ``gamma >= 0``; the textbook
    ``(1 - p_t) ** gamma`` has a NaN gradient once ``p_t`` rounds to 1 when ``0 < gamma < 1``.

    Shape:
        logits: ``(*)``, float. targets: ``(*)``, the same shape, values in {0, 1} (float, int or
        bool). Output: scalar, or ``(*)`` with ``reduction="none"``.
    """
    if not (math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"Expected gamma >= 0, got {gamma}")
    if alpha is not None and not 0.0 <= alpha <= 1.0:
        raise ValueError(f"Expected alpha in [0, 1] or None, got {alpha}")
    positive = _check_binary(logits, targets, reduction)
    z_t = torch.where(positive, logits, -logits)
    loss = torch.exp(-gamma * F.softplus(z_t)) * F.softplus(-z_t)
    if alpha is not None:
        loss = torch.where(positive, alpha * loss, (1.0 - alpha) * loss)
    return reduce(loss, reduction)


def hinge_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    *,
    margin: float = 1.0,
    reduction: str = "mean",
) -> torch.Tensor:
    """The hinge loss ``max(0, margin - y~ z)`` of a score ``z`` for the label ``y~ = 2y - 1``.

    The targets are given in {0, 1} like every loss of the family and read as -1 and +1. The
    loss is zero, and so is its gradient, once an example is on the right side with at least the
    margin; otherwise the gradient with respect to the score is ``-y~``. At the kink
    (``y~ z = margin``) it takes ``torch.clamp``'s choice, ``-y~`` (``F.relu`` would give 0 and
    ``torch.maximum`` half of ``-y~``); any value between is a subgradient. The scores are not
    probabilities.

    Shape:
        logits: ``(*)``, float. targets: ``(*)``, the same shape, values in {0, 1} (float, int or
        bool). Output: scalar, or ``(*)`` with ``reduction="none"``.
    """
    if not (math.isfinite(margin) and margin > 0):
        raise ValueError(f"Expected margin > 0, got {margin}")
    positive = _check_binary(logits, targets, reduction)
    signed = torch.where(positive, logits, -logits)
    return reduce(torch.clamp(margin - signed, min=0.0), reduction)
