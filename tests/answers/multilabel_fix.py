"""Answers to the ``multilabel_fix`` exercise, written as students write them.

Each answer is a function named after the exercise function it answers, then its style or its
mistake. The grading tests paste this whole module into a solution cell and bind the exercise
name to one answer (``tests/grading_helpers.py``), so answers may only use ``torch``, ``F``,
``math`` and this module. ``RIGHT``: styles that must get full marks; ``WRONG``: each mistake
with the hidden tests it must fail (it may fail more tests, but only in its own part).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

# ---------------------------------------------------------------- right


def multilabel_loss_library(logits, targets, pos_weight=None):
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), pos_weight=pos_weight)


def predict_labels_sigmoid(logits, threshold=0.5):
    return torch.sigmoid(logits) >= threshold


def tune_thresholds_vectorised(probs, targets, candidates=None):
    cands = sorted(float(c) for c in (candidates if candidates is not None else [k / 20 for k in range(1, 20)]))
    y = targets.bool()
    f1 = []
    for t in cands:
        p = probs >= t
        tp, fp, fn = (p & y).sum(0), (p & ~y).sum(0), (~p & y).sum(0)
        f1.append(torch.nan_to_num(2 * tp / (2 * tp + fp + fn), nan=0.0))
    return torch.tensor(cands, dtype=probs.dtype)[torch.stack(f1).argmax(0)]


def train_fixed_tagger_linear(X, Y):
    torch.manual_seed(1)
    model = torch.nn.Linear(X.shape[1], Y.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(250):
        opt.zero_grad()
        multilabel_loss(model(X), Y).backward()  # noqa: F821  (the student's, from the notebook)
        opt.step()
    return model


def multilabel_loss_logsigmoid_float64(logits, targets, pos_weight=None):
    z, y = logits.double(), targets.double()
    w = torch.ones(z.shape[1], dtype=torch.float64) if pos_weight is None else pos_weight.double()
    per_entry = -(w * y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z))
    return per_entry.sum() / z.numel()


def predict_labels_expit(logits, threshold=0.5):
    t = threshold if isinstance(threshold, torch.Tensor) else torch.full((logits.shape[1],), float(threshold))
    return torch.special.expit(logits) >= t.to(logits.dtype)[None, :]


def tune_thresholds_loops(probs, targets, candidates=None):
    """Pure Python loops; the grid written as 0.05 * k (the notebook says it does not matter)."""
    if candidates is None:
        candidates = [0.05 * k for k in range(1, 20)]
    cands = sorted(float(c) for c in candidates)
    best = []
    for c in range(probs.shape[1]):
        best_t, best_f1 = None, -1.0
        for t in cands:
            tp = fp = fn = 0
            for n in range(probs.shape[0]):
                pred, true = bool(probs[n, c] >= t), bool(targets[n, c] == 1)
                tp += pred and true
                fp += pred and not true
                fn += true and not pred
            f1 = 2 * tp / (2 * tp + fp + fn) if (2 * tp + fp + fn) else 0.0
            if f1 > best_f1 + 1e-12:
                best_t, best_f1 = t, f1
        best.append(best_t)
    return torch.tensor(best, dtype=torch.float64)


class _Tagger(torch.nn.Module):
    def __init__(self, d, c):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(d, 64), torch.nn.ReLU(), torch.nn.Linear(64, c))
        self.register_buffer("shift", torch.zeros(c))

    def forward(self, x):
        return self.net(x) - self.shift


def train_fixed_tagger_mlp_tuned(X, Y):
    """A small MLP, thresholds tuned and folded into its logits."""
    torch.manual_seed(0)
    model = _Tagger(X.shape[1], Y.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        opt.zero_grad()
        multilabel_loss(model(X), Y).backward()  # noqa: F821
        opt.step()
    with torch.no_grad():
        t = tune_thresholds(torch.sigmoid(model(X)), Y).float().clamp(0.01, 0.99)  # noqa: F821
        model.shift.copy_(torch.log(t / (1 - t)))
    return model


RIGHT = {
    "library": [multilabel_loss_library, predict_labels_sigmoid, tune_thresholds_vectorised, train_fixed_tagger_linear],
    "by hand": [
        multilabel_loss_logsigmoid_float64,
        predict_labels_expit,
        tune_thresholds_loops,
        train_fixed_tagger_mlp_tuned,
    ],
}

# ---------------------------------------------------------------- wrong


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
    """Summed over the C labels, averaged over the N examples only."""
    loss = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=pos_weight, reduction="none")
    return loss.sum(1).mean()


def multilabel_loss_weight_on_negatives(logits, targets, pos_weight=None):
    """pos_weight applied to the negative terms instead of the positive ones."""
    w = 1.0 if pos_weight is None else pos_weight
    return (targets * F.softplus(-logits) + w * (1 - targets) * F.softplus(logits)).mean()


def predict_labels_strict(logits, threshold=0.5):
    """``>`` instead of ``>=``: a probability exactly at the threshold is not a tag."""
    return torch.sigmoid(logits) > threshold


def predict_labels_logit(logits, threshold=0.5):
    """``z >= logit(t)``: the same on paper, not in floating point (never true at t = 1)."""
    t = torch.as_tensor(threshold, dtype=logits.dtype)
    return logits >= torch.log(t / (1 - t))


def predict_labels_ignores_threshold(logits, threshold=0.5):
    """Always 0.5, whatever threshold is given."""
    return torch.sigmoid(logits) >= 0.5


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


def _grid(candidates):
    return torch.tensor([k / 20 for k in range(1, 20)]) if candidates is None else torch.as_tensor(candidates).float()


def tune_thresholds_largest_tie(probs, targets, candidates=None):
    """Ties go to the largest candidate instead of the smallest."""
    c = torch.sort(_grid(candidates)).values
    f1 = torch.nan_to_num(torch.stack([_f1(probs >= t, targets.bool()) for t in c]), nan=0.0)
    return c[c.numel() - 1 - torch.argmax(torch.flip(f1, [0]), dim=0)]


def tune_thresholds_first_given(probs, targets, candidates=None):
    """Ties go to the first candidate in the order given (no sorting)."""
    c = _grid(candidates)
    f1 = torch.nan_to_num(torch.stack([_f1(probs >= t, targets.bool()) for t in c]), nan=0.0)
    return c[torch.argmax(f1, dim=0)]


def tune_thresholds_nan_f1(probs, targets, candidates=None):
    """F1 left as nan when undefined: argmax over nan picks the nan, not the smallest value."""
    c = torch.sort(_grid(candidates)).values
    return c[torch.argmax(torch.stack([_f1(probs >= t, targets.bool()) for t in c]), dim=0)]


def tune_thresholds_accuracy(probs, targets, candidates=None):
    """Maximises accuracy instead of F1 (high thresholds win on rare labels)."""
    c = torch.sort(_grid(candidates)).values
    acc = torch.stack([((probs >= t) == targets.bool()).double().mean(0) for t in c])
    return c[torch.argmax(acc, dim=0)]


def train_fixed_tagger_softmax(X, Y):
    """The bug the assignment is about: softmax + cross-entropy."""
    torch.manual_seed(0)
    model = torch.nn.Linear(X.shape[1], Y.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    soft = Y / Y.sum(1, keepdim=True).clamp(min=1)
    for _ in range(300):
        opt.zero_grad()
        F.cross_entropy(model(X), soft).backward()
        opt.step()
    return model


class _Top1(torch.nn.Module):
    def __init__(self, linear):
        super().__init__()
        self.linear = linear

    def forward(self, x):
        z = self.linear(x)
        top = F.one_hot(z.argmax(1), z.shape[1]).bool()
        return torch.where(top, z.abs() + 1, -z.abs() - 1)


def train_fixed_tagger_top1(X, Y):
    """Sigmoid training, but the module's logits keep only the arg-max tag positive."""
    torch.manual_seed(0)
    model = torch.nn.Linear(X.shape[1], Y.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(300):
        opt.zero_grad()
        F.binary_cross_entropy_with_logits(model(X), Y).backward()
        opt.step()
    return _Top1(model)


TRAINING = {"train_fixed_tagger:f1", "train_fixed_tagger:tag_count"}
WRONG = {
    multilabel_loss_softmax: {"multilabel_loss:random", "multilabel_loss:pos_weight", "multilabel_loss:float64"},
    multilabel_loss_unstable: {"multilabel_loss:large_logits"},
    multilabel_loss_sum_over_labels: {"multilabel_loss:random", "multilabel_loss:float64"},
    multilabel_loss_weight_on_negatives: {"multilabel_loss:pos_weight"},
    predict_labels_strict: {"predict_labels:at_threshold"},
    predict_labels_logit: {"predict_labels:at_threshold"},
    predict_labels_ignores_threshold: {"predict_labels:float_threshold", "predict_labels:tensor_threshold"},
    predict_labels_softmax: {"predict_labels:default", "predict_labels:tensor_threshold"},
    predict_labels_scalar_only: {"predict_labels:tensor_threshold"},
    tune_thresholds_largest_tie: {"tune_thresholds:ties", "tune_thresholds:candidates", "tune_thresholds:undefined_f1"},
    tune_thresholds_first_given: {"tune_thresholds:candidates"},
    tune_thresholds_nan_f1: {"tune_thresholds:undefined_f1"},
    tune_thresholds_accuracy: {"tune_thresholds:default"},
    train_fixed_tagger_softmax: TRAINING,
    train_fixed_tagger_top1: TRAINING,
}

SAYS = {
    multilabel_loss_unstable: (
        "multilabel_loss:large_logits",
        "right on basic inputs, but returns nan when |logits| is large",
    ),
    multilabel_loss_sum_over_labels: ("multilabel_loss:random", "off by a factor of C"),
    predict_labels_logit: ("predict_labels:at_threshold", "wrong tags when a probability equals the threshold"),
    train_fixed_tagger_top1: ("train_fixed_tagger:tag_count", "too few tags"),
}
