"""Hidden tests of the ``multilabel_fix`` assignment: input builders and the parts.

Inputs follow the rules the notebook states: ``logits``/``probs`` and ``targets`` of shape
``(N, C)`` with N, C >= 1, in one float dtype (float32 or float64); targets 0.0 or 1.0 (never
soft, never bool); ``pos_weight`` and threshold tensors in the same dtype. No probability lies
within 1e-4 of a candidate threshold of ``tune_thresholds``, so how the grid is written and in
which dtype it is compared do not change the answer; ties in F1 go to the smallest candidate;
``predict_labels`` is ``sigmoid(logits) >= threshold`` exactly, including at the threshold
(also at 1.0, where a large logit's sigmoid rounds to 1).

The graded training part calls the student's ``train_fixed_tagger`` on
``multilabel_tags(2000, seed=0)`` and reads tags from the returned module's logits on held-out
photos drawn with a seed kept here, with ``sigmoid(logits) >= 0.5``. The micro-F1 must reach
:data:`BARS` ``.bar`` (halfway between the reference and the better reading of the softmax
tagger), and the mean number of tags per photo must be within :data:`TAG_COUNT_TOLERANCE` of the
true mean. The notebook states these numbers; ``tests/test_grading_assignments.py`` recomputes
them.
"""

from __future__ import annotations

import torch

from autograder.checks import compare, error_verdict, judge_against
from autograder.recipes import Bars, one_thread, reference_grad, trained_output
from autograder.reference import multilabel_fix as ref
from autograder.spec import Call, Kind, Outcome, Test, Verdict
from lossprep.data import multilabel_tags

TRAIN_SEED = 0
EVAL_SEED = 0x293B8361FCB5ADE4  # the held-out photos: not guessable, so not reproducible by a student
N_TRAIN, N_EVAL = 2000, 10_000
TAG_COUNT_TOLERANCE = 1.0
BARS = Bars(reference=0.6735, baseline=0.5304, true_mean=3.9548)  # measured by measure_bars()
GRID_MARGIN = 1e-4  # no hidden probability lies closer than this to a candidate threshold


def _shape(gen: torch.Generator) -> tuple[int, int]:
    return int(torch.randint(4, 40, (1,), generator=gen)), int(torch.randint(2, 12, (1,), generator=gen))


def _dtype(i: int) -> torch.dtype:
    """Every third call in float64."""
    return torch.float64 if i % 3 == 2 else torch.float32


def _batch(gen: torch.Generator, n: int, c: int, *, scale: float = 3.0, dtype: torch.dtype = torch.float32):
    logits = torch.randn(n, c, generator=gen, dtype=torch.float64) * scale
    targets = (torch.rand(n, c, generator=gen) < 0.3).to(torch.float64)
    return logits.to(dtype), targets.to(dtype)


def _pos_weight(gen: torch.Generator, c: int, dtype: torch.dtype) -> torch.Tensor:
    return (0.2 + 9.8 * torch.rand(c, generator=gen, dtype=torch.float64)).to(dtype)


# ---------------------------------------------------------------- multilabel_loss


def _loss_calls(kind: str):
    def build(gen: torch.Generator) -> list[Call]:
        calls = []
        for i in range(3):
            n, c = _shape(gen)
            dtype = torch.float64 if kind == "float64" else _dtype(i)
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


def _loss_judge(where: str):
    return judge_against(
        ref.multilabel_loss,
        where=where,
        shape="scalar",
        check_grad=True,
        grad_reference=reference_grad(ref.multilabel_loss),
        grad_shape="(N, C)",
        dims=("N", "C"),
    )


# ---------------------------------------------------------------- predict_labels


def _predict_calls(kind: str):
    def build(gen: torch.Generator) -> list[Call]:
        calls = []
        for i in range(3):
            n, c = _shape(gen)
            dtype = _dtype(i)
            z, _ = _batch(gen, n, c, dtype=dtype)
            if kind == "default":
                calls.append(Call("predict_labels", (z,)))
            elif kind == "float":
                calls.append(Call("predict_labels", (z, float(0.1 + 0.8 * torch.rand(1, generator=gen)))))
            elif kind == "tensor":
                calls.append(Call("predict_labels", (z, (0.05 + 0.9 * torch.rand(c, generator=gen)).to(dtype))))
            elif i == 0:  # sigmoid(0) is exactly 0.5; sigmoid(+-1e4) exactly 1 and 0
                z[torch.rand(n, c, generator=gen) < 0.3] = 0.0
                z[0, 0], z[-1, -1] = 1e4, -1e4
                calls.append(Call("predict_labels", (z, 0.5)))
            elif i == 1:  # threshold 1: only logits whose sigmoid rounds to exactly 1 are tags
                z = z * 8 + 20
                calls.append(Call("predict_labels", (z, 1.0)))
            else:  # one threshold per label, equal to the sigmoid of the first row
                calls.append(Call("predict_labels", (z, torch.sigmoid(z[0]))))
        return calls

    return build


def _predict_judge(where: str):
    def judge(calls: list[Call], outcomes: list[Outcome]) -> Verdict | None:
        for call, out in zip(calls, outcomes, strict=True):
            verdict = error_verdict(out, where) or compare(
                out.value,
                ref.predict_labels(*call.args, **call.kwargs),
                where=where,
                shape="(N, C)",
                mismatch="wrong tags",
                bool_output=True,
            )
            if verdict:
                return verdict
        return None

    return judge


# ---------------------------------------------------------------- tune_thresholds


def _off_grid(probs: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
    """``probs`` moved away from every candidate by at least :data:`GRID_MARGIN`."""
    near = (probs.unsqueeze(-1) - candidates).abs().min(-1).values < GRID_MARGIN
    return torch.where(near, (probs + 2.5 * GRID_MARGIN).clamp(max=1.0), probs)


COARSE = torch.tensor([0.0, 0.22, 0.47, 0.72, 1.0], dtype=torch.float64)


def _tune_calls(kind: str):
    default = torch.tensor(ref.DEFAULT_CANDIDATES, dtype=torch.float64)

    def build(gen: torch.Generator) -> list[Call]:
        calls = []
        for i in range(3):
            n, c = _shape(gen)
            n += 20
            dtype = _dtype(i)
            y = (torch.rand(n, c, generator=gen) < 0.3).to(torch.float64)
            if kind in ("ties", "candidates"):  # a coarse grid of probabilities: many candidates tie
                probs = COARSE[torch.randint(0, 5, (n, c), generator=gen)]
            else:
                probs = _off_grid(torch.rand(n, c, generator=gen, dtype=torch.float64), default)
            y = torch.where(torch.rand(n, c, generator=gen) < 0.5, (probs > 0.5).to(torch.float64), y)  # some signal
            y[0], y[1] = 1.0, 0.0  # every label has a positive and a negative
            if kind == "undefined":  # a label with no positive example
                y[:, 0] = 0.0
                probs[:, 0] = _off_grid(probs[:, 0] * 0.6, default)
            probs, y = probs.to(dtype), y.to(dtype)
            if kind == "candidates":  # unsorted, several between the same two probabilities: ties
                low = COARSE[:-1][torch.randint(0, 4, (6,), generator=gen)]
                cands = low + 0.01 + 0.2 * torch.rand(6, generator=gen, dtype=torch.float64)
                cands = [round(float(v), 3) for v in cands[torch.randperm(6, generator=gen)]]
                given = cands if i != 1 else torch.tensor(cands, dtype=dtype)
                calls.append(Call("tune_thresholds", (probs, y), {"candidates": given}))
            else:
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


def measure_bars() -> Bars:
    """The reference tagger and the buggy softmax tagger (read as its top-1 tag or with
    ``sigmoid >= 0.5``, whichever scores better) on the held-out photos."""
    train, held_out = _data()
    with one_thread():
        fixed_model, buggy_model = ref.train_fixed_tagger(train.X, train.Y), ref.train_softmax_tagger(train.X, train.Y)
    with torch.no_grad():
        fixed, buggy = fixed_model(held_out.X), buggy_model(held_out.X)
    f1_ref, _ = tag_metrics(ref.predict_labels(fixed), held_out.Y)
    f1_top1, _ = tag_metrics(ref.predict_top1(buggy), held_out.Y)
    f1_sig, _ = tag_metrics(ref.predict_labels(buggy), held_out.Y)
    true_tags = float(held_out.Y.sum(1).double().mean())
    return Bars(reference=round(f1_ref, 4), baseline=round(max(f1_top1, f1_sig), 4), true_mean=round(true_tags, 4))


def _tags(outcomes: list[Outcome]) -> tuple[torch.Tensor | None, Verdict | None]:
    _, held_out = _data()
    z, verdict = trained_output(outcomes, tuple(held_out.Y.shape), "model")
    return (None, verdict) if z is None else (torch.sigmoid(z) >= 0.5, None)


def _judge_f1(calls: list[Call], outcomes: list[Outcome]) -> Verdict | None:
    pred, verdict = _tags(outcomes)
    if pred is None:
        return verdict
    f1, _ = tag_metrics(pred, _data()[1].Y)
    if f1 < BARS.bar:
        return Verdict(
            Kind.TRAINING,
            "on held-out photos, the tags read from your model's logits with the default threshold have a "
            "micro-F1 below the bar the notebook states",
        )
    return None


def _judge_count(calls: list[Call], outcomes: list[Outcome]) -> Verdict | None:
    pred, verdict = _tags(outcomes)
    if pred is None:
        return verdict
    _, tags = tag_metrics(pred, _data()[1].Y)
    assert BARS.true_mean is not None
    if abs(tags - BARS.true_mean) > TAG_COUNT_TOLERANCE:
        side = "too few" if tags < BARS.true_mean else "too many"
        return Verdict(
            Kind.TRAINING,
            f"on held-out photos the model predicts {side} tags per photo (read with the default threshold)",
        )
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
            _predict_judge("when a probability equals the threshold (also at threshold 1)"),
        ),
    ],
    "multilabel_fix-test-tune_thresholds": [
        Test("tune_thresholds:default", 2, _tune_calls("default"), _tune_judge("with the default candidates")),
        Test(
            "tune_thresholds:candidates",
            1,
            _tune_calls("candidates"),
            _tune_judge("with given candidates, unsorted, several tied"),
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
