"""Imbalanced X-ray findings with severities (the medical_loss exercise).

Deterministic for a given ``seed``; tensors on the CPU in float32 (move them with ``.to(device)``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["XRays", "imbalanced_xrays"]


@dataclass(frozen=True)
class XRays:
    """X-ray-like examples: image features, a normal / abnormal label and a severity.

    Attributes:
        X: features, shape (N, d), float32 (think of an image embedding).
        target: shape (N,), float32 in {0, 1}; 1 is abnormal.
        severity: shape (N,), float32: an integer 1 to 10 for abnormal cases, 0 for normal
            ones (where it means nothing).
    """

    X: torch.Tensor
    target: torch.Tensor
    severity: torch.Tensor

    def __len__(self) -> int:
        return self.target.shape[0]


def imbalanced_xrays(n: int = 4000, *, abnormal_rate: float = 0.05, n_features: int = 8, seed: int = 0) -> XRays:
    """Mostly normal X-rays, a few abnormal ones whose look depends on their severity.

    Normal cases have standard normal features, with a larger spread (3) along feature 1.
    An abnormal case of severity s (1 to 10, mild ones more frequent) is shifted by 3 in the
    direction that turns from feature 0 (s = 1) to feature 1 (s = 10), with the shift along
    feature 1 stretched 2.5 times. So mild and severe abnormal cases stand out along
    different directions, and a linear classifier fit to the bulk of the (mild) abnormal cases
    is not the one that catches the severe ones: what a severity-aware loss is for.
    """
    if n < 1:
        raise ValueError(f"Expected n >= 1, got {n}")
    if not 0.0 < abnormal_rate < 1.0:
        raise ValueError(f"Expected 0 < abnormal_rate < 1, got {abnormal_rate}")
    if n_features < 2:
        raise ValueError(f"Expected n_features >= 2, got {n_features}")
    g = torch.Generator().manual_seed(seed)
    target = (torch.rand(n, generator=g) < abnormal_rate).float()
    probs = torch.linspace(1.0, 0.3, 10)
    level = torch.multinomial(probs / probs.sum(), n, replacement=True, generator=g) + 1
    severity = torch.where(target == 1, level.float(), torch.zeros(n))
    X = torch.randn(n, n_features, generator=g)
    X[:, 1] *= 3.0
    theta = (severity - 1).clamp(min=0) / 9 * (math.pi / 2)
    shift = torch.stack([3.0 * torch.cos(theta), 7.5 * torch.sin(theta)], dim=1) * target[:, None]
    X[:, :2] += shift
    return XRays(X=X, target=target, severity=severity)
