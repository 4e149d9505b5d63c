"""Scenes with several objects each (the chapter "Classification losses": multi-label versus
multi-class).

Deterministic for a given ``seed``; tensors on the CPU in float32 (move them with ``.to(device)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Scenes", "scene_objects"]


@dataclass(frozen=True)
class Scenes:
    """Examples with any number (at least one) of ``C`` labels.

    Attributes:
        X: features, shape (N, d), float32.
        Y: shape (N, C), float32 in {0, 1}: which objects are in the scene.
    """

    X: torch.Tensor
    Y: torch.Tensor

    def __len__(self) -> int:
        return self.Y.shape[0]


# The objects' prevalences and feature directions are the task, fixed across seeds.
_TASK_SEED = 77


def scene_objects(n: int = 3000, *, n_labels: int = 8, n_features: int = 16, seed: int = 0) -> Scenes:
    """Scenes in which each object is present independently of the others.

    Object ``c`` is present with a probability that falls from 0.6 to 0.15 over the labels
    (about 3 objects per scene with 8 labels); a scene with none is drawn again. Its features
    are the sum of its objects' directions (random vectors of length 2.5) plus standard Gaussian
    noise, so a linear model can read each object back, though not perfectly.
    """
    if n < 1:
        raise ValueError(f"Expected n >= 1, got {n}")
    if n_labels < 2:
        raise ValueError(f"Expected n_labels >= 2, got {n_labels}")
    if n_features < 1:
        raise ValueError(f"Expected n_features >= 1, got {n_features}")
    task = torch.Generator().manual_seed(_TASK_SEED)
    directions = torch.randn(n_labels, n_features, generator=task)
    directions = 2.5 * directions / directions.norm(dim=1, keepdim=True)
    prevalence = torch.linspace(0.6, 0.15, n_labels)
    g = torch.Generator().manual_seed(seed)
    Y = (torch.rand(n, n_labels, generator=g) < prevalence).float()
    empty = Y.sum(dim=1) == 0
    while bool(empty.any()):
        Y[empty] = (torch.rand(int(empty.sum()), n_labels, generator=g) < prevalence).float()
        empty = Y.sum(dim=1) == 0
    X = Y @ directions + torch.randn(n, n_features, generator=g)
    return Scenes(X=X, Y=Y)
