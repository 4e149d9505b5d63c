"""Rare positive events from a known logistic model (the chapter "Class imbalance").

Deterministic for a given ``seed``; tensors on the CPU in float32 (move them with ``.to(device)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["RareEvents", "rare_events"]


@dataclass(frozen=True)
class RareEvents:
    """Examples with a rare positive class and the true probability of each.

    Attributes:
        X: features, shape (N, d), float32.
        y: shape (N,), float32 in {0, 1}; 1 is the rare positive class.
        logit: shape (N,), float32: the true log-odds ``log(eta / (1 - eta))`` of each
            example, ``eta = P(y = 1 | x)``. A model that predicts it is the best any can be.
    """

    X: torch.Tensor
    y: torch.Tensor
    logit: torch.Tensor

    def __len__(self) -> int:
        return self.y.shape[0]


# The task (the direction of the true weights) is fixed across seeds, so a model trained on
# one seed can be evaluated on another.
_TASK_SEED = 2024


def _intercept(scale: float, rate: float) -> float:
    """The intercept ``b`` with ``E[sigmoid(b + scale * u)] = rate`` for ``u ~ N(0, 1)``
    (Gauss-Hermite quadrature, then bisection: the mean is increasing in ``b``)."""
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    weights = weights / weights.sum()

    def mean_rate(b: float) -> float:
        return float(np.sum(weights / (1.0 + np.exp(-(b + scale * nodes)))))

    lo, hi = -60.0, 60.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if mean_rate(mid) < rate else (lo, mid)
    return 0.5 * (lo + hi)


def rare_events(
    n: int = 20_000, *, positive_rate: float = 0.01, n_features: int = 8, separation: float = 3.0, seed: int = 0
) -> RareEvents:
    """Examples whose label follows a logistic model with a rare positive class.

    Features are standard normal. The true log-odds are ``b + a . x`` with ``|a| = separation``
    (a fixed direction) and ``b`` chosen so that a fraction ``positive_rate`` of examples is
    positive on average; the label is drawn from ``sigmoid(b + a . x)``. So a linear logistic
    model is well specified here: its best fit is the truth, whatever the imbalance.
    """
    if n < 1:
        raise ValueError(f"Expected n >= 1, got {n}")
    if not 0.0 < positive_rate < 0.5:
        raise ValueError(f"Expected 0 < positive_rate < 0.5 (a rare positive class), got {positive_rate}")
    if n_features < 1:
        raise ValueError(f"Expected n_features >= 1, got {n_features}")
    if not (math.isfinite(separation) and separation > 0):
        raise ValueError(f"Expected separation > 0, got {separation}")
    task = torch.Generator().manual_seed(_TASK_SEED)
    a = torch.randn(n_features, generator=task, dtype=torch.float64)
    a = separation * a / a.norm()
    b = _intercept(separation, positive_rate)
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, n_features, generator=g, dtype=torch.float64)
    logit = b + X @ a
    y = (torch.rand(n, generator=g, dtype=torch.float64) < torch.sigmoid(logit)).to(torch.float64)
    return RareEvents(X=X.float(), y=y.float(), logit=logit.float())
