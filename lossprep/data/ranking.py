"""Queries with graded documents (the ranking_loss exercise).

Deterministic for a given ``seed``; tensors on the CPU in float32 (move them with ``.to(device)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["RankingQueries", "ranking_queries"]


@dataclass(frozen=True)
class RankingQueries:
    """Search queries, each with up to ``D`` candidate documents.

    Attributes:
        X: document features, shape (Q, D, d), float32; 0 on padded slots.
        relevance: shape (Q, D), float32 grades 0 (irrelevant) to 3 (perfect); 0 on padding.
        mask: shape (Q, D) bool, True for a real document, False for a padded slot.
        feature_names: names of the last dimension of ``X``.
    """

    X: torch.Tensor
    relevance: torch.Tensor
    mask: torch.Tensor
    feature_names: tuple[str, ...] = ("text_match", "freshness", "authority", "clicks", "query_popularity", "length")

    def __len__(self) -> int:
        return self.relevance.shape[0]


def ranking_queries(n_queries: int = 200, max_docs: int = 20, *, min_docs: int = 5, seed: int = 0) -> RankingQueries:
    """Queries with a variable number of documents, graded 0 to 3 from their features.

    A document's latent relevance is a fixed linear function of its first four features plus
    noise, plus a per-query shift: some queries (the popular ones) have more relevant
    documents. That shift shows in feature ``query_popularity``, blurred by per-document noise,
    so the feature helps to predict a grade across queries but says nothing about the order of
    the documents within one query. Grades cut the latent relevance at fixed levels (about
    half the documents are irrelevant, one in ten is perfect). Queries have ``min_docs`` to
    ``max_docs`` documents; the remaining slots are padding.
    """
    if n_queries < 1:
        raise ValueError(f"Expected n_queries >= 1, got {n_queries}")
    if not 1 <= min_docs <= max_docs:
        raise ValueError(f"Expected 1 <= min_docs <= max_docs, got {min_docs} and {max_docs}")
    g = torch.Generator().manual_seed(seed)
    Q, D = n_queries, max_docs
    n_docs = torch.randint(min_docs, max_docs + 1, (Q,), generator=g)
    mask = torch.arange(D) < n_docs[:, None]
    docs = torch.randn(Q, D, 4, generator=g)
    popularity = torch.randn(Q, 1, generator=g)
    popularity_feature = popularity + torch.randn(Q, D, generator=g)
    length = torch.randn(Q, D, generator=g)
    w = torch.tensor([1.0, 0.6, 0.4, 0.3])
    latent = docs @ w + 1.2 * popularity + 0.5 * torch.randn(Q, D, generator=g)
    relevance = torch.bucketize(latent, torch.tensor([0.3, 1.4, 2.3])).float()
    X = torch.cat([docs, popularity_feature[..., None], length[..., None]], dim=-1)
    X = torch.where(mask[..., None], X, torch.zeros(()))
    relevance = torch.where(mask, relevance, torch.zeros(()))
    return RankingQueries(X=X, relevance=relevance, mask=mask)
