"""Seeded synthetic data sets for the demos and exercises.

Each generator is deterministic for a given ``seed`` and returns tensors on the CPU in
float32 (move them with ``.to(device)``), so a chapter shows the same numbers on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import math

import torch

__all__ = ["HousePrices", "house_prices", "XRays", "imbalanced_xrays", "TaggedExamples", "multilabel_tags", "RankingQueries", "ranking_queries"]


@dataclass(frozen=True)
class HousePrices:
    """Houses with a few features and a price in dollars.

    Attributes:
        X: features, shape (N, 4): living area (m^2), bedrooms, age (years), distance to the
            city centre (km).
        price: shape (N,), dollars.
        luxury: shape (N,) bool, True for the luxury houses (the price outliers).
        feature_names: names of the columns of ``X``.
    """

    X: torch.Tensor
    price: torch.Tensor
    luxury: torch.Tensor
    feature_names: tuple[str, ...] = ("area_m2", "bedrooms", "age_years", "distance_km")

    def __len__(self) -> int:
        return self.price.shape[0]


def house_prices(n_regular: int = 10_000, n_luxury: int = 50, *, seed: int = 0) -> HousePrices:
    """Regular houses priced 100K to 500K and luxury houses priced 2M to 10M.

    Regular prices follow a linear function of the features plus Gaussian noise, clipped to
    [100K, 500K]. Luxury houses have features drawn from the same distribution (what makes them
    expensive, such as a view or a famous architect, is not in the data), and a price drawn
    log-uniformly in [2M, 10M]: for a model they are outliers, not a pattern to learn.
    Rows are shuffled.
    """
    if n_regular < 1 or n_luxury < 0:
        raise ValueError(f"Expected n_regular >= 1 and n_luxury >= 0, got {n_regular} and {n_luxury}")
    g = torch.Generator().manual_seed(seed)
    n = n_regular + n_luxury
    area = 50 + 150 * torch.rand(n, generator=g, dtype=torch.float64)
    bedrooms = torch.clamp(torch.round(area / 40 + torch.randn(n, generator=g, dtype=torch.float64) * 0.7), 1, 6)
    age = 60 * torch.rand(n, generator=g, dtype=torch.float64)
    distance = 1 + 29 * torch.rand(n, generator=g, dtype=torch.float64)
    base = 100_000 + 1_600 * area + 8_000 * bedrooms - 500 * age - 2_000 * distance
    noise = 25_000 * torch.randn(n, generator=g, dtype=torch.float64)
    price = torch.clamp(base + noise, 100_000, 500_000)
    log_lux = torch.empty(n_luxury, dtype=torch.float64).uniform_(
        torch.log(torch.tensor(2e6)).item(), torch.log(torch.tensor(1e7)).item(), generator=g
    )
    luxury = torch.zeros(n, dtype=torch.bool)
    luxury[n_regular:] = True
    price[n_regular:] = torch.exp(log_lux)
    perm = torch.randperm(n, generator=g)
    X = torch.stack([area, bedrooms, age, distance], dim=1)[perm]
    return HousePrices(X=X.float(), price=price[perm].float(), luxury=luxury[perm])


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
