"""Reference for the ``medical_loss`` assignment: a severity-weighted BCE for X-ray triage.

Missing an abnormal case costs ``fn_cost`` times a false alarm, more so the more severe it is:
positives get weight ``fn_cost * (1 + alpha * severity / 10)``, negatives weight 1.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["medical_weights", "medical_loss", "medical_loss_grad", "calibrated_probability"]


def _check_inputs(
    logits: torch.Tensor, targets: torch.Tensor, severity: torch.Tensor, fn_cost: float, alpha: float
) -> None:
    for name, t in (("logits", logits), ("targets", targets), ("severity", severity)):
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"Expected {name} to be a torch.Tensor, got {type(t).__name__}")
    if logits.dim() != 1 or logits.shape[0] == 0:
        raise ValueError(f"Expected logits of shape (N,) with N >= 1, got {tuple(logits.shape)}")
    if targets.shape != logits.shape or severity.shape != logits.shape:
        raise ValueError(
            f"Expected targets and severity of shape {tuple(logits.shape)}, got {tuple(targets.shape)} and {tuple(severity.shape)}"
        )
    if not (logits.is_floating_point() and targets.dtype == logits.dtype and severity.dtype == logits.dtype):
        raise ValueError(
            f"Expected logits, targets and severity in one float dtype, got {logits.dtype}, {targets.dtype}, {severity.dtype}"
        )
    if not bool(((targets == 0) | (targets == 1)).all()):
        raise ValueError("Expected targets in {0, 1}, got other values")
    if not bool(torch.isfinite(severity).all()):
        raise ValueError("Expected finite severity everywhere (any value where targets == 0, never nan)")
    pos = targets == 1
    if bool(pos.any()) and not bool(((severity[pos] >= 1) & (severity[pos] <= 10)).all()):
        raise ValueError("Expected severity in [1, 10] where targets == 1, got values outside")
    if not (math.isfinite(fn_cost) and fn_cost > 0):
        raise ValueError(f"Expected fn_cost > 0, got {fn_cost}")
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"Expected alpha >= 0, got {alpha}")


def medical_weights(
    targets: torch.Tensor, severity: torch.Tensor, fn_cost: float = 20.0, alpha: float = 1.0
) -> torch.Tensor:
    """Per-example weights: ``fn_cost * (1 + alpha * severity / 10)`` where targets is 1, else 1.

    Shape:
        targets, severity: ``(N,)``. Output: ``(N,)``.
    """
    positive = fn_cost * (1.0 + alpha * severity / 10.0)
    return torch.where(targets == 1, positive, torch.ones_like(positive))


def medical_loss(
    logits: torch.Tensor, targets: torch.Tensor, severity: torch.Tensor, fn_cost: float = 20.0, alpha: float = 1.0
) -> torch.Tensor:
    """``(1/N) * sum_i w_i * BCE(sigmoid(z_i), y_i)``, from logits (finite for any finite logit).

    Shape:
        logits, targets, severity: ``(N,)``. Output: scalar.
    """
    _check_inputs(logits, targets, severity, fn_cost, alpha)
    bce = F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), reduction="none")
    return (medical_weights(targets, severity, fn_cost, alpha).to(logits.dtype) * bce).mean()


def medical_loss_grad(
    logits: torch.Tensor, targets: torch.Tensor, severity: torch.Tensor, fn_cost: float = 20.0, alpha: float = 1.0
) -> torch.Tensor:
    """The gradient of :func:`medical_loss` with respect to the logits: ``w_i (sigmoid(z_i) - y_i) / N``.

    Shape:
        logits, targets, severity: ``(N,)``. Output: ``(N,)``.
    """
    _check_inputs(logits, targets, severity, fn_cost, alpha)
    w = medical_weights(targets, severity, fn_cost, alpha).to(logits.dtype)
    return w * (torch.sigmoid(logits.detach()) - targets.to(logits.dtype)) / logits.shape[0]


def calibrated_probability(logits: torch.Tensor, pos_weight: float | torch.Tensor) -> torch.Tensor:
    """Undo the prior shift of a model trained with weight ``pos_weight`` on positives.

    Weighting positives by ``w`` multiplies the odds the model learns by ``w``, so the logit
    is shifted by ``log w``: the calibrated probability is ``sigmoid(z - log w)``.

    Shape:
        logits: ``(N,)``; pos_weight: a positive number or a scalar tensor. Output: ``(N,)``.
    """
    if not isinstance(logits, torch.Tensor) or logits.dim() != 1:
        raise ValueError(f"Expected logits of shape (N,), got {getattr(logits, 'shape', type(logits).__name__)}")
    w = torch.as_tensor(pos_weight, dtype=logits.dtype, device=logits.device)
    if w.numel() != 1 or not bool(w > 0):
        raise ValueError(f"Expected a positive pos_weight, got {pos_weight}")
    return torch.sigmoid(logits - torch.log(w))
