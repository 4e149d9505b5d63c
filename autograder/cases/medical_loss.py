"""Hidden tests of the ``medical_loss`` assignment: input builders and the parts.

Inputs follow the rules the notebook states: ``logits``, ``targets``, ``severity`` of shape
``(N,)`` with N >= 1, all in one float dtype (float32 or float64); targets 0.0 or 1.0; severity
in [1, 10] where the target is 1 and some other finite value (never nan) where it is 0.

The graded training part trains a ``torch.nn.Linear(8, 1)`` scorer (full batch, Adam, lr 0.05,
300 steps, seed 0) on ``imbalanced_xrays(4000, seed=0)`` with the student's ``medical_loss``
(defaults) and scores it on held-out X-rays drawn with a seed kept here: the recall on severe
abnormal cases (severity >= 8) at a 10% false-positive rate must reach :data:`BARS` ``.bar``,
halfway between the reference loss and plain BCE on the same recipe (the notebook states the
three numbers; ``tests/test_grading_assignments.py`` recomputes them).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from autograder.checks import judge_against
from autograder.recipes import Bars, fit_linear_call, linear_scores, train_linear, trained_output
from autograder.reference import medical_loss as ref
from autograder.spec import Call, Kind, Outcome, Test, Verdict
from lossprep.data import imbalanced_xrays

TRAIN_SEED = 0
EVAL_SEED = 0x12007A1AFDF75D67  # the held-out X-rays: not guessable, so not reproducible by a student
N_TRAIN, N_EVAL = 4000, 100_000
FPR = 0.10
SEVERE = 8.0
RECIPE = {"epochs": 300, "lr": 0.05, "seed": 0}
BARS = Bars(reference=0.8077, baseline=0.7459)  # measured by measure_bars(); the notebook states them


def _batch(gen: torch.Generator, n: int, *, dtype: torch.dtype = torch.float32, scale: float = 3.0):
    """Random logits, targets with both classes, severities in [1, 10] (also on negatives)."""
    logits = torch.randn(n, generator=gen, dtype=torch.float64) * scale
    targets = (torch.rand(n, generator=gen) < 0.3).to(torch.float64)
    targets[0], targets[-1] = 1.0, 0.0
    severity = 1 + 9 * torch.rand(n, generator=gen, dtype=torch.float64)
    return logits.to(dtype), targets.to(dtype), severity.to(dtype)


def _size(gen: torch.Generator, low: int = 5, high: int = 60) -> int:
    return int(torch.randint(low, high, (1,), generator=gen))


def _dtype(i: int) -> torch.dtype:
    """Every third call in float64."""
    return torch.float64 if i % 3 == 2 else torch.float32


def _basic(fn: str, mode: str = "value", extra: dict | None = None, calls: int = 3):
    def build(gen: torch.Generator) -> list[Call]:
        return [Call(fn, _batch(gen, _size(gen), dtype=_dtype(i)), mode=mode, extra=extra or {}) for i in range(calls)]

    return build


def _options(fn: str):
    def build(gen: torch.Generator) -> list[Call]:
        return [
            Call(fn, _batch(gen, _size(gen), dtype=_dtype(i)), {"fn_cost": fn_cost, "alpha": alpha})
            for i, (fn_cost, alpha) in enumerate(((1.0, 0.0), (5.5, 2.5), (20.0, 0.3)))
        ]

    return build


def _severity_ignored(fn: str):
    def build(gen: torch.Generator) -> list[Call]:
        z, y, s = _batch(gen, _size(gen, 10, 40))
        junk = torch.tensor([0.0, 37.0, -5.0])[torch.randint(0, 3, s.shape, generator=gen)]
        return [Call(fn, (z, y, torch.where(y == 1, s, junk)))]

    return build


def _one_class(fn: str):
    def build(gen: torch.Generator) -> list[Call]:
        z, _, s = _batch(gen, _size(gen))
        return [Call(fn, (z, torch.zeros_like(z), s)), Call(fn, (z, torch.ones_like(z), s))]

    return build


def _large(fn: str, mode: str = "value"):
    def build(gen: torch.Generator) -> list[Call]:
        n = _size(gen, 8, 30)
        _, y, s = _batch(gen, n)
        sign = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
        z = sign * torch.tensor([1e4, 5e3, 1e3, 200.0])[torch.randint(0, 4, (n,), generator=gen)]
        z[0], z[-1] = -1e4, 1e4  # a positive and a negative each confidently wrong
        right = torch.where(y == 1, 1e4, -1e4)  # every example confidently right
        return [Call(fn, (z, y, s), mode=mode), Call(fn, (right, y, s), mode=mode)]

    return build


def _calibrated(kind: str):
    def build(gen: torch.Generator) -> list[Call]:
        if kind == "large":
            z = torch.tensor([-1e4, -300.0, 0.0, 300.0, 1e4])
            return [Call("calibrated_probability", (z, 20.0)), Call("calibrated_probability", (z, 0.25))]
        weights = (1.0,) if kind == "one" else (20.0, 3.7, 0.5)
        return [
            Call("calibrated_probability", (torch.randn(_size(gen), generator=gen, dtype=_dtype(i)) * 4, w))
            for i, w in enumerate(weights)
        ]

    return build


def _value(fn_ref, where: str, shape: str = "() (a scalar)", mismatch: str = "wrong value", **kw):
    return judge_against(fn_ref, where=where, shape=shape, mismatch=mismatch, **kw)


# ---------------------------------------------------------------- training


def _data():
    return imbalanced_xrays(N_TRAIN, seed=TRAIN_SEED), imbalanced_xrays(N_EVAL, seed=EVAL_SEED)


def _train_build(gen: torch.Generator) -> list[Call]:
    train, _ = _data()
    return [fit_linear_call("medical_loss", train.X, (train.target, train.severity), RECIPE)]


def severe_recall(scores: torch.Tensor, target: torch.Tensor, severity: torch.Tensor, fpr: float = FPR) -> float:
    """Recall on abnormal cases with severity >= 8 at the threshold giving false-positive rate ``fpr``."""
    threshold = torch.quantile(scores[target == 0].double(), 1 - fpr)
    severe = (target == 1) & (severity >= SEVERE)
    return float((scores[severe].double() > threshold).double().mean())


def measure_bars() -> Bars:
    """The reference loss and plain BCE, each trained by the recipe, on the held-out X-rays."""
    train, held_out = _data()
    recalls = []
    for loss in (ref.medical_loss, lambda z, y, s: F.binary_cross_entropy_with_logits(z, y)):
        params = train_linear(loss, train.X, (train.target, train.severity), RECIPE)
        recalls.append(severe_recall(linear_scores(params, held_out.X), held_out.target, held_out.severity))
    return Bars(reference=round(recalls[0], 4), baseline=round(recalls[1], 4))


def _train_judge(calls: list[Call], outcomes: list[Outcome]) -> Verdict | None:
    train, held_out = _data()
    params, verdict = trained_output(outcomes, (train.X.shape[1] + 1,), "classifier")
    if params is None:
        return verdict
    if severe_recall(linear_scores(params, held_out.X), held_out.target, held_out.severity) < BARS.bar:
        return Verdict(
            Kind.TRAINING,
            "trained with your loss, the classifier catches too few severe abnormal cases at a 10% "
            "false-positive rate (below the bar the notebook states)",
        )
    return None


LARGE = "when |logits| is large"
GRAD_MISMATCH = "gradient does not match the loss"
GPU = "on the GPU (inputs on the grading machine's accelerator)"
ACCELERATOR = {"device": "accelerator"}

PARTS: dict[str, list[Test]] = {
    "medical_loss-test-medical_loss": [
        Test("medical_loss:random", 2, _basic("medical_loss"), _value(ref.medical_loss, "on random inputs")),
        Test(
            "medical_loss:options", 1, _options("medical_loss"), _value(ref.medical_loss, "for other fn_cost and alpha")
        ),
        Test(
            "medical_loss:severity_ignored",
            1,
            _severity_ignored("medical_loss"),
            _value(ref.medical_loss, "when severity holds other values where targets are 0"),
        ),
        Test(
            "medical_loss:one_class",
            1,
            _one_class("medical_loss"),
            _value(ref.medical_loss, "when all targets are equal"),
        ),
        Test("medical_loss:large_logits", 2, _large("medical_loss"), _value(ref.medical_loss, LARGE)),
        Test(
            "medical_loss:autograd",
            1,
            _large("medical_loss", "value_grad"),
            _value(ref.medical_loss, LARGE, check_grad=True, grad_reference=ref.medical_loss_grad),
        ),
        Test(
            "medical_loss:device",
            1,
            _basic("medical_loss", "value_grad", ACCELERATOR, calls=2),
            _value(ref.medical_loss, GPU, check_grad=True, grad_reference=ref.medical_loss_grad),
        ),
    ],
    "medical_loss-test-medical_loss_grad": [
        Test(
            "medical_loss_grad:random",
            2,
            _basic("medical_loss_grad"),
            _value(ref.medical_loss_grad, "on random inputs", "(N,)", GRAD_MISMATCH),
        ),
        Test(
            "medical_loss_grad:options",
            1,
            _options("medical_loss_grad"),
            _value(ref.medical_loss_grad, "for other fn_cost and alpha", "(N,)", GRAD_MISMATCH),
        ),
        Test(
            "medical_loss_grad:large_logits",
            1,
            _large("medical_loss_grad"),
            _value(ref.medical_loss_grad, LARGE, "(N,)", GRAD_MISMATCH),
        ),
        Test(
            "medical_loss_grad:device",
            1,
            _basic("medical_loss_grad", extra=ACCELERATOR, calls=2),
            _value(ref.medical_loss_grad, GPU, "(N,)", GRAD_MISMATCH),
        ),
    ],
    "medical_loss-test-calibrated_probability": [
        Test(
            "calibrated_probability:random",
            2,
            _calibrated("random"),
            _value(ref.calibrated_probability, "on random logits", "(N,)"),
        ),
        Test(
            "calibrated_probability:pos_weight_one",
            1,
            _calibrated("one"),
            _value(ref.calibrated_probability, "when pos_weight is 1 (nothing to undo)", "(N,)"),
        ),
        Test(
            "calibrated_probability:large_logits",
            1,
            _calibrated("large"),
            _value(ref.calibrated_probability, LARGE, "(N,)"),
        ),
    ],
    "medical_loss-test-training": [
        Test("training:severe_recall", 1, _train_build, _train_judge),
    ],
}
