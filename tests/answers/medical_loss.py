"""Answers to the ``medical_loss`` exercise, written as students write them.

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


def medical_loss_vectorised(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return (w * F.binary_cross_entropy_with_logits(logits, targets, reduction="none")).mean()


def medical_loss_grad_vectorised(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return w * (torch.sigmoid(logits) - targets) / logits.numel()


def calibrated_probability_vectorised(logits, pos_weight):
    return torch.sigmoid(logits - math.log(pos_weight))


def medical_loss_per_class_float64(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    """A loop over the two classes, float64 throughout, logsigmoid."""
    z, y, s = logits.double(), targets.double(), severity.double()
    total = torch.zeros((), dtype=torch.float64, device=logits.device)
    for cls in (0, 1):
        m = y == cls
        if cls == 1:
            total = total - (fn_cost * (1 + alpha * s[m] / 10) * F.logsigmoid(z[m])).sum()
        else:
            total = total - F.logsigmoid(-z[m]).sum()
    return total / z.shape[0]


def medical_loss_grad_per_example(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    """A Python loop over the examples with math.exp, branch by branch so it stays finite."""
    n = len(logits)
    out = []
    for z, y, s in zip(logits.tolist(), targets.tolist(), severity.tolist(), strict=True):
        w = fn_cost * (1 + alpha * s / 10) if y == 1 else 1.0
        p = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
        out.append(w * (p - y) / n)
    return torch.tensor(out, dtype=torch.float64, device=logits.device)


def calibrated_probability_expit_float64(logits, pos_weight):
    shift = torch.log(torch.as_tensor(pos_weight, dtype=torch.float64))
    return torch.special.expit(logits.double() - shift.to(logits.device))


RIGHT = {
    "vectorised": [medical_loss_vectorised, medical_loss_grad_vectorised, calibrated_probability_vectorised],
    "loops in float64": [
        medical_loss_per_class_float64,
        medical_loss_grad_per_example,
        calibrated_probability_expit_float64,
    ],
}

# ---------------------------------------------------------------- wrong


def medical_loss_unstable_log(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    """log of a sigmoid: -inf (then inf or nan) once |logit| is large."""
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    p = torch.sigmoid(logits)
    return (-w * (targets * torch.log(p) + (1 - targets) * torch.log(1 - p))).mean()


def medical_loss_clamped_log(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    """The usual "fix": clamp the probability; finite, but wrong for large logits."""
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    p = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
    return (-w * (targets * torch.log(p) + (1 - targets) * torch.log(1 - p))).mean()


def medical_loss_normalised_by_weights(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return (w * F.binary_cross_entropy_with_logits(logits, targets, reduction="none")).sum() / w.sum()


def medical_loss_severity_not_scaled(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity), torch.ones_like(severity))
    return (w * F.binary_cross_entropy_with_logits(logits, targets, reduction="none")).mean()


def medical_loss_severity_on_negatives(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), 1 + alpha * severity / 10)
    return (w * F.binary_cross_entropy_with_logits(logits, targets, reduction="none")).mean()


def medical_loss_softmax(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return -(w * targets * torch.log_softmax(logits, dim=0)).mean()


def medical_loss_summed(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    """A sum where the notebook asks for the mean."""
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return (w * F.binary_cross_entropy_with_logits(logits, targets, reduction="none")).sum()


def medical_loss_plain_bce(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    """No weights at all: plain BCE (the baseline the training part must beat)."""
    return F.binary_cross_entropy_with_logits(logits, targets)


def medical_loss_grad_without_mean(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return w * (torch.sigmoid(logits) - targets)


def medical_loss_grad_sign(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return w * (targets - torch.sigmoid(logits)) / len(logits)


def calibrated_probability_wrong_way(logits, pos_weight):
    return torch.sigmoid(logits + math.log(pos_weight))


def calibrated_probability_divides(logits, pos_weight):
    return torch.sigmoid(logits) / pos_weight


def calibrated_probability_subtracts_weight(logits, pos_weight):
    """The weight itself subtracted from the logit, not its log."""
    return torch.sigmoid(logits - pos_weight)


BASIC = {"medical_loss:random", "medical_loss:options"}
WRONG = {
    medical_loss_unstable_log: {"medical_loss:large_logits", "medical_loss:autograd"},
    medical_loss_clamped_log: {"medical_loss:large_logits", "medical_loss:autograd"},
    medical_loss_normalised_by_weights: {*BASIC, "medical_loss:severity_ignored"},
    medical_loss_severity_not_scaled: BASIC,
    medical_loss_severity_on_negatives: {"medical_loss:random", "medical_loss:severity_ignored"},
    medical_loss_softmax: {*BASIC, "medical_loss:one_class"},
    medical_loss_summed: BASIC,
    medical_loss_plain_bce: {*BASIC, "training:severe_recall"},
    medical_loss_grad_without_mean: {"medical_loss_grad:random", "medical_loss_grad:options"},
    medical_loss_grad_sign: {"medical_loss_grad:random", "medical_loss_grad:options", "medical_loss_grad:large_logits"},
    calibrated_probability_wrong_way: {"calibrated_probability:random", "calibrated_probability:large_logits"},
    calibrated_probability_divides: {"calibrated_probability:random", "calibrated_probability:large_logits"},
    calibrated_probability_subtracts_weight: {"calibrated_probability:random", "calibrated_probability:pos_weight_one"},
}

# what a student reads for some of them (a phrase of the message of a test)
SAYS = {
    medical_loss_unstable_log: (
        "medical_loss:large_logits",
        "right on basic inputs, but returns nan when |logits| is large",
    ),
    medical_loss_summed: ("medical_loss:random", "off by a factor of N (a sum where the mean belongs?)"),
    medical_loss_grad_without_mean: ("medical_loss_grad:random", "off by a factor of N"),
    medical_loss_grad_sign: ("medical_loss_grad:random", "off by a constant factor"),
}
