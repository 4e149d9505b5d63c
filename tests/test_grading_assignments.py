"""Every assignment, driven by its answers file (``tests/answers/NAME.py``): correct answers in
every style get full marks; each typical wrong answer loses the hidden tests it must, only tests
that call its function, with a message that names the kind of mistake and no number; every
hidden test is failed by some wrong answer (none that cannot fail); the training bars the
notebook states are the committed ones, and measuring them again gives them back.

Notebooks are graded in this process (the engine with the runner's session in-process: the
same cells, calls, outcomes and judges as the sandbox, without its start-up cost); the sandbox
is tested end to end in test_grading_sandbox.py and test_grading_attacks.py.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import nbformat
import pytest
import torch
from grading_helpers import ASSIGNMENTS, answers, check_json, exercise_of, failed, fill, grade_in_process

from autograder import SOLUTIONS, assignment
from autograder.spec import Outcome

NUMBER = re.compile(r"\d\.\d|\de[-+]?\d|tensor")

RIGHT = [(a, style) for a in ASSIGNMENTS for style in answers(a).RIGHT]
WRONG = [(a, w.__name__) for a in ASSIGNMENTS for w in answers(a).WRONG]


def test_every_assignment_has_an_answers_file_with_right_and_wrong_answers() -> None:
    assert set(ASSIGNMENTS) == {"medical_loss", "multilabel_fix", "ranking_loss"}
    for a in ASSIGNMENTS:
        module = answers(a)
        functions = {gid.split("-", 2)[2] for gid in assignment.load(a).solutions}
        for style, cells in module.RIGHT.items():
            assert {exercise_of(a, f) for f in cells} == functions, f"{a}: style {style!r} misses a function"
        assert module.WRONG


@pytest.mark.parametrize(("name", "style"), RIGHT, ids=[f"{a}-{s}" for a, s in RIGHT])
def test_right_answers_in_every_style_get_full_marks(name: str, style: str) -> None:
    slow = getattr(answers(name), "TOO_SLOW", {}).get(style, set())
    parts = [p for p in assignment.load(name).parts if p.grade_id not in slow]
    results = grade_in_process(name, fill(name, answers(name).RIGHT[style]), [p.grade_id for p in parts])
    assert not failed(results), {t: r.message for t, r in results.items() if r.score < r.max_score}
    assert sum(r.score for r in results.values()) == pytest.approx(sum(p.points for p in parts))


def _calling(a: assignment.Assignment, fn: str) -> dict[str, set[str]]:
    """Part -> the hidden tests whose calls call ``fn``."""
    out: dict[str, set[str]] = {}
    for part in a.parts:
        for tid, calls in a.calls(part.grade_id).items():
            if any(c.fn == fn for c in calls):
                out.setdefault(part.grade_id, set()).add(tid)
    return out


@pytest.mark.parametrize(("name", "wrong"), WRONG, ids=[w for _, w in WRONG])
def test_each_wrong_answer_loses_its_tests_and_says_why(name: str, wrong: str) -> None:
    module = answers(name)
    answer = getattr(module, wrong)
    fn = exercise_of(name, answer)
    right = {exercise_of(name, f): f for f in module.RIGHT[next(iter(module.RIGHT))]}
    calling = _calling(assignment.load(name), fn)
    results = grade_in_process(name, fill(name, {**right, fn: answer}), list(calling))
    lost = failed(results)
    must = module.WRONG[answer]
    assert must <= lost, f"{wrong}: expected {sorted(must)} to fail, failed {sorted(lost)}"
    assert lost <= set().union(*calling.values()), f"{wrong} cost points in tests that do not call {fn}"
    for tid in lost:  # the grader's words carry no number (an exception's own text may)
        message = results[tid].message
        assert message and message != "ok", tid
        assert "raises " in message or not NUMBER.search(message), f"{tid}: {message!r}"
    if answer in getattr(module, "SAYS", {}):
        tid, phrase = module.SAYS[answer]
        assert phrase in results[tid].message, results[tid].message


def test_every_hidden_test_can_fail() -> None:
    """Each hidden test is lost by at least one wrong answer of the answers file: no test that
    cannot fail. (The ``:device`` tests differ from the others only on a machine with a GPU.)"""
    for name in ASSIGNMENTS:
        covered = set().union(*answers(name).WRONG.values())
        tests = {t.id for p in assignment.load(name).parts for t in p.tests if not t.id.endswith(":device")}
        assert tests <= covered, f"{name}: no wrong answer fails {sorted(tests - covered)}"


def _markdown(name: str) -> str:
    nb = json.loads((SOLUTIONS / name / f"{name}.ipynb").read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_notebook_states_the_committed_bars(name: str) -> None:
    bars = assignment.load(name).cases.BARS
    text = _markdown(name)
    for what, number in bars.stated().items():
        assert number in text, f"{name}: the notebook does not state the {what} ({number})"
    assert bars.reference - bars.baseline > 0.03, "the part must separate the right loss from the mistake"


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_measuring_the_bars_again_gives_the_committed_ones(name: str) -> None:
    cases = assignment.load(name).cases
    measured, committed = cases.measure_bars(), cases.BARS
    assert measured.reference == pytest.approx(committed.reference, abs=2e-3)
    assert measured.baseline == pytest.approx(committed.baseline, abs=2e-3)
    if committed.true_mean is not None:
        assert measured.true_mean == pytest.approx(committed.true_mean, abs=2e-3)


def _reference_outcome(reference, call) -> Outcome:  # type: ignore[no-untyped-def]
    fn = getattr(reference, call.fn)
    if call.mode == "value":
        return Outcome(value=fn(*call.args, **call.kwargs))
    x = call.args[0].detach().clone().requires_grad_(True)
    value = fn(x, *call.args[1:], **call.kwargs)
    (grad,) = torch.autograd.grad(value, x)
    return Outcome(value=value.detach(), grad=grad)


@pytest.mark.parametrize("name", ASSIGNMENTS)
def test_the_reference_accepts_every_hidden_input_and_passes_every_test(name: str) -> None:
    """The references refuse input outside the notebook's stated rules (N >= 1, targets 0/1,
    one float dtype, k >= 1, finite severity, ...): every hidden input passes them, and the
    reference's own outputs pass every judge (training parts: the bars test)."""
    a = assignment.load(name)
    reference = importlib.import_module(f"autograder.reference.{name}")
    for part in a.parts:
        for test in part.tests:
            calls = a.calls(part.grade_id)[test.id]
            if all(c.mode in ("value", "value_grad") for c in calls):
                assert test.judge(calls, [_reference_outcome(reference, c) for c in calls]) is None, test.id


@pytest.mark.slow
@pytest.mark.parametrize(("name", "style"), RIGHT, ids=[f"{a}-{s}" for a, s in RIGHT])
def test_right_answers_keep_full_marks_in_the_sandbox(name: str, style: str, tmp_path: Path) -> None:
    """``lossprep check`` (bubblewrap, limits on) of every style: full marks, no flag, under the
    time limits the notebook states (a right answer that fits them keeps its marks however slowly
    it is written); a part the style is too slow for (the notebook says so) times out alone, which
    a 20 s limit shows sooner."""
    path = tmp_path / f"{name}.ipynb"
    nbformat.write(fill(name, answers(name).RIGHT[style]), path)
    slow = getattr(answers(name), "TOO_SLOW", {}).get(style, set())
    report, _ = check_json(path, *(["--timeout", "20"] if slow else []))
    a = assignment.load(name)
    for part in a.parts:
        ids = {t.id for t in part.tests}
        tests = [t for t in report["tests"] if t["id"] in ids]
        if part.grade_id in slow:
            assert all(t["score"] == 0 and "time limit" in t["message"] for t in tests), tests
        else:
            assert all(t["score"] == pytest.approx(t["max_score"]) for t in tests), tests
    assert report["flags"] == (["timeout"] if slow else []), report["flags"]
