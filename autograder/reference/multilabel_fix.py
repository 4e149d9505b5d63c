"""Reference for the ``multilabel_fix`` assignment: the softmax bug in a multi-label tagger.

A softmax over C tags makes the tags compete for one unit of probability, so a tagger
trained with softmax + cross-entropy learns to put its mass on one tag. Multi-label
tagging is C independent yes / no questions: one sigmoid and one binary cross-entropy per
tag, then a threshold per tag.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from autograder.recipes import one_thread

__all__ = [
    "DEFAULT_CANDIDATES",
    "multilabel_loss",
    "predict_labels",
    "tune_thresholds",
    "micro_f1",
    "train_fixed_tagger",
    "train_softmax_tagger",
    "predict_top1",
]

# 0.05, 0.10, ..., 0.95: each the double nearest to its decimal (not k * 0.05, which drifts).
DEFAULT_CANDIDATES: tuple[float, ...] = tuple(round(0.05 * k, 2) for k in range(1, 20))


def _check_matrix(name: str, t: object) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise ValueError(f"Expected {name} to be a torch.Tensor, got {type(t).__name__}")
    if t.dim() != 2 or t.shape[0] == 0 or t.shape[1] == 0:
        raise ValueError(f"Expected {name} of shape (N, C) with N, C >= 1, got {tuple(t.shape)}")
    return t


def _check_float(name: str, t: torch.Tensor) -> None:
    if not t.is_floating_point():
        raise ValueError(f"Expected {name} to be a float tensor, got {t.dtype}")


def _check_targets(targets: object, shape: torch.Size) -> torch.Tensor:
    if not isinstance(targets, torch.Tensor):
        raise ValueError(f"Expected targets to be a torch.Tensor, got {type(targets).__name__}")
    if targets.shape != shape:
        raise ValueError(f"Expected targets of shape {tuple(shape)}, got {tuple(targets.shape)}")
    if not bool(((targets == 0) | (targets == 1)).all()):
        raise ValueError("Expected targets in {0, 1}, got other values")
    return targets


def multilabel_loss(
    logits: torch.Tensor, targets: torch.Tensor, pos_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Binary cross-entropy on logits, averaged over all ``N * C`` entries.

    With ``w_c`` the weight of label ``c`` (1 without ``pos_weight``), each entry contributes
    ``w_c * y * softplus(-z) + (1 - y) * softplus(z)``: the same as ``-w_c y log p - (1 - y)
    log(1 - p)`` with ``p = sigmoid(z)``, but finite in value and gradient for any finite ``z``.

    Shape:
        logits, targets: ``(N, C)``; targets in {0, 1} (float, int or bool).
        pos_weight: ``(C,)``, non-negative, or ``None``. Output: scalar.
    """
    _check_matrix("logits", logits)
    _check_float("logits", logits)
    targets = _check_targets(targets, logits.shape)
    y = targets.to(device=logits.device, dtype=logits.dtype)
    if pos_weight is None:
        w = torch.ones((), dtype=logits.dtype, device=logits.device)
    else:
        if not isinstance(pos_weight, torch.Tensor):
            raise ValueError(
                f"Expected pos_weight to be a torch.Tensor of shape (C,) or None, got {type(pos_weight).__name__}"
            )
        if pos_weight.shape != (logits.shape[1],):
            raise ValueError(f"Expected pos_weight of shape ({logits.shape[1]},), got {tuple(pos_weight.shape)}")
        if not bool((torch.isfinite(pos_weight) & (pos_weight >= 0)).all()):
            raise ValueError("Expected pos_weight finite and >= 0, got other values")
        w = pos_weight.to(device=logits.device, dtype=logits.dtype)
    loss = w * y * F.softplus(-logits) + (1 - y) * F.softplus(logits)
    return loss.mean()


def _threshold_tensor(threshold: float | torch.Tensor, n_labels: int, like: torch.Tensor) -> torch.Tensor:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | torch.Tensor):
        raise ValueError(f"Expected threshold to be a float or a tensor of shape (C,), got {type(threshold).__name__}")
    t = torch.as_tensor(threshold, dtype=like.dtype, device=like.device)
    if t.dim() != 0 and t.shape != (n_labels,):
        raise ValueError(
            f"Expected threshold to be a float or a tensor of shape ({n_labels},), got shape {tuple(t.shape)}"
        )
    if not bool(((t >= 0) & (t <= 1)).all()):
        raise ValueError("Expected threshold in [0, 1], got values outside")
    return t


def predict_labels(logits: torch.Tensor, threshold: float | torch.Tensor = 0.5) -> torch.Tensor:
    """The tags predicted for each example: ``sigmoid(logits) >= threshold``.

    The comparison is done in the logits' dtype; a tensor ``threshold`` holds one threshold
    per label.

    Shape:
        logits: ``(N, C)``; threshold: a float in [0, 1] or ``(C,)``. Output: ``(N, C)`` bool.
    """
    _check_matrix("logits", logits)
    _check_float("logits", logits)
    t = _threshold_tensor(threshold, logits.shape[1], logits)
    return torch.sigmoid(logits) >= t


def _candidates(candidates: Sequence[float] | torch.Tensor | None, like: torch.Tensor) -> torch.Tensor:
    if candidates is None:
        candidates = DEFAULT_CANDIDATES
    if isinstance(candidates, torch.Tensor):
        c = candidates.detach().to(device=like.device, dtype=like.dtype)
    else:
        try:
            values = [float(v) for v in candidates]
        except (TypeError, ValueError) as e:
            raise ValueError(
                f"Expected candidates to be a 1-D tensor or a sequence of numbers, got {candidates!r}"
            ) from e
        c = torch.tensor(values, dtype=like.dtype, device=like.device)
    if c.dim() != 1 or c.numel() == 0:
        raise ValueError(f"Expected candidates of shape (K,) with K >= 1, got {tuple(c.shape)}")
    if not bool(((c >= 0) & (c <= 1)).all()):
        raise ValueError("Expected candidates in [0, 1], got values outside")
    return c


def _f1_counts(pred: torch.Tensor, y: torch.Tensor, dim: int) -> torch.Tensor:
    """F1 from boolean predictions and targets, summed over ``dim``; 0 where undefined."""
    tp = (pred & y).sum(dim).to(torch.float64)
    fp = (pred & ~y).sum(dim).to(torch.float64)
    fn = (~pred & y).sum(dim).to(torch.float64)
    denom = 2 * tp + fp + fn
    return torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.zeros_like(denom))


def tune_thresholds(
    probs: torch.Tensor, targets: torch.Tensor, candidates: Sequence[float] | torch.Tensor | None = None
) -> torch.Tensor:
    """For each label, the candidate threshold with the best F1 of ``probs >= t`` on this data.

    F1 is ``2 TP / (2 TP + FP + FN)``, taken as 0 when undefined (no positive and no predicted
    positive); ties go to the smallest candidate value. Comparisons are made in the dtype of
    ``probs``. Default candidates: 0.05, 0.10, ..., 0.95.

    Shape:
        probs, targets: ``(N, C)``; probs in [0, 1], targets in {0, 1}.
        candidates: ``(K,)`` (tensor or sequence) in [0, 1]. Output: ``(C,)``, probs' dtype.
    """
    _check_matrix("probs", probs)
    _check_float("probs", probs)
    targets = _check_targets(targets, probs.shape)
    if not bool(((probs >= 0) & (probs <= 1)).all()):
        raise ValueError("Expected probs in [0, 1], got values outside")
    c = torch.sort(_candidates(candidates, probs)).values  # ascending: argmax keeps the first best
    p = probs.detach()
    y = targets.to(p.device).bool()
    pred = p.unsqueeze(0) >= c.view(-1, 1, 1)  # (K, N, C)
    f1 = _f1_counts(pred, y.unsqueeze(0), dim=1)  # (K, C)
    best = torch.argmax(f1, dim=0)  # the first (smallest) candidate among the best
    return c[best]


def micro_f1(pred: torch.Tensor, targets: torch.Tensor) -> float:
    """Micro-averaged F1 over all ``N * C`` decisions (0 when undefined).

    Shape:
        pred: ``(N, C)`` bool; targets: ``(N, C)`` in {0, 1}.
    """
    if pred.shape != targets.shape:
        raise ValueError(
            f"Expected pred and targets of the same shape, got {tuple(pred.shape)} and {tuple(targets.shape)}"
        )
    return float(_f1_counts(pred.bool().flatten(), targets.bool().flatten().to(pred.device), dim=0))


class _ShiftedLinear(torch.nn.Module):
    """A linear tagger whose logits are shifted by ``-logit(t_c)``: ``sigmoid >= 0.5`` on its
    output is ``sigmoid >= t_c`` on the trained model's."""

    def __init__(self, linear: torch.nn.Linear, shift: torch.Tensor) -> None:
        super().__init__()
        self.linear = linear
        self.register_buffer("shift", shift)

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        return self.linear(X) - self.shift


def _fit_linear_tagger(X: torch.Tensor, loss_fn, n_labels: int, *, epochs: int, lr: float) -> torch.nn.Linear:
    model = torch.nn.Linear(X.shape[1], n_labels).to(device=X.device, dtype=X.dtype)
    with torch.no_grad():  # zero start: the problem is convex, and no global seed is touched
        model.weight.zero_()
        model.bias.zero_()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    with torch.enable_grad(), one_thread():  # trains even when called under no_grad
        for _ in range(epochs):
            opt.zero_grad()
            loss_fn(model(X)).backward()
            opt.step()
    return model


def _check_xy(X: torch.Tensor, Y: torch.Tensor) -> None:
    _check_matrix("X", X)
    _check_float("X", X)
    _check_matrix("Y", Y)
    if Y.shape[0] != X.shape[0]:
        raise ValueError(f"Expected X and Y with the same number of rows, got {X.shape[0]} and {Y.shape[0]}")
    _check_targets(Y, Y.shape)


def train_fixed_tagger(X: torch.Tensor, Y: torch.Tensor) -> torch.nn.Module:
    """A linear tagger trained with :func:`multilabel_loss`, thresholds tuned per label.

    Full-batch Adam (lr 0.05, 300 steps) from zero weights; then :func:`tune_thresholds` on
    the training data picks each label's threshold, folded into the output as a logit shift,
    so ``predict_labels(model(X))`` (threshold 0.5) applies the tuned thresholds.

    Shape:
        X: ``(N, d)``; Y: ``(N, C)`` in {0, 1}. The module maps ``(M, d)`` to logits ``(M, C)``.
    """
    _check_xy(X, Y)
    y = Y.to(device=X.device, dtype=X.dtype)
    model = _fit_linear_tagger(X, lambda z: multilabel_loss(z, y), Y.shape[1], epochs=300, lr=0.05)
    with torch.no_grad():
        t = tune_thresholds(torch.sigmoid(model(X)), y).clamp(1e-6, 1 - 1e-6)
        shift = torch.log(t) - torch.log1p(-t)
    return _ShiftedLinear(model, shift).eval()


def train_softmax_tagger(X: torch.Tensor, Y: torch.Tensor) -> torch.nn.Module:
    """The buggy tagger: the same linear model and optimiser, trained with softmax +
    cross-entropy against the tag set spread evenly (``Y / Y.sum(1)``).

    Shape:
        X: ``(N, d)``; Y: ``(N, C)`` in {0, 1}. The module maps ``(M, d)`` to logits ``(M, C)``.
    """
    _check_xy(X, Y)
    y = Y.to(device=X.device, dtype=X.dtype)
    soft = y / y.sum(1, keepdim=True).clamp(min=1)
    return _fit_linear_tagger(X, lambda z: F.cross_entropy(z, soft), Y.shape[1], epochs=300, lr=0.05).eval()


def predict_top1(logits: torch.Tensor) -> torch.Tensor:
    """What the buggy tagger predicts: the single most probable tag (argmax of the softmax).

    Shape:
        logits: ``(N, C)``. Output: ``(N, C)`` bool, one True per row.
    """
    _check_matrix("logits", logits)
    return F.one_hot(logits.argmax(1), logits.shape[1]).bool()
