"""Multi-label tagged examples (the multilabel_fix exercise).

Deterministic for a given ``seed``; tensors on the CPU in float32 (move them with ``.to(device)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["TaggedExamples", "multilabel_tags"]


@dataclass(frozen=True)
class TaggedExamples:
    """Examples with a few true tags out of ``C``.

    Attributes:
        X: features, shape (N, d), float32.
        Y: shape (N, C), float32 in {0, 1}: the true tags.
    """

    X: torch.Tensor
    Y: torch.Tensor

    def __len__(self) -> int:
        return self.Y.shape[0]


# The tags' feature directions are part of the task, not of a sample: fixed across seeds, so
# a tagger trained on one seed can be evaluated on another.
_TAGS_TASK_SEED = 1234


def multilabel_tags(n: int = 2000, *, n_features: int = 32, n_labels: int = 20, seed: int = 0) -> TaggedExamples:
    """Tagged examples: most have 3 to 5 true tags out of ``n_labels``.

    Each example draws its number of tags (3, 4 or 5 for about 90% of them, else 2 or 6), then
    which tags, some tags more popular than others. Its features are the sum of its tags'
    directions (one random vector of length 2 per tag) plus standard Gaussian noise: a linear
    model can read the tags back, though not perfectly.
    """
    if n < 1:
        raise ValueError(f"Expected n >= 1, got {n}")
    if n_labels < 6:
        raise ValueError(f"Expected n_labels >= 6, got {n_labels}")
    if n_features < 1:
        raise ValueError(f"Expected n_features >= 1, got {n_features}")
    g = torch.Generator().manual_seed(seed)
    counts = torch.tensor([2, 3, 4, 5, 6])
    count_probs = torch.tensor([0.05, 0.30, 0.35, 0.25, 0.05])
    k = counts[torch.multinomial(count_probs, n, replacement=True, generator=g)]
    popularity = torch.linspace(2.0, 0.5, n_labels)
    # k distinct tags per example, by popularity: Gumbel top-k, then keep the first k
    keys = torch.log(popularity) - torch.log(-torch.log(torch.rand(n, n_labels, generator=g)))
    order = torch.argsort(keys, dim=1, descending=True)
    Y = torch.zeros(n, n_labels)
    Y.scatter_(1, order, (torch.arange(n_labels) < k[:, None]).float())
    task = torch.Generator().manual_seed(_TAGS_TASK_SEED)  # the same tag directions for every seed
    directions = torch.randn(n_labels, n_features, generator=task)
    directions = 2.0 * directions / directions.norm(dim=1, keepdim=True)
    X = Y @ directions + torch.randn(n, n_features, generator=g)
    return TaggedExamples(X=X, Y=Y)
