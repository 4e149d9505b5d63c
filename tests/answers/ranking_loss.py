"""Answers to the ``ranking_loss`` exercise, written as students write them.

Each answer is a function named after the exercise function it answers, then its style or its
mistake. The grading tests paste this whole module into a solution cell and bind the exercise
name to one answer (``tests/grading_helpers.py``), so answers may only use ``torch``, ``F``,
``math`` and this module. ``RIGHT``: styles that must get full marks; ``WRONG``: each mistake
with the hidden tests it must fail (it may fail more tests, but only in its own part).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------- right


def _pairs_of(scores, relevance, mask):
    m = torch.ones_like(scores, dtype=torch.bool) if mask is None else mask
    s = torch.where(m, scores, torch.zeros_like(scores))
    r = relevance.to(scores.dtype)
    pairs = m[:, :, None] & m[:, None, :] & (r[:, :, None] > r[:, None, :])
    return m, s, r, pairs, s[:, :, None] - s[:, None, :]


def ndcg_at_k_vectorised(scores, relevance, k=10, mask=None):
    m = torch.ones_like(scores, dtype=torch.bool) if mask is None else mask
    gains = torch.where(m, 2 ** relevance.to(scores.dtype) - 1, torch.zeros_like(scores))
    key = torch.where(m, scores, torch.full_like(scores, -math.inf))
    order = torch.sort(key, dim=1, descending=True, stable=True).indices
    disc = 1 / torch.log2(torch.arange(2, scores.shape[1] + 2, dtype=scores.dtype))
    disc[k:] = 0
    dcg = (gains.gather(1, order) * disc).sum(1)
    idcg = (gains.sort(1, descending=True).values * disc).sum(1)
    return torch.where(idcg > 0, dcg / torch.where(idcg > 0, idcg, torch.ones_like(idcg)), torch.zeros_like(idcg))


def pairwise_hinge_loss_relu(scores, relevance, margin=1.0, mask=None):
    """torch.relu: gradient 0 at the kink (the hidden tests never put a pair there)."""
    _, _, _, pairs, diff = _pairs_of(scores, relevance, mask)
    return F.relu(margin - diff)[pairs].sum() / pairs.sum().clamp(min=1)


def ranknet_loss_softplus(scores, relevance, sigma=1.0, mask=None):
    _, _, _, pairs, diff = _pairs_of(scores, relevance, mask)
    return F.softplus(-sigma * diff)[pairs].sum() / pairs.sum().clamp(min=1)


def lambdarank_loss_vectorised(scores, relevance, k=10, sigma=1.0, mask=None):
    m, s, r, pairs, diff = _pairs_of(scores, relevance, mask)
    gains = torch.where(m, 2**r - 1, torch.zeros_like(r)).detach()
    key = torch.where(m, s, torch.full_like(s, -math.inf)).detach()
    order = torch.sort(key, dim=1, descending=True, stable=True).indices
    ranks = torch.argsort(order, dim=1).to(s.dtype) + 1
    disc = torch.where(ranks <= k, 1 / torch.log2(1 + ranks), torch.zeros_like(ranks))
    ideal = 1 / torch.log2(torch.arange(2, s.shape[1] + 2, dtype=s.dtype))
    ideal[k:] = 0
    idcg = (gains.sort(1, descending=True).values * ideal).sum(1)
    w = (gains[:, :, None] - gains[:, None, :]).abs() * (disc[:, :, None] - disc[:, None, :]).abs()
    w = w / torch.where(idcg > 0, idcg, torch.ones_like(idcg))[:, None, None]
    per_query = torch.where(pairs, w * F.softplus(-sigma * diff), torch.zeros_like(w)).sum((1, 2))
    has = pairs.flatten(1).any(1)
    return per_query[has].sum() / has.sum().clamp(min=1)


def ndcg_at_k_loops(scores, relevance, k=10, mask=None):
    out = []
    for q in range(scores.shape[0]):
        docs = [i for i in range(scores.shape[1]) if mask is None or bool(mask[q, i])]
        docs.sort(key=lambda i: (-float(scores[q, i]), i))
        gain = {i: 2.0 ** float(relevance[q, i]) - 1 for i in docs}
        dcg = sum(gain[i] / math.log2(2 + r) for r, i in enumerate(docs[:k]))
        idcg = sum(g / math.log2(2 + r) for r, g in enumerate(sorted(gain.values(), reverse=True)[:k]))
        out.append(dcg / idcg if idcg > 0 else 0.0)
    return torch.tensor(out, dtype=torch.float64)


def pairwise_hinge_loss_loops(scores, relevance, margin=1.0, mask=None):
    """torch.clamp: gradient 1 at the kink (the hidden tests never put a pair there)."""
    terms = []
    for q in range(scores.shape[0]):
        for i in range(scores.shape[1]):
            for j in range(scores.shape[1]):
                real = mask is None or (bool(mask[q, i]) and bool(mask[q, j]))
                if real and relevance[q, i] > relevance[q, j]:
                    terms.append(torch.clamp(margin - (scores[q, i] - scores[q, j]), min=0).double())
    return torch.stack(terms).mean() if terms else scores.double().sum() * 0


def ranknet_loss_loops(scores, relevance, sigma=1.0, mask=None):
    total, count = scores.double().sum() * 0, 0
    for q in range(scores.shape[0]):
        for i in range(scores.shape[1]):
            for j in range(scores.shape[1]):
                real = mask is None or (bool(mask[q, i]) and bool(mask[q, j]))
                if real and relevance[q, i] > relevance[q, j]:
                    x = -sigma * (scores[q, i] - scores[q, j]).double()
                    total = total + torch.logaddexp(torch.zeros_like(x), x)
                    count += 1
    return total / max(count, 1)


def lambdarank_loss_loops(scores, relevance, k=10, sigma=1.0, mask=None):
    sums = []
    for q in range(scores.shape[0]):
        docs = [i for i in range(scores.shape[1]) if mask is None or bool(mask[q, i])]
        s = {i: float(scores[q, i]) for i in docs}
        rank = {i: 1 + sum(1 for j in docs if s[j] > s[i] or (s[j] == s[i] and j < i)) for i in docs}
        G = {i: 2.0 ** float(relevance[q, i]) - 1 for i in docs}
        D = {i: 1 / math.log2(1 + rank[i]) if rank[i] <= k else 0.0 for i in docs}
        idcg = sum(g / math.log2(2 + n) for n, g in enumerate(sorted(G.values(), reverse=True)[:k]))
        terms = [
            abs(G[i] - G[j]) * abs(D[i] - D[j]) / idcg * F.softplus(-sigma * (scores[q, i] - scores[q, j]).double())
            for i in docs
            for j in docs
            if relevance[q, i] > relevance[q, j]
        ]
        if terms:
            sums.append(torch.stack(terms).sum())
    return torch.stack(sums).mean() if sums else scores.double().sum() * 0


RIGHT = {
    "vectorised": [ndcg_at_k_vectorised, pairwise_hinge_loss_relu, ranknet_loss_softplus, lambdarank_loss_vectorised],
    "loops in float64": [ndcg_at_k_loops, pairwise_hinge_loss_loops, ranknet_loss_loops, lambdarank_loss_loops],
}
# parts a style is too slow for, as the notebook says (the training runs the loss 150 times)
TOO_SLOW = {"loops in float64": {"ranking_loss-test-training"}}

# ---------------------------------------------------------------- wrong


def _real(scores, mask):
    return torch.ones_like(scores, dtype=torch.bool) if mask is None else mask


def _ranks(scores, mask, lower_index_first=True):
    """1-based ranks among real documents (padded last)."""
    key = torch.where(mask, scores.detach(), torch.full_like(scores, -math.inf))
    if lower_index_first:
        order = torch.sort(key, dim=1, descending=True, stable=True).indices
    else:  # ties broken by the higher index: sort the reversed row
        flipped = torch.sort(torch.flip(key, [1]), dim=1, descending=True, stable=True).indices
        order = key.shape[1] - 1 - flipped
    positions = torch.arange(1, key.shape[1] + 1).expand_as(order).to(order.device)
    return torch.empty_like(order).scatter_(1, order, positions)


def _ndcg(scores, relevance, k, mask, lower_index_first=True, linear_gain=False, nan_when_undefined=False):
    m = _real(scores, mask)
    rel = torch.where(m, relevance.to(scores.dtype), torch.zeros_like(scores))
    gain = rel if linear_gain else torch.exp2(rel) - 1
    gain = torch.where(m, gain, torch.zeros_like(gain))
    rank = _ranks(scores, m, lower_index_first).to(scores.dtype)
    disc = torch.where(m & (rank <= k), 1 / torch.log2(1 + rank), torch.zeros_like(rank))
    ideal = torch.sort(gain, dim=1, descending=True).values
    pos = torch.arange(1, scores.shape[1] + 1, dtype=scores.dtype)
    idcg = (ideal * torch.where(pos <= k, 1 / torch.log2(1 + pos), torch.zeros_like(pos))).sum(1)
    dcg = (gain * disc).sum(1)
    if nan_when_undefined:
        return dcg / idcg
    return torch.where(idcg > 0, dcg / idcg.clamp(min=1e-30), torch.zeros_like(dcg))


def ndcg_at_k_ties_higher_index(scores, relevance, k=10, mask=None):
    """Ties in score broken by the higher document index first."""
    return _ndcg(scores, relevance, k, mask, lower_index_first=False)


def ndcg_at_k_padding_ranked(scores, relevance, k=10, mask=None):
    """Ignores the mask: padded slots take ranks (and their junk relevance counts)."""
    return _ndcg(scores, relevance, k, None)


def ndcg_at_k_linear_gain(scores, relevance, k=10, mask=None):
    """Gain rel instead of 2^rel - 1."""
    return _ndcg(scores, relevance, k, mask, linear_gain=True)


def ndcg_at_k_nan_without_relevant(scores, relevance, k=10, mask=None):
    """0 / 0 = nan for a query with no relevant document."""
    return _ndcg(scores, relevance, k, mask, nan_when_undefined=True)


def ndcg_at_k_no_cutoff(scores, relevance, k=10, mask=None):
    """Ignores k: the whole list counts."""
    return _ndcg(scores, relevance, scores.shape[1], mask)


def _pair_mask(relevance, mask, both_ways=False, ties=False):
    m = _real(relevance, mask)
    both = m.unsqueeze(2) & m.unsqueeze(1)
    r = relevance.unsqueeze(2), relevance.unsqueeze(1)
    if both_ways:
        return both & (r[0] != r[1])
    if ties:
        eye = torch.eye(relevance.shape[1], dtype=torch.bool, device=relevance.device)
        return both & (r[0] >= r[1]) & ~eye
    return both & (r[0] > r[1])


def _mean(per_pair, pairs, scores):
    n = pairs.sum()
    if int(n) == 0:
        return (scores * 0).sum()
    return torch.where(pairs, per_pair, torch.zeros_like(per_pair)).sum() / n


def _diff(scores):
    return scores.unsqueeze(2) - scores.unsqueeze(1)


def pairwise_hinge_loss_both_ways(scores, relevance, margin=1.0, mask=None):
    """Every pair of different grades counted in both orders, with the same formula."""
    return _mean(F.relu(margin - _diff(scores)), _pair_mask(relevance, mask, both_ways=True), scores)


def pairwise_hinge_loss_ties_as_pairs(scores, relevance, margin=1.0, mask=None):
    """Documents of equal grade treated as pairs too."""
    return _mean(F.relu(margin - _diff(scores)), _pair_mask(relevance, mask, ties=True), scores)


def pairwise_hinge_loss_padding_paired(scores, relevance, margin=1.0, mask=None):
    """Ignores the mask: padded slots form pairs."""
    return _mean(F.relu(margin - _diff(scores)), _pair_mask(relevance, None), scores)


def pairwise_hinge_loss_mean_per_query(scores, relevance, margin=1.0, mask=None):
    """Wrong normalisation: mean over each query's pairs, then mean over all queries."""
    pairs = _pair_mask(relevance, mask)
    per_pair = torch.where(pairs, F.relu(margin - _diff(scores)), torch.zeros_like(_diff(scores)))
    n = pairs.sum((1, 2))
    return (per_pair.sum((1, 2)) / n.clamp(min=1)).mean()


def pairwise_hinge_loss_nan_without_pairs(scores, relevance, margin=1.0, mask=None):
    """0 / 0 = nan when there is no pair."""
    pairs = _pair_mask(relevance, mask)
    return torch.where(pairs, F.relu(margin - _diff(scores)), torch.zeros_like(_diff(scores))).sum() / pairs.sum()


def ranknet_loss_unstable(scores, relevance, sigma=1.0, mask=None):
    """log(1 + exp(x)) written out: exp overflows to inf for large score gaps."""
    return _mean(torch.log(1 + torch.exp(-sigma * _diff(scores))), _pair_mask(relevance, mask), scores)


def ranknet_loss_both_ways(scores, relevance, sigma=1.0, mask=None):
    """Every pair of different grades counted in both orders, with the same formula."""
    return _mean(F.softplus(-sigma * _diff(scores)), _pair_mask(relevance, mask, both_ways=True), scores)


def ranknet_loss_padding_paired(scores, relevance, sigma=1.0, mask=None):
    """Ignores the mask: padded slots form pairs."""
    return _mean(F.softplus(-sigma * _diff(scores)), _pair_mask(relevance, None), scores)


def ranknet_loss_no_sigma(scores, relevance, sigma=1.0, mask=None):
    """Forgets sigma."""
    return _mean(F.softplus(-_diff(scores)), _pair_mask(relevance, mask), scores)


def _lambdarank(
    scores,
    relevance,
    k,
    sigma,
    mask,
    *,
    lower_index_first=True,
    truncate=True,
    detach=True,
    mean_over="queries_with_pairs",
    ranks_with_padding=False,
    stable=True,
):
    m = _real(scores, mask)
    rel = torch.where(m, relevance.to(scores.dtype), torch.zeros_like(scores))
    pairs = _pair_mask(rel, m)
    gain = torch.where(m, torch.exp2(rel) - 1, torch.zeros_like(rel))
    rank = _ranks(scores, torch.ones_like(m) if ranks_with_padding else m, lower_index_first).to(scores.dtype)
    if not detach:  # a straight-through soft rank: same value, but the weights carry gradient
        soft = 1 + torch.sigmoid(scores.unsqueeze(1) - scores.unsqueeze(2)).sum(2) - 0.5
        rank = rank + soft - soft.detach()
    cut = (rank <= k) if truncate else torch.ones_like(m)
    disc = torch.where(cut, 1 / torch.log2(1 + rank), torch.zeros_like(rank))
    ideal = torch.sort(gain, dim=1, descending=True).values
    pos = torch.arange(1, scores.shape[1] + 1, dtype=scores.dtype)
    idcg = (ideal * torch.where(pos <= k, 1 / torch.log2(1 + pos), torch.zeros_like(pos))).sum(1)
    delta = (gain.unsqueeze(2) - gain.unsqueeze(1)).abs() * (disc.unsqueeze(2) - disc.unsqueeze(1)).abs()
    w = delta / idcg.clamp(min=1e-30).view(-1, 1, 1)
    x = -sigma * _diff(scores)
    pair_loss = F.softplus(x) if stable else torch.log(1 + torch.exp(x))
    per_pair = torch.where(pairs, w * pair_loss, torch.zeros_like(w))
    has = pairs.flatten(1).any(1)
    if not bool(has.any()):
        return (scores * 0).sum()
    if mean_over == "all_queries":
        return per_pair.sum((1, 2)).mean()
    if mean_over == "pairs":
        return per_pair.sum() / pairs.sum()
    return per_pair.sum((1, 2))[has].mean()


def lambdarank_loss_grad_through_weights(scores, relevance, k=10, sigma=1.0, mask=None):
    """The |delta NDCG| weights depend on the scores through a (straight-through) soft rank,
    so gradient flows through them: the value is right, the gradient is not."""
    return _lambdarank(scores, relevance, k, sigma, mask, detach=False)


def lambdarank_loss_no_truncation(scores, relevance, k=10, sigma=1.0, mask=None):
    """D(r) not cut to 0 beyond rank k."""
    return _lambdarank(scores, relevance, k, sigma, mask, truncate=False)


def lambdarank_loss_ties_higher_index(scores, relevance, k=10, sigma=1.0, mask=None):
    """Ranks with ties broken by the higher index first (all-equal scores at the start of training)."""
    return _lambdarank(scores, relevance, k, sigma, mask, lower_index_first=False)


def lambdarank_loss_all_queries(scores, relevance, k=10, sigma=1.0, mask=None):
    """Wrong normalisation: mean over all queries, also those without a pair."""
    return _lambdarank(scores, relevance, k, sigma, mask, mean_over="all_queries")


def lambdarank_loss_mean_over_pairs(scores, relevance, k=10, sigma=1.0, mask=None):
    """Wrong normalisation: mean over pairs instead of the per-query sum."""
    return _lambdarank(scores, relevance, k, sigma, mask, mean_over="pairs")


def lambdarank_loss_padding_ranked(scores, relevance, k=10, sigma=1.0, mask=None):
    """Padded slots take ranks, pushing real documents down."""
    return _lambdarank(scores, relevance, k, sigma, mask, ranks_with_padding=True)


def lambdarank_loss_mse(scores, relevance, k=10, sigma=1.0, mask=None):
    """Not a ranking loss at all: MSE against the grades (the baseline the training part beats)."""
    m = _real(scores, mask)
    err = torch.where(m, (scores - relevance.to(scores.dtype)) ** 2, torch.zeros_like(scores))
    return err.sum() / m.sum()


def ndcg_at_k_k_discounts(scores, relevance, k=10, mask=None):
    """Discounts for the top k only: breaks when k is larger than the number of slots."""
    m = _real(scores, mask)
    gains = torch.where(m, 2 ** relevance.to(scores.dtype) - 1, torch.zeros_like(scores))
    key = torch.where(m, scores, torch.full_like(scores, -math.inf))
    order = torch.sort(key, dim=1, descending=True, stable=True).indices
    disc = 1 / torch.log2(torch.arange(2, k + 2, dtype=scores.dtype))
    dcg = (gains.gather(1, order[:, :k]) * disc).sum(1)
    idcg = (gains.sort(1, descending=True).values[:, :k] * disc).sum(1)
    return torch.where(idcg > 0, dcg / torch.where(idcg > 0, idcg, torch.ones_like(idcg)), torch.zeros_like(idcg))


def pairwise_hinge_loss_fixed_margin(scores, relevance, margin=1.0, mask=None):
    """The margin argument ignored: always 1."""
    return _mean(F.relu(1.0 - _diff(scores)), _pair_mask(relevance, mask), scores)


def pairwise_hinge_loss_clipped(scores, relevance, margin=1.0, mask=None):
    """Each pair's hinge capped at 100 "to keep the loss stable"."""
    return _mean(torch.clamp(margin - _diff(scores), min=0, max=100), _pair_mask(relevance, mask), scores)


def ranknet_loss_nan_without_pairs(scores, relevance, sigma=1.0, mask=None):
    """0 / 0 = nan when there is no pair."""
    pairs = _pair_mask(relevance, mask)
    per_pair = F.softplus(-sigma * _diff(scores))
    return torch.where(pairs, per_pair, torch.zeros_like(per_pair)).sum() / pairs.sum()


def lambdarank_loss_unstable(scores, relevance, k=10, sigma=1.0, mask=None):
    """log(1 + exp(x)) written out: inf for large score gaps."""
    return _lambdarank(scores, relevance, k, sigma, mask, stable=False)


def lambdarank_loss_requires_mask(scores, relevance, k=10, sigma=1.0, mask=None):
    """mask=None not handled: a mask is always expected."""
    return _lambdarank(scores, relevance, k, sigma, mask.bool())


WRONG = {
    ndcg_at_k_ties_higher_index: {"ndcg_at_k:ties"},
    ndcg_at_k_padding_ranked: {"ndcg_at_k:padding", "ndcg_at_k:random"},
    ndcg_at_k_linear_gain: {"ndcg_at_k:random", "ndcg_at_k:no_mask"},
    ndcg_at_k_nan_without_relevant: {"ndcg_at_k:no_relevant"},
    ndcg_at_k_no_cutoff: {"ndcg_at_k:random"},
    ndcg_at_k_k_discounts: {"ndcg_at_k:k_larger_than_D"},
    pairwise_hinge_loss_both_ways: {"pairwise_hinge_loss:random", "pairwise_hinge_loss:no_mask"},
    pairwise_hinge_loss_ties_as_pairs: {"pairwise_hinge_loss:equal_grades"},
    pairwise_hinge_loss_padding_paired: {"pairwise_hinge_loss:random"},
    pairwise_hinge_loss_mean_per_query: {"pairwise_hinge_loss:random"},
    pairwise_hinge_loss_nan_without_pairs: {"pairwise_hinge_loss:no_pairs"},
    pairwise_hinge_loss_fixed_margin: {"pairwise_hinge_loss:margin", "pairwise_hinge_loss:random"},
    pairwise_hinge_loss_clipped: {"pairwise_hinge_loss:large_scores"},
    ranknet_loss_unstable: {"ranknet_loss:large_scores"},
    ranknet_loss_both_ways: {"ranknet_loss:random", "ranknet_loss:no_mask"},
    ranknet_loss_padding_paired: {"ranknet_loss:random"},
    ranknet_loss_no_sigma: {"ranknet_loss:sigma"},
    ranknet_loss_nan_without_pairs: {"ranknet_loss:no_pairs"},
    lambdarank_loss_grad_through_weights: {"lambdarank_loss:random", "lambdarank_loss:ties"},
    lambdarank_loss_no_truncation: {"lambdarank_loss:cutoff"},
    lambdarank_loss_ties_higher_index: {"lambdarank_loss:ties"},
    lambdarank_loss_all_queries: {"lambdarank_loss:normalisation"},
    lambdarank_loss_mean_over_pairs: {"lambdarank_loss:random"},
    lambdarank_loss_padding_ranked: {"lambdarank_loss:random"},
    lambdarank_loss_mse: {"lambdarank_loss:random", "lambdarank_loss:no_pairs", "training:ndcg"},
    lambdarank_loss_unstable: {"lambdarank_loss:large_scores"},
    lambdarank_loss_requires_mask: {"lambdarank_loss:no_mask"},
}

SAYS = {
    ranknet_loss_unstable: (
        "ranknet_loss:large_scores",
        "right on basic inputs, but returns inf when |scores| are large",
    ),
    lambdarank_loss_grad_through_weights: (
        "lambdarank_loss:random",
        "value right, gradient wrong (are the |delta NDCG| weights detached?) on random queries",
    ),
    ndcg_at_k_padding_ranked: ("ndcg_at_k:padding", "wrong value, as on basic inputs"),
}
