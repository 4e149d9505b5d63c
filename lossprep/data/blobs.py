"""Overlapping Gaussian blobs, one per class (the chapter "Classification losses": an
overconfident network, label smoothing and temperature scaling).

Deterministic for a given ``seed``; tensors on the CPU in float32 (move them with ``.to(device)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Blobs", "overlapping_blobs"]


@dataclass(frozen=True)
class Blobs:
    """Points in the plane with a class index.

    Attributes:
        X: shape (N, 2), float32.
        y: shape (N,), int64 class indices 0 to C - 1.
        n_classes: C.
    """

    X: torch.Tensor
    y: torch.Tensor
    n_classes: int

    def __len__(self) -> int:
        return self.y.shape[0]


def overlapping_blobs(n: int = 600, *, n_classes: int = 5, spread: float = 1.0, seed: int = 0) -> Blobs:
    """``n`` points, each class equally likely, drawn from a Gaussian with standard deviation
    ``spread`` around its class's centre; the centres sit on a circle of radius 2, so
    neighbouring classes overlap and no classifier can be right everywhere. The centres do not
    depend on ``seed``: every seed draws from the same task."""
    if n < 1:
        raise ValueError(f"Expected n >= 1, got {n}")
    if n_classes < 2:
        raise ValueError(f"Expected n_classes >= 2, got {n_classes}")
    if not (math.isfinite(spread) and spread > 0):
        raise ValueError(f"Expected spread > 0, got {spread}")
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, n_classes, (n,), generator=g)
    angle = 2 * math.pi * torch.arange(n_classes) / n_classes
    centres = 2.0 * torch.stack([torch.cos(angle), torch.sin(angle)], dim=1)
    X = centres[y] + spread * torch.randn(n, 2, generator=g)
    return Blobs(X=X, y=y, n_classes=n_classes)
