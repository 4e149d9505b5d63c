"""Hidden tests of the ``multilabel_fix`` assignment.

The graded training part calls the student's ``train_fixed_tagger`` on
``multilabel_tags(2000, seed=0)`` and reads tags from the returned module's logits on the
held-out ``multilabel_tags(5000, seed=2026)`` with ``sigmoid(logits) >= 0.5``. The bars come
from :func:`training_bars`, which measures the reference (``train_fixed_tagger``: sigmoid + BCE,
thresholds tuned and folded into the logits) and the buggy softmax tagger (the same linear
model trained with softmax + cross-entropy, read either as its top-1 tag or with
``sigmoid >= 0.5``, whichever scores better). Measured here (torch 2.13 CPU): reference
micro-F1 0.670 with 4.22 tags per example (true: 3.95); buggy 0.350 (top-1) and 0.530
(sigmoid, 10.0 tags per example); the F1 bar is halfway between the reference and the better
buggy reading, 0.600; the tag count must be within 1 of the true mean.
``tests/test_reference_multilabel.py`` recomputes these numbers.
"""

from __future__ import annotations

import functools

import torch

from autograder.checks import compare, error_message, judge_against
from autograder.reference import multilabel_fix as ref
from autograder.spec import Call, Outcome, Test
from lossprep.data import multilabel_tags

ASSIGNMENT = "multilabel_fix"

TRAIN_SEED, EVAL_SEED = 0, 2026
N_TRAIN, N_EVAL = 2000, 5000
TAG_COUNT_TOLERANCE = 1.0


def _shape(gen: torch.Generator) -> tuple[int, int]:
    return int(torch.randint(4, 40, (1,), generator=gen)), int(torch.randint(2, 12, (1,), generator=gen))


def _batch(gen: torch.Generator, n: int, c: int, *, scale: float = 3.0, dtype: torch.dtype = torch.float32):
    logits = torch.randn(n, c, generator=gen, dtype=torch.float64) * scale
    targets = (torch.rand(n, c, generator=gen) < 0.3).to(torch.float64)
    return logits.to(dtype), targets.to(dtype)


def _pos_weight(gen: torch.Generator, c: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    return (0.2 + 9.8 * torch.rand(c, generator=gen, dtype=torch.float64)).to(dtype)


def _reference_grad(fn):
    """The autograd gradient of reference ``fn`` with respect to its first argument, float64."""

    def grad(*args, **kwargs):
        x = args[0].detach().to(torch.float64).requires_grad_(True)
        cast = [a.to(torch.float64) if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args[1:]]
        kw = {
            k: v.to(torch.float64) if isinstance(v, torch.Tensor) and v.is_floating_point() else v
            for k, v in kwargs.items()
        }
        (g,) = torch.autograd.grad(fn(x, *cast, **kw), x)
        return g

    return grad


# ---------------------------------------------------------------- multilabel_loss


def _loss_calls(kind: str):
    def build(gen: torch.Generator) -> list[Call]:
        calls = []
        for i in range(3):
            n, c = _shape(gen)
            dtype = torch.float64 if kind == "float64" or i == 2 else torch.float32
            z, y = _batch(gen, n, c, dtype=dtype)
            if kind == "large_logits":
                sign = torch.where(torch.rand(n, c, generator=gen) < 0.5, -1.0, 1.0).to(dtype)
                z = sign * torch.tensor([1e4, 3e3, 500.0], dtype=dtype)[torch.randint(0, 3, (n, c), generator=gen)]
                z[0, 0], y[0, 0] = -1e4, 1.0  # confidently wrong
                z[-1, -1], y[-1, -1] = 1e4, 0.0
            kwargs = {}
            if kind in ("pos_weight", "large_logits") and i > 0:
                kwargs["pos_weight"] = _pos_weight(gen, c, dtype)
            calls.append(Call("multilabel_loss", (z, y), kwargs, mode="value_grad"))
        return calls

    return build


LOSS_GRAD = _reference_grad(ref.multilabel_loss)


def _loss_judge(where: str):
    return judge_against(
        ref.multilabel_loss, where=where, shape="scalar", check_grad=True, grad_reference=LOSS_GRAD, grad_shape="(N, C)"
    )


# ---------------------------------------------------------------- predict_labels


def _predict_calls(kind: str):
    def build(gen: torch.Generator) -> list[Call]:
        calls = []
        for i in range(3):
            n, c = _shape(gen)
            z, _ = _batch(gen, n, c, dtype=torch.float64 if i == 2 else torch.float32)
            if kind == "default":
                calls.append(Call("predict_labels", (z,)))
            elif kind == "float":
                calls.append(Call("predict_labels", (z, float(0.1 + 0.8 * torch.rand(1, generator=gen)))))
            elif kind == "tensor":
                calls.append(Call("predict_labels", (z, (0.05 + 0.9 * torch.rand(c, generator=gen)).to(z.dtype))))
            else:  # at_threshold: sigmoid(0) is exactly 0.5, sigmoid(+-1e4) exactly 1 and 0
                z[torch.rand(n, c, generator=gen) < 0.3] = 0.0
                z[0, 0], z[-1, -1] = 1e4, -1e4
                calls.append(Call("predict_labels", (z, 0.5)))
        return calls

    return build


def _predict_judge(where: str):
    def judge(calls: list[Call], outcomes: list[Outcome]) -> str | None:
        for call, out in zip(calls, outcomes, strict=True):
            msg = error_message(out, where)
            if msg:
                return msg
            msg = compare(
                out.value,
                ref.predict_labels(*call.args, **call.kwargs),
                where=where,
                shape="(N, C)",
                mismatch="wrong tags",
                bool_output=True,
            )
            if msg:
                return msg
        return None

    return judge


# ---------------------------------------------------------------- tune_thresholds


def _tune_calls(kind: str):
    def build(gen: torch.Generator) -> list[Call]:
        calls = []
        for i in range(3):
            n, c = _shape(gen)
            n += 20
            probs = torch.rand(n, c, generator=gen, dtype=torch.float64)
            y = (torch.rand(n, c, generator=gen) < 0.3).to(torch.float64)
            y = torch.where(torch.rand(n, c, generator=gen) < 0.5, (probs > 0.5).to(torch.float64), y)  # some signal
            y[0], y[1] = 1.0, 0.0  # every label has a positive and a negative
            dtype = torch.float64 if i == 2 else torch.float32
            probs, y = probs.to(dtype), y.to(dtype)
            if kind == "default":
                calls.append(Call("tune_thresholds", (probs, y)))
            elif kind == "candidates":
                cands = torch.rand(int(torch.randint(2, 8, (1,), generator=gen)), generator=gen, dtype=torch.float64)
                cands = [round(float(v), 3) for v in cands]  # unsorted, as a list or a tensor
                given = cands if i != 1 else torch.tensor(cands, dtype=dtype)
                calls.append(Call("tune_thresholds", (probs, y), {"candidates": given}))
            elif kind == "ties":  # probabilities on a coarse grid between candidates: many tie
                grid = torch.tensor([0.0, 0.22, 0.47, 0.72, 1.0], dtype=dtype)
                calls.append(Call("tune_thresholds", (grid[torch.randint(0, 5, (n, c), generator=gen)], y)))
            else:  # undefined: a label with no positive and, at high thresholds, no prediction
                y[:, 0] = 0.0
                probs[:, 0] = probs[:, 0] * 0.6
                calls.append(Call("tune_thresholds", (probs, y)))
        return calls

    return build


def _tune_judge(where: str):
    return judge_against(
        ref.tune_thresholds, where=where, shape="(C,)", rtol=0, atol=1e-6, mismatch="picks the wrong thresholds"
    )


# ---------------------------------------------------------------- train_fixed_tagger


def _data():
    return multilabel_tags(N_TRAIN, seed=TRAIN_SEED), multilabel_tags(N_EVAL, seed=EVAL_SEED)


def _train_build(gen: torch.Generator) -> list[Call]:
    train, held_out = _data()
    return [Call("train_fixed_tagger", (train.X, train.Y), mode="module", extra={"X_eval": held_out.X})]


def tag_metrics(pred: torch.Tensor, Y: torch.Tensor) -> tuple[float, float]:
    """(micro-F1, mean predicted tags per example) of boolean predictions."""
    return ref.micro_f1(pred, Y), float(pred.sum(1).double().mean())


@functools.cache
def training_bars() -> dict[str, float]:
    """The reference's and the buggy tagger's held-out metrics, and the F1 bar between them."""
    train, held_out = _data()
    fixed_model, buggy_model = ref.train_fixed_tagger(train.X, train.Y), ref.train_softmax_tagger(train.X, train.Y)
    with torch.no_grad():
        fixed, buggy = fixed_model(held_out.X), buggy_model(held_out.X)
    f1_ref, tags_ref = tag_metrics(ref.predict_labels(fixed), held_out.Y)
    f1_top1, _ = tag_metrics(ref.predict_top1(buggy), held_out.Y)
    f1_sig, tags_sig = tag_metrics(ref.predict_labels(buggy), held_out.Y)
    return {
        "f1_reference": f1_ref,
        "tags_reference": tags_ref,
        "tags_true": float(held_out.Y.sum(1).double().mean()),
        "f1_buggy_top1": f1_top1,
        "f1_buggy_sigmoid": f1_sig,
        "tags_buggy_sigmoid": tags_sig,
        "f1_bar": (f1_ref + max(f1_top1, f1_sig)) / 2,
    }


def _train_outputs(outcomes: list[Outcome]) -> tuple[torch.Tensor | None, str | None]:
    (out,) = outcomes
    msg = error_message(out, "when called on the training data")
    if msg:
        return None, msg
    _, held_out = _data()
    z = out.value
    if not isinstance(z, torch.Tensor) or tuple(z.shape) != tuple(held_out.Y.shape):
        got = tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__
        return None, f"the returned model gives outputs of the wrong shape: expected logits (N, C), got {got}"
    if not bool(torch.isfinite(z).all()):
        return None, "the returned model gives nan or inf logits"
    return z.to(torch.float64), None


def _judge_f1(calls: list[Call], outcomes: list[Outcome]) -> str | None:
    z, msg = _train_outputs(outcomes)
    if z is None:
        return msg
    _, held_out = _data()
    f1, _ = tag_metrics(torch.sigmoid(z) >= 0.5, held_out.Y)
    if f1 < training_bars()["f1_bar"]:
        return (
            "on held-out examples, the tags read from your model's logits with the default threshold have a "
            "micro-F1 no better than the softmax tagger's"
        )
    return None


def _judge_count(calls: list[Call], outcomes: list[Outcome]) -> str | None:
    z, msg = _train_outputs(outcomes)
    if z is None:
        return msg
    _, held_out = _data()
    _, tags = tag_metrics(torch.sigmoid(z) >= 0.5, held_out.Y)
    true = float(held_out.Y.sum(1).double().mean())
    if abs(tags - true) > TAG_COUNT_TOLERANCE:
        side = "too few" if tags < true else "too many"
        return f"on held-out examples the model predicts {side} tags per example (read with the default threshold)"
    return None


LARGE = "when |logits| is large"

PARTS: dict[str, list[Test]] = {
    "multilabel_fix-test-multilabel_loss": [
        Test("multilabel_loss:random", 3, _loss_calls("random"), _loss_judge("on random logits")),
        Test("multilabel_loss:pos_weight", 2, _loss_calls("pos_weight"), _loss_judge("with a pos_weight per label")),
        Test("multilabel_loss:float64", 1, _loss_calls("float64"), _loss_judge("on float64 inputs")),
        Test("multilabel_loss:large_logits", 2, _loss_calls("large_logits"), _loss_judge(LARGE)),
    ],
    "multilabel_fix-test-predict_labels": [
        Test("predict_labels:default", 1, _predict_calls("default"), _predict_judge("with the default threshold")),
        Test("predict_labels:float_threshold", 1, _predict_calls("float"), _predict_judge("with another threshold")),
        Test(
            "predict_labels:tensor_threshold",
            2,
            _predict_calls("tensor"),
            _predict_judge("with one threshold per label"),
        ),
        Test(
            "predict_labels:at_threshold",
            1,
            _predict_calls("at_threshold"),
            _predict_judge("when a probability equals the threshold or |logits| is large"),
        ),
    ],
    "multilabel_fix-test-tune_thresholds": [
        Test("tune_thresholds:default", 2, _tune_calls("default"), _tune_judge("with the default candidates")),
        Test(
            "tune_thresholds:candidates", 1, _tune_calls("candidates"), _tune_judge("with given candidates (unsorted)")
        ),
        Test("tune_thresholds:ties", 2, _tune_calls("ties"), _tune_judge("when several candidates give the same F1")),
        Test(
            "tune_thresholds:undefined_f1",
            1,
            _tune_calls("undefined"),
            _tune_judge("when a label has no positive example"),
        ),
    ],
    "multilabel_fix-test-train_fixed_tagger": [
        Test("train_fixed_tagger:f1", 2, _train_build, _judge_f1),
        Test("train_fixed_tagger:tag_count", 1, _train_build, _judge_count),
    ],
}
