"""Two overlapping clouds of points in the plane, one per class (the chapter "Classification
losses": hinge versus logistic loss, MSE versus cross-entropy).

Deterministic for a given ``seed``; tensors on the CPU in float32 (move them with ``.to(device)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["Clouds", "two_clouds"]


@dataclass(frozen=True)
class Clouds:
    """Points in the plane with a binary label.

    Attributes:
        X: shape (N, 2), float32.
        y: shape (N,), float32 in {0, 1}.
    """

    X: torch.Tensor
    y: torch.Tensor

    def __len__(self) -> int:
        return self.y.shape[0]


def two_clouds(n: int = 400, *, separation: float = 2.5, seed: int = 0) -> Clouds:
    """Half the points of each class, drawn from two elongated, overlapping Gaussian clouds.

    The class means are ``separation`` apart along the diagonal (the positive class up and to
    the right); each cloud has standard deviation 1 along the diagonal and 2.5 across it, so
    the best boundary is the anti-diagonal and the classes overlap near it. Rows are shuffled.
    """
    if n < 2:
        raise ValueError(f"Expected n >= 2, got {n}")
    if not (math.isfinite(separation) and separation > 0):
        raise ValueError(f"Expected separation > 0, got {separation}")
    g = torch.Generator().manual_seed(seed)
    y = (torch.arange(n) < n // 2).float()[torch.randperm(n, generator=g)]
    along = torch.tensor([1.0, 1.0]) / math.sqrt(2.0)
    across = torch.tensor([1.0, -1.0]) / math.sqrt(2.0)
    u = (y - 0.5) * separation + torch.randn(n, generator=g)
    v = 2.5 * torch.randn(n, generator=g)
    X = u[:, None] * along + v[:, None] * across
    return Clouds(X=X, y=y)
