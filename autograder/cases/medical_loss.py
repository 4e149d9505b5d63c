"""Hidden tests of the ``medical_loss`` assignment.

The graded training part trains a logistic-regression scorer (``torch.nn.Linear(8, 1)``, full
batch, Adam with lr 0.05, 300 steps, seed 0) on ``imbalanced_xrays(4000, seed=0)`` with the
student's ``medical_loss`` (defaults fn_cost=20, alpha=1), and measures on the held-out
``imbalanced_xrays(20000, seed=2026)`` the recall on severe abnormal cases (severity >= 8) at a
false-positive rate of 10%. Measured here (torch 2.13 CPU): the reference loss reaches 0.756,
plain BCE 0.689 with the same recipe (class weights without severity: 0.706); the bar is
halfway between the reference and plain BCE, 0.722 (see :func:`training_bar`;
``tests/test_grading_medical_loss.py`` recomputes these numbers).
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from autograder.checks import error_message, judge_against
from autograder.reference import medical_loss as ref
from autograder.spec import Call, Outcome, Test
from lossprep.data import imbalanced_xrays

ASSIGNMENT = "medical_loss"

TRAIN_SEED, EVAL_SEED = 0, 2026
N_TRAIN, N_EVAL = 4000, 20000
FPR = 0.10
SEVERE = 8.0
RECIPE = {"epochs": 300, "lr": 0.05, "seed": 0}
# measured with :func:`training_bar` (the test suite recomputes them): 170 and 155 of the 225
# severe cases of the held-out set; the bar is halfway
REFERENCE_RECALL, BCE_RECALL = 0.7556, 0.6889
BAR = (REFERENCE_RECALL + BCE_RECALL) / 2


def _batch(
    gen: torch.Generator, n: int, *, scale: float = 3.0, pos_rate: float = 0.3, dtype: torch.dtype = torch.float32
):
    """Random logits, targets with both classes, severities in [1, 10] (also on negatives)."""
    logits = torch.randn(n, generator=gen, dtype=torch.float64) * scale
    targets = (torch.rand(n, generator=gen) < pos_rate).to(torch.float64)
    targets[0], targets[-1] = 1.0, 0.0
    severity = 1 + 9 * torch.rand(n, generator=gen, dtype=torch.float64)
    return logits.to(dtype), targets.to(dtype), severity.to(dtype)


def _size(gen: torch.Generator, low: int = 5, high: int = 60) -> int:
    return int(torch.randint(low, high, (1,), generator=gen))


def _basic(fn: str, mode: str = "value"):
    def build(gen: torch.Generator) -> list[Call]:
        return [Call(fn, _batch(gen, _size(gen)), mode=mode) for _ in range(3)]

    return build


def _accelerator(fn: str, mode: str = "value"):
    """Inputs on the grading machine's GPU when it has one (on the CPU otherwise)."""

    def build(gen: torch.Generator) -> list[Call]:
        return [Call(fn, _batch(gen, _size(gen)), mode=mode, extra={"device": "accelerator"}) for _ in range(2)]

    return build


def _options(fn: str):
    def build(gen: torch.Generator) -> list[Call]:
        calls = []
        for fn_cost, alpha in ((1.0, 0.0), (5.5, 2.5), (20.0, 0.3)):
            calls.append(Call(fn, _batch(gen, _size(gen)), {"fn_cost": fn_cost, "alpha": alpha}))
        return calls

    return build


def _severity_ignored(fn: str):
    def build(gen: torch.Generator) -> list[Call]:
        z, y, s = _batch(gen, _size(gen, 10, 40))
        s = torch.where(y == 1, s, torch.where(torch.rand(s.shape, generator=gen) < 0.5, 0.0, 37.0))
        return [Call(fn, (z, y, s))]

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
        z = torch.randn(_size(gen), generator=gen) * 4
        weights = (1.0,) if kind == "one" else (20.0, 3.7, 0.5)
        return [Call("calibrated_probability", (z, w)) for w in weights]

    return build


def _value(fn_ref, where: str, shape: str = "() (a scalar)", mismatch: str = "wrong value", **kw):
    return judge_against(fn_ref, where=where, shape=shape, mismatch=mismatch, **kw)


LARGE = "when |logits| is large"
GRAD_MISMATCH = "gradient does not match the loss"


def _train_build(gen: torch.Generator) -> list[Call]:
    train, held_out = imbalanced_xrays(N_TRAIN, seed=TRAIN_SEED), imbalanced_xrays(N_EVAL, seed=EVAL_SEED)
    return [
        Call(
            "medical_loss",
            (train.target, train.severity),
            mode="fit_linear",
            extra={"X": train.X, "X_eval": held_out.X, **RECIPE},
        )
    ]


def severe_recall(scores: torch.Tensor, target: torch.Tensor, severity: torch.Tensor, fpr: float = FPR) -> float:
    """Recall on abnormal cases with severity >= 8 at the threshold giving false-positive rate ``fpr``."""
    threshold = torch.quantile(scores[target == 0].double(), 1 - fpr)
    severe = (target == 1) & (severity >= SEVERE)
    return float((scores[severe].double() > threshold).double().mean())


def _fit(loss_fn) -> torch.Tensor:
    """The same recipe as the collector's ``fit_linear``, in the grader."""
    train, held_out = imbalanced_xrays(N_TRAIN, seed=TRAIN_SEED), imbalanced_xrays(N_EVAL, seed=EVAL_SEED)
    torch.manual_seed(RECIPE["seed"])
    model = torch.nn.Linear(train.X.shape[-1], 1)
    opt = torch.optim.Adam(model.parameters(), lr=RECIPE["lr"])
    for _ in range(RECIPE["epochs"]):
        opt.zero_grad()
        loss_fn(model(train.X).squeeze(-1), train.target, train.severity).backward()
        opt.step()
    with torch.no_grad():
        return model(held_out.X).squeeze(-1)


@functools.cache
def training_bar() -> tuple[float, float, float]:
    """(reference recall, plain BCE recall, bar) recomputed; :data:`BAR` holds the measured bar."""
    held_out = imbalanced_xrays(N_EVAL, seed=EVAL_SEED)
    r_ref = severe_recall(_fit(ref.medical_loss), held_out.target, held_out.severity)
    r_bce = severe_recall(
        _fit(lambda z, y, s: F.binary_cross_entropy_with_logits(z, y)), held_out.target, held_out.severity
    )
    return r_ref, r_bce, (r_ref + r_bce) / 2


def _train_judge(calls: list[Call], outcomes: list[Outcome]) -> str | None:
    (out,) = outcomes
    msg = error_message(out, "while training with your loss")
    if msg:
        return msg
    held_out = imbalanced_xrays(N_EVAL, seed=EVAL_SEED)
    scores = out.value
    if (
        not isinstance(scores, torch.Tensor)
        or scores.shape != held_out.target.shape
        or not bool(torch.isfinite(scores).all())
    ):
        return "the classifier trained with your loss gives no finite scores"
    if severe_recall(scores, held_out.target, held_out.severity) < BAR:
        return "trained with your loss, the classifier catches too few severe abnormal cases at a 10% false-positive rate (no better than plain BCE)"
    return None


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
            _value(ref.medical_loss, "when severity holds junk where targets are 0"),
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
            _accelerator("medical_loss", "value_grad"),
            _value(
                ref.medical_loss,
                "on the GPU (inputs on the grading machine's accelerator)",
                check_grad=True,
                grad_reference=ref.medical_loss_grad,
            ),
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
            _accelerator("medical_loss_grad"),
            _value(
                ref.medical_loss_grad, "on the GPU (inputs on the grading machine's accelerator)", "(N,)", GRAD_MISMATCH
            ),
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
