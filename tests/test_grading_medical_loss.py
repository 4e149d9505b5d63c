"""The medical_loss assignment: the reference, and what typical right and wrong answers score.

Student notebooks are built from the released notebook by filling its solution cells. Most
variants are graded in process (same hidden calls and judges as ``lossprep check``); a few go
through ``lossprep check`` end to end, in a fresh kernel.
"""

from __future__ import annotations

import math
import re
import shutil
import time

import nbformat
import pytest
import torch
import torch.nn.functional as F
from grading_helpers import check_json, fill, grade_in_process

from autograder import SOLUTIONS
from autograder.cases import medical_loss as cases
from autograder.reference import medical_loss as ref
from lossprep.data import imbalanced_xrays

A = "medical_loss"

GOOD = {
    "medical_loss": """
def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return (w * F.binary_cross_entropy_with_logits(logits, targets, reduction="none")).mean()
""",
    "medical_loss_grad": """
def medical_loss_grad(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return w * (torch.sigmoid(logits) - targets) / logits.numel()
""",
    "calibrated_probability": """
def calibrated_probability(logits, pos_weight):
    return torch.sigmoid(logits - math.log(pos_weight))
""",
}

# Correct answers in other styles: a loop over the two classes, per-example loops, float64
# throughout, other torch functions (logsigmoid, expit, arithmetic weights).
OTHER_STYLES = {
    "medical_loss": """
def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    z, y, s = logits.double(), targets.double(), severity.double()
    total = torch.zeros((), dtype=torch.float64)
    for cls in (0, 1):
        m = y == cls
        if cls == 1:
            total = total - (fn_cost * (1 + alpha * s[m] / 10) * F.logsigmoid(z[m])).sum()
        else:
            total = total - F.logsigmoid(-z[m]).sum()
    return total / z.shape[0]
""",
    "medical_loss_grad": """
def medical_loss_grad(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    n = len(logits)
    out = []
    for z, y, s in zip(logits.tolist(), targets.tolist(), severity.tolist()):
        w = fn_cost * (1 + alpha * s / 10) if y == 1 else 1.0
        p = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
        out.append(w * (p - y) / n)
    return torch.tensor(out, dtype=torch.float64)
""",
    "calibrated_probability": """
def calibrated_probability(logits, pos_weight):
    shift = torch.log(torch.as_tensor(pos_weight, dtype=torch.float64))
    return torch.special.expit(logits.double() - shift)
""",
}

WRONG = {
    # log of a sigmoid: -inf (then inf or nan) once |logit| is large
    "unstable_log": (
        "medical_loss",
        """
def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    p = torch.sigmoid(logits)
    return (-w * (targets * torch.log(p) + (1 - targets) * torch.log(1 - p))).mean()
""",
        {"medical_loss:large_logits", "medical_loss:autograd"},
    ),
    # the usual "fix": clamp the probability; finite, but the loss is wrong for large logits
    "clamped_log": (
        "medical_loss",
        """
def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    p = torch.sigmoid(logits).clamp(1e-7, 1 - 1e-7)
    return (-w * (targets * torch.log(p) + (1 - targets) * torch.log(1 - p))).mean()
""",
        {"medical_loss:large_logits", "medical_loss:autograd"},
    ),
    "normalised_by_weights": (
        "medical_loss",
        """
def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return (w * F.binary_cross_entropy_with_logits(logits, targets, reduction="none")).sum() / w.sum()
""",
        {"medical_loss:random", "medical_loss:options", "medical_loss:severity_ignored"},
    ),
    "severity_not_scaled": (
        "medical_loss",
        """
def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity), torch.ones_like(severity))
    return (w * F.binary_cross_entropy_with_logits(logits, targets, reduction="none")).mean()
""",
        {"medical_loss:random", "medical_loss:options"},
    ),
    "severity_on_negatives": (
        "medical_loss",
        """
def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), 1 + alpha * severity / 10)
    return (w * F.binary_cross_entropy_with_logits(logits, targets, reduction="none")).mean()
""",
        {"medical_loss:random", "medical_loss:severity_ignored"},
    ),
    "softmax": (
        "medical_loss",
        """
def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return -(w * targets * torch.log_softmax(logits, dim=0)).mean()
""",
        {"medical_loss:random", "medical_loss:options", "medical_loss:one_class"},
    ),
    "grad_without_mean": (
        "medical_loss_grad",
        """
def medical_loss_grad(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return w * (torch.sigmoid(logits) - targets)
""",
        {"medical_loss_grad:random", "medical_loss_grad:options", "medical_loss_grad:large_logits"},
    ),
    "grad_sign": (
        "medical_loss_grad",
        """
def medical_loss_grad(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return w * (targets - torch.sigmoid(logits)) / len(logits)
""",
        {"medical_loss_grad:random", "medical_loss_grad:options", "medical_loss_grad:large_logits"},
    ),
    "calibration_wrong_way": (
        "calibrated_probability",
        """
def calibrated_probability(logits, pos_weight):
    return torch.sigmoid(logits + math.log(pos_weight))
""",
        {"calibrated_probability:random", "calibrated_probability:large_logits"},
    ),
    "calibration_divides": (
        "calibrated_probability",
        """
def calibrated_probability(logits, pos_weight):
    return torch.sigmoid(logits) / pos_weight
""",
        {"calibrated_probability:random", "calibrated_probability:large_logits"},
    ),
}

NO_TRAINING = [
    "medical_loss-test-medical_loss",
    "medical_loss-test-medical_loss_grad",
    "medical_loss-test-calibrated_probability",
]


def _failed(results) -> set[str]:
    return {tid for tid, r in results.items() if r.score < r.max_score}


# ---------------------------------------------------------------- the reference


def test_reference_gradient_matches_autograd_in_float64() -> None:
    g = torch.Generator().manual_seed(0)
    z = (torch.randn(30, generator=g, dtype=torch.float64) * 4).requires_grad_(True)
    y = (torch.rand(30, generator=g) < 0.4).double()
    s = 1 + 9 * torch.rand(30, generator=g, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda t: ref.medical_loss(t, y, s, fn_cost=7.0, alpha=0.5), (z,))
    ref.medical_loss(z, y, s).backward()
    torch.testing.assert_close(z.grad, ref.medical_loss_grad(z, y, s))


def test_reference_naive_loop_and_limits() -> None:
    z = torch.tensor([2.0, -1.0, 0.5], dtype=torch.float64)
    y = torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)
    s = torch.tensor([10.0, 99.0, 1.0], dtype=torch.float64)  # 99 sits on a negative: ignored
    naive = (40 * math.log1p(math.exp(-2.0)) + math.log1p(math.exp(-1.0)) + 22 * math.log1p(math.exp(-0.5))) / 3
    assert ref.medical_loss(z, y, s).item() == pytest.approx(naive, rel=1e-12)
    # fn_cost = 1, alpha = 0 is plain BCE
    torch.testing.assert_close(
        ref.medical_loss(z, y, s, fn_cost=1.0, alpha=0.0), F.binary_cross_entropy_with_logits(z, y)
    )
    big = torch.tensor([1e4, -1e4])
    loss = ref.medical_loss(big, torch.tensor([0.0, 1.0]), torch.tensor([0.0, 5.0]))
    assert loss.item() == pytest.approx((1e4 + 30 * 1e4) / 2)
    assert torch.equal(ref.calibrated_probability(torch.tensor([0.0]), 1.0), torch.tensor([0.5]))
    p = ref.calibrated_probability(torch.tensor([math.log(20.0)]), 20.0)
    assert p.item() == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((torch.zeros(3), torch.zeros(4), torch.ones(3)), {}, "shape"),
        ((torch.zeros(2, 2), torch.zeros(2, 2), torch.ones(2, 2)), {}, r"\(N,\)"),
        ((torch.zeros(2), torch.tensor([0.0, 2.0]), torch.ones(2)), {}, r"targets in \{0, 1\}"),
        ((torch.zeros(2), torch.tensor([0.0, 1.0]), torch.tensor([1.0, 11.0])), {}, "severity"),
        ((torch.zeros(2), torch.tensor([0.0, 1.0]), torch.ones(2)), {"fn_cost": -1.0}, "fn_cost"),
        ((torch.zeros(2), torch.tensor([0.0, 1.0]), torch.ones(2)), {"alpha": -0.5}, "alpha"),
    ],
)
def test_reference_refuses_bad_input(args, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        ref.medical_loss(*args, **kwargs)
    with pytest.raises(ValueError, match=match):
        ref.medical_loss_grad(*args, **kwargs)


def test_reference_calibration_refuses_bad_weight() -> None:
    with pytest.raises(ValueError, match="pos_weight"):
        ref.calibrated_probability(torch.zeros(3), 0.0)


def test_imbalanced_xrays_is_seeded_and_imbalanced() -> None:
    a, b = imbalanced_xrays(3000, seed=5), imbalanced_xrays(3000, seed=5)
    assert torch.equal(a.X, b.X) and torch.equal(a.severity, b.severity)
    assert 0.03 < a.target.mean().item() < 0.07
    pos = a.target == 1
    assert set(a.severity[pos].unique().tolist()) <= set(range(1, 11)) and bool((a.severity[~pos] == 0).all())
    with pytest.raises(ValueError, match="abnormal_rate"):
        imbalanced_xrays(10, abnormal_rate=1.5)


def test_training_bar_is_the_documented_one() -> None:
    r_ref, r_bce, bar = cases.training_bar()
    assert r_ref == pytest.approx(cases.REFERENCE_RECALL, abs=0.01)
    assert r_bce == pytest.approx(cases.BCE_RECALL, abs=0.01)
    assert r_ref - r_bce > 0.04, "the weighted loss must beat plain BCE clearly for the part to mean anything"
    assert bar == pytest.approx(cases.BAR, abs=0.01)


# ---------------------------------------------------------------- right and wrong answers


def test_solution_and_other_styles_get_full_marks_in_process() -> None:
    for answers in (GOOD, OTHER_STYLES):
        results = grade_in_process(A, fill(A, answers), NO_TRAINING)
        assert not _failed(results), {t: r.message for t, r in results.items() if r.score < r.max_score}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_typical_wrong_answers_lose_the_right_points(name: str) -> None:
    part, code, must_fail = WRONG[name]
    results = grade_in_process(A, fill(A, {**GOOD, part: code}), NO_TRAINING)
    failed = _failed(results)
    assert must_fail <= failed, f"{name}: expected {must_fail} to fail, failed {failed}"
    assert all(t.startswith(part + ":") for t in failed), f"{name} cost points outside {part}: {failed}"
    for tid in failed:
        msg = results[tid].message
        assert msg and msg != "ok"
        assert not re.search(r"\d\.\d|\de[-+]?\d|tensor", msg), f"a number in the feedback: {msg}"


def test_feedback_names_the_kind_of_mistake() -> None:
    results = grade_in_process(A, fill(A, {**GOOD, "medical_loss": WRONG["unstable_log"][1]}), NO_TRAINING)
    assert "when |logits| is large" in results["medical_loss:large_logits"].message
    results = grade_in_process(A, fill(A, {**GOOD, "medical_loss_grad": WRONG["grad_sign"][1]}), NO_TRAINING)
    assert results["medical_loss_grad:random"].message.startswith("gradient does not match the loss")
    shaped = (
        GOOD["medical_loss_grad"]
        .replace("/ logits.numel()", "/ logits.numel()).unsqueeze(1)")
        .replace("return w *", "return (w *")
    )
    results = grade_in_process(A, fill(A, {**GOOD, "medical_loss_grad": shaped}), NO_TRAINING)
    assert results["medical_loss_grad:random"].message.startswith("wrong shape: expected (N,)")


def test_training_part_passes_the_weighted_loss_and_fails_plain_bce() -> None:
    ids = ["medical_loss-test-training"]
    good = grade_in_process(A, fill(A, GOOD), ids)["training:severe_recall"]
    assert good.score == good.max_score == 3.0
    plain = """
def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    return F.binary_cross_entropy_with_logits(logits, targets)
"""
    bad = grade_in_process(A, fill(A, {**GOOD, "medical_loss": plain}), ids)["training:severe_recall"]
    assert bad.score == 0 and "severe" in bad.message


# ---------------------------------------------------------------- end to end: lossprep check


@pytest.mark.slow
def test_check_solution_copied_anywhere_gets_full_marks(tmp_path) -> None:
    path = tmp_path / "some other name.ipynb"
    shutil.copy(SOLUTIONS / A / f"{A}.ipynb", path)
    start = time.perf_counter()
    report, _ = check_json(path)
    assert time.perf_counter() - start < 30
    assert report["assignment"] == A and report["flags"] == []
    assert report["score"] == report["max_score"] == 12.0


@pytest.mark.slow
def test_check_other_styles_with_warnings_keep_full_marks(tmp_path) -> None:
    noisy = {
        k: v.replace(
            "):\n",
            "):\n    import sys, warnings\n    warnings.warn('a stray warning')\n    print('noise', file=sys.stderr)\n",
            1,
        )
        for k, v in OTHER_STYLES.items()
    }
    path = tmp_path / "mine.ipynb"
    nbformat.write(fill(A, noisy), path)
    report, proc = check_json(path)
    assert report["score"] == report["max_score"], report
    assert proc.stderr == ""


@pytest.mark.slow
def test_check_release_scores_zero_and_wrong_answer_loses_points(tmp_path) -> None:
    path = tmp_path / "release.ipynb"
    nbformat.write(fill(A, {}), path)
    report, _ = check_json(path)
    assert report["score"] == 0 and report["max_score"] == 12.0
    assert all(t["score"] == 0 and "NotImplementedError" in t["message"] for t in report["tests"])
    path = tmp_path / "unstable.ipynb"
    nbformat.write(fill(A, {**GOOD, "medical_loss": WRONG["unstable_log"][1]}), path)
    report, _ = check_json(path)
    by_id = {t["id"]: t for t in report["tests"]}
    assert by_id["medical_loss:large_logits"]["score"] == 0
    assert by_id["medical_loss_grad:random"]["score"] == by_id["medical_loss_grad:random"]["max_score"]
    assert 0 < report["score"] < report["max_score"]
