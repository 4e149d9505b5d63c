"""What every loss family shares: the reductions and the shape checks at the boundary."""

from __future__ import annotations

import torch

__all__ = ["REDUCTIONS", "reduce", "check_same_shape"]

REDUCTIONS = ("none", "mean", "sum")


def reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    """Apply ``reduction`` (``"none"``, ``"mean"`` or ``"sum"``) to per-element losses."""
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"Expected reduction in {REDUCTIONS}, got {reduction!r}")


def check_same_shape(input: torch.Tensor, target: torch.Tensor) -> None:
    if input.shape != target.shape:
        raise ValueError(
            f"Expected input and target of the same shape, got {tuple(input.shape)} and {tuple(target.shape)}"
        )
