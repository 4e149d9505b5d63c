"""Typical wrong answers to the ``multilabel_fix`` and ``ranking_loss`` exercises.

Each public function has the signature of the exercise function it imitates (its name says
which, then the mistake) and uses only ``torch``, ``F``, ``math`` and this module's private
helpers, so this module's source pasted into a student notebook defines them all. ``WRONG``
maps each to the exercise function it answers. The reference tests show that each differs
from the reference on inputs of the kind the hidden tests use; the grading tests check that
each loses its points.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------- multilabel_fix


def multilabel_loss_softmax(logits, targets, pos_weight=None):
    """Softmax instead of sigmoid: cross-entropy against the tags spread evenly."""
    soft = targets / targets.sum(1, keepdim=True).clamp(min=1)
    return F.cross_entropy(logits, soft)


def multilabel_loss_unstable(logits, targets, pos_weight=None):
    """The textbook formula on probabilities: log(0) = -inf once sigmoid saturates."""
    p = torch.sigmoid(logits)
    w = 1.0 if pos_weight is None else pos_weight
    return (-(w * targets * torch.log(p) + (1 - targets) * torch.log(1 - p))).mean()


def multilabel_loss_sum_over_labels(logits, targets, pos_weight=None):
    """Wrong normalisation: summed over the C labels, averaged over the N examples only."""
    loss = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight, reduction="none")
    return loss.sum(1).mean()


def multilabel_loss_weight_on_negatives(logits, targets, pos_weight=None):
    """pos_weight applied to the negative terms instead of the positive ones."""
    w = 1.0 if pos_weight is None else pos_weight
    return (targets * F.softplus(-logits) + w * (1 - targets) * F.softplus(logits)).mean()


def predict_labels_strict(logits, threshold=0.5):
    """``>`` instead of ``>=``: a probability exactly at the threshold is not a tag."""
    return torch.sigmoid(logits) > threshold


def predict_labels_softmax(logits, threshold=0.5):
    """Softmax probabilities compete: at most one tag clears 0.5."""
    return torch.softmax(logits, dim=1) >= threshold


def predict_labels_scalar_only(logits, threshold=0.5):
    """Uses only the first threshold when given one per label."""
    t = threshold[0] if isinstance(threshold, torch.Tensor) and threshold.dim() == 1 else threshold
    return torch.sigmoid(logits) >= t


def _f1(pred, y):
    tp = (pred & y).sum(0).double()
    fp = (pred & ~y).sum(0).double()
    fn = (~pred & y).sum(0).double()
    return 2 * tp / (2 * tp + fp + fn)  # nan where undefined


def tune_thresholds_largest_tie(probs, targets, candidates=None):
    """Ties go to the largest candidate instead of the smallest."""
    c = torch.tensor([k / 20 for k in range(1, 20)]) if candidates is None else torch.as_tensor(candidates).float()
    c = torch.sort(c).values
    y = targets.bool()
    f1 = torch.nan_to_num(torch.stack([_f1(probs >= t, y) for t in c]), nan=0.0)
    best = c.numel() - 1 - torch.argmax(torch.flip(f1, [0]), dim=0)
    return c[best]


def tune_thresholds_nan_f1(probs, targets, candidates=None):
    """F1 left as nan when undefined: argmax over nan picks the nan, not the smallest value."""
    c = torch.tensor([k / 20 for k in range(1, 20)]) if candidates is None else torch.as_tensor(candidates).float()
    c = torch.sort(c).values
    f1 = torch.stack([_f1(probs >= t, targets.bool()) for t in c])
    return c[torch.argmax(f1, dim=0)]


def tune_thresholds_accuracy(probs, targets, candidates=None):
    """Maximises accuracy instead of F1 (high thresholds win on rare labels)."""
    c = torch.tensor([k / 20 for k in range(1, 20)]) if candidates is None else torch.as_tensor(candidates).float()
    c = torch.sort(c).values
    acc = torch.stack([((probs >= t) == targets.bool()).double().mean(0) for t in c])
    return c[torch.argmax(acc, dim=0)]


def train_fixed_tagger_softmax(X, Y):
    """The bug the assignment is about: softmax + cross-entropy (and logits that put at most
    one tag over 0.5)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(X.shape[1], Y.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    soft = Y / Y.sum(1, keepdim=True).clamp(min=1)
    for _ in range(300):
        opt.zero_grad()
        F.cross_entropy(model(X), soft).backward()
        opt.step()
    return model


def train_fixed_tagger_top1(X, Y):
    """Sigmoid training, but the module's logits keep only the arg-max tag positive."""

    class Top1(torch.nn.Module):
        def __init__(self, linear):
            super().__init__()
            self.linear = linear

        def forward(self, x):
            z = self.linear(x)
            top = F.one_hot(z.argmax(1), z.shape[1]).bool()
            return torch.where(top, z.abs() + 1, -z.abs() - 1)

    torch.manual_seed(0)
    model = torch.nn.Linear(X.shape[1], Y.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(model(X), Y).backward()
        opt.step()
    return Top1(model)


# ---------------------------------------------------------------- ranking_loss


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
    per_pair = torch.where(pairs, w * F.softplus(-sigma * _diff(scores)), torch.zeros_like(w))
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


EXERCISE_FUNCTIONS = (
    "multilabel_loss",
    "predict_labels",
    "tune_thresholds",
    "train_fixed_tagger",
    "ndcg_at_k",
    "pairwise_hinge_loss",
    "ranknet_loss",
    "lambdarank_loss",
)


def _exercise_of(name: str) -> str:
    return next(f for f in EXERCISE_FUNCTIONS if name.startswith(f + "_"))


# wrong answer name -> the exercise function it answers
WRONG: dict[str, str] = {
    name: _exercise_of(name)
    for name, obj in list(globals().items())
    if callable(obj) and not name.startswith("_") and getattr(obj, "__module__", None) == __name__
}
