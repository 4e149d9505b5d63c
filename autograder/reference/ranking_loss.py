"""Reference for the ``ranking_loss`` assignment: search ranking beyond MSE.

Every function takes ``scores`` and ``relevance`` of shape ``(Q, D)`` (Q queries, D document
slots) and an optional ``mask`` ``(Q, D)`` bool, True for a real document (``None``: all
real). Padded slots may hold any finite values: they are replaced before any arithmetic, so
they change neither a value nor a gradient. A pair is ``(i, j)`` in the same query, both real,
with ``relevance_i > relevance_j``; each unordered pair of different grades counts once.
Ranks are 1-based by descending score among the real documents, ties broken by the lower
document index first.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = [
    "ndcg_at_k",
    "pairwise_hinge_loss",
    "ranknet_loss",
    "lambdarank_loss",
    "mse_loss",
    "ranks",
]


def _check(scores: object, relevance: object, mask: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Validate the inputs; return (scores with padded slots 0, relevance as scores' dtype
    with padded slots 0, mask as bool on scores' device)."""
    if not isinstance(scores, torch.Tensor):
        raise ValueError(f"Expected scores to be a torch.Tensor, got {type(scores).__name__}")
    if scores.dim() != 2 or scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(f"Expected scores of shape (Q, D) with Q, D >= 1, got {tuple(scores.shape)}")
    if not scores.is_floating_point():
        raise ValueError(f"Expected scores to be a float tensor, got {scores.dtype}")
    if not isinstance(relevance, torch.Tensor):
        raise ValueError(f"Expected relevance to be a torch.Tensor, got {type(relevance).__name__}")
    if relevance.shape != scores.shape:
        raise ValueError(f"Expected relevance of shape {tuple(scores.shape)}, got {tuple(relevance.shape)}")
    if mask is None:
        m = torch.ones(scores.shape, dtype=torch.bool, device=scores.device)
    else:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            what = mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__
            raise ValueError(f"Expected mask to be a bool tensor or None, got {what}")
        if mask.shape != scores.shape:
            raise ValueError(f"Expected mask of shape {tuple(scores.shape)}, got {tuple(mask.shape)}")
        m = mask.to(scores.device)
    rel = relevance.to(scores.device)
    real_rel = rel[m].to(torch.float64)
    if not bool((torch.isfinite(real_rel) & (real_rel >= 0) & (real_rel == real_rel.round())).all()):
        raise ValueError("Expected relevance grades 0, 1, 2, ... on real documents, got other values")
    if not bool(torch.isfinite(scores.detach()[m]).all()):
        raise ValueError("Expected finite scores on real documents, got nan or inf")
    zero = torch.zeros((), dtype=scores.dtype, device=scores.device)
    s = torch.where(m, scores, zero)
    r = torch.where(m, rel.to(scores.dtype), zero)
    return s, r, m


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"Expected k to be an integer >= 1, got {k!r}")
    return k


def _check_positive(name: str, value: object, *, allow_zero: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"Expected {name} to be a finite number, got {value!r}")
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"Expected {name} {'>= 0' if allow_zero else '> 0'}, got {value}")
    return float(value)


def ranks(scores: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """1-based rank of every document by descending score, ties by lower index; padded slots
    come after every real document.

    Shape:
        scores: ``(Q, D)``; mask: ``(Q, D)`` bool. Output: ``(Q, D)`` long.
    """
    key = torch.where(mask, scores.detach(), torch.full_like(scores, -math.inf, requires_grad=False))
    order = torch.sort(key, dim=1, descending=True, stable=True).indices
    r = torch.empty_like(order)
    positions = torch.arange(1, scores.shape[1] + 1, device=scores.device).expand_as(order)
    return r.scatter_(1, order, positions)


def _gains_discounts(
    s: torch.Tensor, r: torch.Tensor, m: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gains ``2^rel - 1`` (0 on padding), discounts ``1/log2(1 + rank)`` (0 beyond k and on
    padding) and IDCG@k, all detached, in scores' dtype."""
    gain = torch.where(m, torch.exp2(r) - 1, torch.zeros_like(r)).detach()
    rank = ranks(s, m).to(s.dtype)
    disc = torch.where(m & (rank <= k), 1.0 / torch.log2(1.0 + rank), torch.zeros_like(rank))
    ideal = torch.sort(gain, dim=1, descending=True).values
    positions = torch.arange(1, s.shape[1] + 1, device=s.device, dtype=s.dtype)
    ideal_disc = torch.where(positions <= k, 1.0 / torch.log2(1.0 + positions), torch.zeros_like(positions))
    idcg = (ideal * ideal_disc).sum(1)
    return gain, disc, idcg


def ndcg_at_k(
    scores: torch.Tensor, relevance: torch.Tensor, k: int = 10, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """NDCG@k of each query: ``DCG@k / IDCG@k``, 0 where IDCG@k is 0 (no relevant document).

    ``DCG@k = sum over the top k real documents of (2^rel - 1) / log2(1 + rank)``; IDCG@k is
    the DCG@k of the ideal order. Piecewise constant in the scores: no gradient.

    Shape:
        scores, relevance: ``(Q, D)``; mask: ``(Q, D)`` bool or ``None``. Output: ``(Q,)``.
    """
    k = _check_k(k)
    s, r, m = _check(scores, relevance, mask)
    gain, disc, idcg = _gains_discounts(s, r, m, k)
    dcg = (gain * disc).sum(1)
    return torch.where(idcg > 0, dcg / idcg.clamp(min=torch.finfo(s.dtype).tiny), torch.zeros_like(dcg))


def _pairs(r: torch.Tensor, m: torch.Tensor) -> torch.Tensor:
    """``P[q, i, j]``: True when i and j are real documents of query q with rel_i > rel_j."""
    both = m.unsqueeze(2) & m.unsqueeze(1)
    return both & (r.unsqueeze(2) > r.unsqueeze(1))


def _diff(s: torch.Tensor) -> torch.Tensor:
    """``s_i - s_j`` for every ``(q, i, j)``."""
    return s.unsqueeze(2) - s.unsqueeze(1)


def _mean_over_pairs(per_pair: torch.Tensor, pairs: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    n = pairs.sum()
    total = torch.where(pairs, per_pair, torch.zeros_like(per_pair)).sum()
    if int(n) == 0:
        return (s * 0).sum()  # 0, still attached to the scores
    return total / n


def pairwise_hinge_loss(
    scores: torch.Tensor, relevance: torch.Tensor, margin: float = 1.0, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over all pairs of the batch of ``max(0, margin - (s_i - s_j))``; 0 with no pair.

    Shape:
        scores, relevance: ``(Q, D)``; mask: ``(Q, D)`` bool or ``None``. Output: scalar.
    """
    margin = _check_positive("margin", margin, allow_zero=True)
    s, r, m = _check(scores, relevance, mask)
    return _mean_over_pairs(F.relu(margin - _diff(s)), _pairs(r, m), s)


def ranknet_loss(
    scores: torch.Tensor, relevance: torch.Tensor, sigma: float = 1.0, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over all pairs of ``log(1 + exp(-sigma (s_i - s_j)))`` (a softplus: stable); 0 with
    no pair.

    Shape:
        scores, relevance: ``(Q, D)``; mask: ``(Q, D)`` bool or ``None``. Output: scalar.
    """
    sigma = _check_positive("sigma", sigma, allow_zero=False)
    s, r, m = _check(scores, relevance, mask)
    return _mean_over_pairs(F.softplus(-sigma * _diff(s)), _pairs(r, m), s)


def lambdarank_loss(
    scores: torch.Tensor, relevance: torch.Tensor, k: int = 10, sigma: float = 1.0, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """RankNet pairs weighted by how much NDCG@k would change if the two swapped places.

    Per query: ``sum over pairs of |dNDCG@k_ij| * log(1 + exp(-sigma (s_i - s_j)))`` with
    ``|dNDCG@k_ij| = |G_i - G_j| |D(r_i) - D(r_j)| / IDCG@k``, ``G = 2^rel - 1``,
    ``D(r) = 1/log2(1 + r)`` for ``r <= k`` and 0 beyond, ``r`` the current rank (ties by lower
    index). The weights are constants (no gradient through them). The loss is the mean of the
    per-query sums over the queries with at least one pair (0 when none).

    Shape:
        scores, relevance: ``(Q, D)``; mask: ``(Q, D)`` bool or ``None``. Output: scalar.
    """
    k = _check_k(k)
    sigma = _check_positive("sigma", sigma, allow_zero=False)
    s, r, m = _check(scores, relevance, mask)
    pairs = _pairs(r, m)
    gain, disc, idcg = _gains_discounts(s, r, m, k)
    has_pair = pairs.flatten(1).any(1)
    if not bool(has_pair.any()):
        return (s * 0).sum()
    delta = (gain.unsqueeze(2) - gain.unsqueeze(1)).abs() * (disc.unsqueeze(2) - disc.unsqueeze(1)).abs()
    weight = torch.where(
        pairs, delta / idcg.clamp(min=torch.finfo(s.dtype).tiny).view(-1, 1, 1), torch.zeros_like(delta)
    )
    per_pair = torch.where(pairs, weight.detach() * F.softplus(-sigma * _diff(s)), torch.zeros_like(delta))
    per_query = per_pair.sum((1, 2))
    return per_query[has_pair].mean()


def mse_loss(scores: torch.Tensor, relevance: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The baseline: mean squared error between scores and grades over the real documents.

    Shape:
        scores, relevance: ``(Q, D)``; mask: ``(Q, D)`` bool or ``None``. Output: scalar.
    """
    s, r, m = _check(scores, relevance, mask)
    err = torch.where(m, (s - r) ** 2, torch.zeros_like(s))
    return err.sum() / m.sum().clamp(min=1)
