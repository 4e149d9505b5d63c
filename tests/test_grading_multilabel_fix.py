"""The multilabel_fix assignment: what typical right and wrong answers score.

Student notebooks are built from the released notebook by filling its solution cells (see
grading_helpers). Most variants are graded in process; a few go through ``lossprep check`` end
to end. The wrong answers come from tests/wrong_answers.py (the whole module is pasted into the
solution cell, then the exercise name is bound to the wrong variant).
"""

from __future__ import annotations

import inspect
import re
import shutil
import time

import nbformat
import pytest
import wrong_answers
from grading_helpers import check_json, fill, grade_in_process, nbgrader_round_trip

from autograder import SOLUTIONS

A = "multilabel_fix"
FAST = [
    "multilabel_fix-test-multilabel_loss",
    "multilabel_fix-test-predict_labels",
    "multilabel_fix-test-tune_thresholds",
]
TRAINING = ["multilabel_fix-test-train_fixed_tagger"]

GOOD = {
    "multilabel_loss": """
def multilabel_loss(logits, targets, pos_weight=None):
    return F.binary_cross_entropy_with_logits(logits, targets.to(logits.dtype), pos_weight=pos_weight)
""",
    "predict_labels": """
def predict_labels(logits, threshold=0.5):
    return torch.sigmoid(logits) >= threshold
""",
    "tune_thresholds": """
def tune_thresholds(probs, targets, candidates=None):
    cands = sorted(float(c) for c in (candidates if candidates is not None else [k / 20 for k in range(1, 20)]))
    y = targets.bool()
    f1 = []
    for t in cands:
        p = probs >= t
        tp, fp, fn = (p & y).sum(0), (p & ~y).sum(0), (~p & y).sum(0)
        f1.append(torch.nan_to_num(2 * tp / (2 * tp + fp + fn), nan=0.0))
    return torch.tensor(cands, dtype=probs.dtype)[torch.stack(f1).argmax(0)]
""",
    "train_fixed_tagger": """
def train_fixed_tagger(X, Y):
    torch.manual_seed(1)
    model = torch.nn.Linear(X.shape[1], Y.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(250):
        opt.zero_grad()
        multilabel_loss(model(X), Y).backward()
        opt.step()
    return model
""",
}

# Correct answers in other styles: float64 per-entry formula with logsigmoid, expit and a
# threshold tensor built by hand, pure Python loops, a small MLP with tuned thresholds.
OTHER_STYLES = {
    "multilabel_loss": """
def multilabel_loss(logits, targets, pos_weight=None):
    z, y = logits.double(), targets.double()
    w = torch.ones(z.shape[1], dtype=torch.float64) if pos_weight is None else pos_weight.double()
    per_entry = -(w * y * F.logsigmoid(z) + (1 - y) * F.logsigmoid(-z))
    return per_entry.sum() / z.numel()
""",
    "predict_labels": """
def predict_labels(logits, threshold=0.5):
    t = threshold if isinstance(threshold, torch.Tensor) else torch.full((logits.shape[1],), float(threshold))
    return torch.special.expit(logits) >= t.to(logits.dtype)[None, :]
""",
    "tune_thresholds": """
def tune_thresholds(probs, targets, candidates=None):
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
""",
    "train_fixed_tagger": """
class _Tagger(torch.nn.Module):
    def __init__(self, d, c):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(d, 64), torch.nn.ReLU(), torch.nn.Linear(64, c))
        self.register_buffer("shift", torch.zeros(c))

    def forward(self, x):
        return self.net(x) - self.shift


def train_fixed_tagger(X, Y):
    torch.manual_seed(0)
    model = _Tagger(X.shape[1], Y.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(200):
        opt.zero_grad()
        multilabel_loss(model(X), Y).backward()
        opt.step()
    with torch.no_grad():
        t = tune_thresholds(torch.sigmoid(model(X)), Y).float().clamp(0.01, 0.99)
        model.shift.copy_(torch.log(t / (1 - t)))
    return model
""",
}


def _wrong(name: str) -> str:
    """The wrong answer ``name`` as solution-cell code: the whole module, then the binding."""
    source = inspect.getsource(wrong_answers).replace("from __future__ import annotations\n", "")
    return f"{source}\n{wrong_answers.WRONG[name]} = {name}\n"


def _failed(results) -> set[str]:
    return {tid for tid, r in results.items() if r.score < r.max_score}


@pytest.fixture(autouse=True)
def one_thread():
    """The collector trains the student's tagger in this process: one thread is faster here."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_solution_and_other_styles_get_full_marks_in_process() -> None:
    for answers in (GOOD, OTHER_STYLES):
        results = grade_in_process(A, fill(A, answers), FAST + TRAINING)
        assert not _failed(results), {t: r.message for t, r in results.items() if r.score < r.max_score}


# wrong answer -> tests it must lose (it may lose more, but only in its own part)
WRONG = {
    "multilabel_loss_softmax": {"multilabel_loss:random", "multilabel_loss:pos_weight", "multilabel_loss:float64"},
    "multilabel_loss_unstable": {"multilabel_loss:large_logits"},
    "multilabel_loss_sum_over_labels": {"multilabel_loss:random", "multilabel_loss:float64"},
    "multilabel_loss_weight_on_negatives": {"multilabel_loss:pos_weight"},
    "predict_labels_strict": {"predict_labels:at_threshold"},
    "predict_labels_softmax": {"predict_labels:default", "predict_labels:tensor_threshold"},
    "predict_labels_scalar_only": {"predict_labels:tensor_threshold"},
    "tune_thresholds_largest_tie": {"tune_thresholds:ties", "tune_thresholds:undefined_f1"},
    "tune_thresholds_nan_f1": {"tune_thresholds:undefined_f1"},
    "tune_thresholds_accuracy": {"tune_thresholds:default"},
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_typical_wrong_answers_lose_the_right_points(name: str) -> None:
    part = wrong_answers.WRONG[name]
    results = grade_in_process(A, fill(A, {**GOOD, part: _wrong(name)}), FAST)
    failed = _failed(results)
    assert WRONG[name] <= failed, f"{name}: expected {WRONG[name]} to fail, failed {failed}"
    assert all(t.startswith(part + ":") for t in failed), f"{name} cost points outside {part}: {failed}"
    for tid in failed:
        msg = results[tid].message
        assert msg and msg != "ok"
        assert not re.search(r"\d\.\d|\de[-+]?\d|tensor", msg), f"a number in the feedback: {msg}"


def test_feedback_names_the_kind_of_mistake() -> None:
    results = grade_in_process(A, fill(A, {**GOOD, "multilabel_loss": _wrong("multilabel_loss_unstable")}), FAST)
    assert results["multilabel_loss:large_logits"].message == "returns nan when |logits| is large"
    results = grade_in_process(A, fill(A, {**GOOD, "predict_labels": _wrong("predict_labels_strict")}), FAST)
    assert results["predict_labels:at_threshold"].message.startswith(
        "wrong tags when a probability equals the threshold"
    )
    flat = GOOD["predict_labels"].replace(
        "return torch.sigmoid(logits) >= threshold", "return (torch.sigmoid(logits) >= threshold).flatten()"
    )
    results = grade_in_process(A, fill(A, {**GOOD, "predict_labels": flat}), FAST)
    assert results["predict_labels:default"].message.startswith("wrong shape: expected (N, C)")


def test_training_part_fails_the_softmax_tagger_and_a_top1_reader() -> None:
    for name, lost in (
        ("train_fixed_tagger_softmax", {"train_fixed_tagger:f1", "train_fixed_tagger:tag_count"}),
        ("train_fixed_tagger_top1", {"train_fixed_tagger:f1", "train_fixed_tagger:tag_count"}),
    ):
        results = grade_in_process(A, fill(A, {**GOOD, "train_fixed_tagger": _wrong(name)}), TRAINING)
        assert _failed(results) == lost, name
    msg = results["train_fixed_tagger:tag_count"].message
    assert "too few tags" in msg
    for result in results.values():
        assert not re.search(r"\d\.\d|\de[-+]?\d|tensor", result.message), result.message


@pytest.mark.slow
def test_check_solution_copied_anywhere_gets_full_marks(tmp_path) -> None:
    path = tmp_path / "my tagger (final).ipynb"
    shutil.copy(SOLUTIONS / A / f"{A}.ipynb", path)
    start = time.perf_counter()
    report, _ = check_json(path)
    assert time.perf_counter() - start < 30
    assert report["assignment"] == A and report["flags"] == []
    assert report["score"] == report["max_score"] == 11.0
    assert {t["id"].split(":")[0] for t in report["tests"]} == {
        "multilabel_loss",
        "predict_labels",
        "tune_thresholds",
        "train_fixed_tagger",
    }


@pytest.mark.slow
def test_check_release_scores_zero_and_wrong_answer_loses_points(tmp_path) -> None:
    path = tmp_path / "release.ipynb"
    nbformat.write(fill(A, {}), path)
    report, _ = check_json(path)
    assert report["score"] == 0 and report["max_score"] == 11.0
    assert all(t["score"] == 0 for t in report["tests"])
    path = tmp_path / "softmax.ipynb"
    nbformat.write(fill(A, {**GOOD, "multilabel_loss": _wrong("multilabel_loss_softmax")}), path)
    report, _ = check_json(path)
    by_id = {t["id"]: t for t in report["tests"]}
    assert by_id["multilabel_loss:random"]["score"] == 0
    assert by_id["predict_labels:default"]["score"] == by_id["predict_labels:default"]["max_score"]
    assert 0 < report["score"] < report["max_score"]


@pytest.mark.slow
def test_nbgrader_autograde_gives_full_marks_to_the_solution_and_zero_to_the_release(tmp_path) -> None:
    course, scores, max_score = nbgrader_round_trip(tmp_path, A, {"alice": SOLUTIONS / A / f"{A}.ipynb", "bob": None})
    assert scores == {"alice": 11.0, "bob": 0.0}
    assert max_score == 16.0  # 11 automatic + 5 by hand
    page = (course / "feedback" / "bob" / A / f"{A}.html").read_text(encoding="utf-8")
    assert "grade_part" not in page and "autograder" not in page and "strong hire" in page
