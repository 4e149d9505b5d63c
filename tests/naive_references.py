"""Slow, obvious re-implementations of the ``multilabel_fix`` and ``ranking_loss`` functions:
Python loops over entries, pairs and ranks, NumPy in float64, nothing shared with the
vectorised references in ``autograder/reference/``. The reference tests compare the two; the
grading tests can use them as correct answers written in another style."""

from __future__ import annotations

import math

import numpy as np
import torch

DEFAULT_CANDIDATES = [k / 20 for k in range(1, 20)]  # 0.05, ..., 0.95, each correctly rounded


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy()


def _real(mask: torch.Tensor | None, shape: tuple[int, ...]) -> np.ndarray:
    return np.ones(shape, dtype=bool) if mask is None else mask.cpu().numpy().astype(bool)


# ---------------------------------------------------------------- multilabel_fix


def multilabel_loss_loop(logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None) -> float:
    """Mean over every entry of ``-w y log p - (1 - y) log(1 - p)``, with ``log p`` written as
    ``-log1p(exp(-z))`` branch by branch so large |z| stays finite."""
    z, y = _np(logits), _np(targets)
    w = np.ones(z.shape[1]) if pos_weight is None else _np(pos_weight)
    total = 0.0
    for n in range(z.shape[0]):
        for c in range(z.shape[1]):
            zi = z[n, c]
            log_p = -math.log1p(math.exp(-zi)) if zi >= 0 else zi - math.log1p(math.exp(zi))
            log_1mp = -zi - math.log1p(math.exp(-zi)) if zi >= 0 else -math.log1p(math.exp(zi))
            total += -w[c] * y[n, c] * log_p - (1 - y[n, c]) * log_1mp
    return total / z.size


def tune_thresholds_loop(probs: torch.Tensor, targets: torch.Tensor, candidates=None) -> list[float]:
    """Per label, try every candidate in increasing order and keep the first best F1."""
    p, y = probs.detach().cpu(), targets.cpu()
    cands = sorted(float(c) for c in (DEFAULT_CANDIDATES if candidates is None else candidates))
    best_ts = []
    for c in range(p.shape[1]):
        best_t, best_f1 = None, -1.0
        for t in cands:
            tp = fp = fn = 0
            for n in range(p.shape[0]):
                pred = bool(p[n, c] >= torch.tensor(t, dtype=p.dtype))
                true = bool(y[n, c] == 1)
                tp += pred and true
                fp += pred and not true
                fn += (not pred) and true
            f1 = 0.0 if 2 * tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)
            if f1 > best_f1:
                best_t, best_f1 = t, f1
        best_ts.append(best_t)
    return best_ts


# ---------------------------------------------------------------- ranking_loss


def _pairs_loop(rel: np.ndarray, real: np.ndarray):
    """Every (q, i, j) with both real and rel_i > rel_j."""
    Q, D = rel.shape
    for q in range(Q):
        for i in range(D):
            for j in range(D):
                if real[q, i] and real[q, j] and rel[q, i] > rel[q, j]:
                    yield q, i, j


def ranks_loop(s: np.ndarray, real: np.ndarray) -> list[dict[int, int]]:
    """Per query, document index -> 1-based rank: sort the real documents by (-score, index)."""
    out = []
    for q in range(s.shape[0]):
        docs = [i for i in range(s.shape[1]) if real[q, i]]
        docs.sort(key=lambda i: (-s[q, i], i))
        out.append({i: r + 1 for r, i in enumerate(docs)})
    return out


def _idcg(rel_q: list[float], k: int) -> float:
    ideal = sorted(rel_q, reverse=True)[:k]
    return sum((2.0**g - 1) / math.log2(1 + r) for r, g in enumerate(ideal, start=1))


def ndcg_loop(
    scores: torch.Tensor, relevance: torch.Tensor, k: int = 10, mask: torch.Tensor | None = None
) -> list[float]:
    s, rel, real = _np(scores), _np(relevance), _real(mask, tuple(scores.shape))
    out = []
    for q, rank in enumerate(ranks_loop(s, real)):
        dcg = sum((2.0 ** rel[q, i] - 1) / math.log2(1 + r) for i, r in rank.items() if r <= k)
        idcg = _idcg([rel[q, i] for i in rank], k)
        out.append(dcg / idcg if idcg > 0 else 0.0)
    return out


def hinge_loop(
    scores: torch.Tensor, relevance: torch.Tensor, margin: float = 1.0, mask: torch.Tensor | None = None
) -> float:
    s, rel, real = _np(scores), _np(relevance), _real(mask, tuple(scores.shape))
    losses = [max(0.0, margin - (s[q, i] - s[q, j])) for q, i, j in _pairs_loop(rel, real)]
    return sum(losses) / len(losses) if losses else 0.0


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def ranknet_loop(
    scores: torch.Tensor, relevance: torch.Tensor, sigma: float = 1.0, mask: torch.Tensor | None = None
) -> float:
    s, rel, real = _np(scores), _np(relevance), _real(mask, tuple(scores.shape))
    losses = [_softplus(-sigma * (s[q, i] - s[q, j])) for q, i, j in _pairs_loop(rel, real)]
    return sum(losses) / len(losses) if losses else 0.0


def lambdarank_loop(
    scores: torch.Tensor, relevance: torch.Tensor, k: int = 10, sigma: float = 1.0, mask: torch.Tensor | None = None
) -> float:
    s, rel, real = _np(scores), _np(relevance), _real(mask, tuple(scores.shape))
    rank = ranks_loop(s, real)
    per_query: dict[int, float] = {}
    for q, i, j in _pairs_loop(rel, real):
        idcg = _idcg([rel[q, d] for d in rank[q]], k)

        def disc(r: int) -> float:
            return 1 / math.log2(1 + r) if r <= k else 0.0

        delta = abs((2.0 ** rel[q, i]) - (2.0 ** rel[q, j])) * abs(disc(rank[q][i]) - disc(rank[q][j])) / idcg
        per_query[q] = per_query.get(q, 0.0) + delta * _softplus(-sigma * (s[q, i] - s[q, j]))
    return sum(per_query.values()) / len(per_query) if per_query else 0.0


def lambdarank_grad_loop(
    scores: torch.Tensor, relevance: torch.Tensor, k: int = 10, sigma: float = 1.0, mask: torch.Tensor | None = None
) -> np.ndarray:
    """The closed-form lambdas: d loss / d s, weights held constant. For a pair (i, j) with
    weight w, d softplus(-sigma (s_i - s_j)) / d s_i = -sigma w sigmoid(-sigma (s_i - s_j))."""
    s, rel, real = _np(scores), _np(relevance), _real(mask, tuple(scores.shape))
    rank = ranks_loop(s, real)
    grad = np.zeros_like(s)
    queries = sorted({q for q, _, _ in _pairs_loop(rel, real)})
    for q, i, j in _pairs_loop(rel, real):
        idcg = _idcg([rel[q, d] for d in rank[q]], k)

        def disc(r: int) -> float:
            return 1 / math.log2(1 + r) if r <= k else 0.0

        w = abs((2.0 ** rel[q, i]) - (2.0 ** rel[q, j])) * abs(disc(rank[q][i]) - disc(rank[q][j])) / idcg
        x = -sigma * (s[q, i] - s[q, j])
        sig = 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))
        grad[q, i] -= sigma * w * sig / len(queries)
        grad[q, j] += sigma * w * sig / len(queries)
    return grad
