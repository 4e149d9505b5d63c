"""``lossprep check`` without the hidden tests: what the student edition's check does by itself
(``lossprep edition`` ships this file), and what ``--visible`` asks for in the instructor's copy.
The notebook runs as grading runs it, its visible test cells too, one check each; the report
keeps the ``--json`` contract's shape, says that it is not a grade, and never shows a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder import visible

ROOT = Path(__file__).resolve().parents[1]
LOSSPREP = Path(sys.executable).parent / "lossprep"
NAMES = visible.released_names()
# The instructor's copy grades with the hidden tests unless asked; the edition has none to use.
VISIBLE = ["--visible"] if visible.hidden_tests_here() else []


def release(name: str) -> nbformat.NotebookNode:
    return nbformat.read(ROOT / "exercises" / name / f"{name}.ipynb", as_version=4)


def graded_cells(nb: nbformat.NotebookNode) -> list[str]:
    """The grade ids of the notebook's test cells, as nbgrader's metadata marks them."""
    return [
        c.metadata["nbgrader"]["grade_id"]
        for c in nb.cells
        if c.cell_type == "code"
        and c.metadata.get("nbgrader", {}).get("grade")
        and not c.metadata["nbgrader"].get("solution")
    ]


def with_cells(nb: nbformat.NotebookNode, sources: dict[str, str | None]) -> nbformat.NotebookNode:
    """The notebook with these cells' sources replaced (``None``: the cell deleted)."""
    kept = []
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in sources:
            if sources[gid] is None:
                continue
            cell.source = sources[gid]
        kept.append(cell)
    nb.cells = kept
    return nb


def check(path: Path, *args: str, env: dict[str, str] | None = None) -> tuple[dict, subprocess.CompletedProcess]:
    proc = subprocess.run(
        [str(LOSSPREP), "check", str(path), "--json", *VISIBLE, *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(proc.stdout), proc


def by_id(report: dict) -> dict[str, dict]:
    return {t["id"]: t for t in report["tests"]}


def test_every_release_is_found() -> None:
    assert "medical_loss" in NAMES
    for name in NAMES:
        assert graded_cells(release(name)), f"{name} has no test cell to check"


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_an_untouched_release_fails_every_check_and_says_it_is_not_a_grade(tmp_path: Path, name: str) -> None:
    path = tmp_path / "copy of the exercise.ipynb"
    nbformat.write(release(name), path)
    report, _ = check(path)
    tests = graded_cells(release(name))
    assert report["assignment"] == name and report["visible_only"] is True
    assert [t["id"] for t in report["tests"]] == [f"{gid.split('-', 2)[2]}:visible" for gid in tests]
    assert report["score"] == 0 and report["max_score"] == len(tests)
    assert all(t["max_score"] == 1 and "NotImplementedError" in t["message"] for t in report["tests"]), report
    assert report["notes"][0] == visible.NOTE and "hidden tests run when your instructor grades" in visible.NOTE
    assert report["flags"] == []


@pytest.mark.slow
def test_a_wrong_answer_of_the_right_shape_passes_its_check_and_the_table_says_it_is_no_grade(
    tmp_path: Path,
) -> None:
    wrong = "def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):\n    return logits.sum() * 0.0\n"
    path = tmp_path / "mine.ipynb"
    nbformat.write(with_cells(release("medical_loss"), {"medical_loss-sol-medical_loss": wrong}), path)
    report, _ = check(path)
    tests = by_id(report)
    assert tests["medical_loss:visible"]["score"] == 1 and tests["medical_loss:visible"]["message"] == "ok"
    assert tests["medical_loss_grad:visible"]["score"] == 0
    assert report["score"] == sum(t["score"] for t in report["tests"]) >= 1
    table = subprocess.run(
        [str(LOSSPREP), "check", str(path), *VISIBLE], capture_output=True, text=True, timeout=600
    ).stdout
    first = table.splitlines()[0]
    assert first == (
        f"medical_loss: {report['score']:g} / {report['max_score']:g} visible checks pass "
        "(the hidden tests run when your instructor grades)"
    )
    assert "PASS  medical_loss:visible" in table and "FAIL  medical_loss_grad:visible" in table
    assert f"note: {visible.NOTE}" in table and "graded by hand" in table


@pytest.mark.slow
def test_failing_cells_are_named_edits_do_not_count_and_a_hang_costs_only_its_check(tmp_path: Path) -> None:
    """A syntax error, an edited and a deleted test cell, and a function that never returns, in
    one notebook: each check says what happened to it, and the rest are checked as usual."""
    nb = with_cells(
        release("medical_loss"),
        {
            "medical_loss-sol-medical_loss": (
                "def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):\n    return logits.mean()\n"
            ),
            "medical_loss-sol-medical_loss_grad": "def medical_loss_grad(logits, targets severity):\n    pass\n",
            "medical_loss-sol-calibrated_probability": (
                "def calibrated_probability(logits, pos_weight):\n    while True:\n        pass\n"
            ),
            "medical_loss-test-medical_loss": "assert True  # nothing to see here",
            "medical_loss-test-training": None,
        },
    )
    path = tmp_path / "mine.ipynb"
    nbformat.write(nb, path)
    report, _ = check(path, "--timeout", "3")
    tests = by_id(report)
    assert tests["medical_loss:visible"]["score"] == 1  # the original test cell ran, and passes
    grad = tests["medical_loss_grad:visible"]["message"]
    assert grad.startswith("medical_loss_grad is not defined: its cell medical_loss-sol-medical_loss_grad raised")
    assert "SyntaxError" in grad
    assert "time limit" in tests["calibrated_probability:visible"]["message"]
    assert tests["calibrated_probability:visible"]["score"] == 0
    assert tests["training:visible"]["score"] == 1  # put back at the end, after the functions it needs
    notes = "\n".join(report["notes"])
    assert "cell medical_loss-test-medical_loss: was edited" in notes
    assert "cell medical_loss-test-training: was missing" in notes
    assert report["flags"] == ["tampered", "timeout"]


def test_a_file_that_is_not_an_exercise_gets_one_line_and_exit_status_2(tmp_path: Path) -> None:
    text = tmp_path / "notes.ipynb"
    text.write_text("not json", encoding="utf-8")
    foreign = tmp_path / "foreign.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), foreign)
    for path, words in (
        (tmp_path / "missing.ipynb", "no such file"),
        (text, "not a Jupyter notebook"),
        (foreign, "not one of the course's exercise notebooks"),
    ):
        proc = subprocess.run(
            [str(LOSSPREP), "check", str(path), *VISIBLE], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 2 and proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.slow
def test_without_bubblewrap_the_check_runs_and_says_so(tmp_path: Path) -> None:
    path = tmp_path / "mine.ipynb"
    nbformat.write(release("medical_loss"), path)
    report, proc = check(path, env={**os.environ, "LOSSPREP_BWRAP": str(tmp_path / "no-bwrap")})
    assert "without the sandbox" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert any(n.startswith("ran without the sandbox") for n in report["notes"])
    assert report["visible_only"] is True and report["max_score"] == len(graded_cells(release("medical_loss")))


def test_without_the_exercises_around_it_the_check_says_where_to_run(tmp_path: Path, monkeypatch) -> None:
    """The package installed alone (``pip install`` from git, as on Colab) has no releases to
    check against: one clear reason, not a traceback."""
    from autograder.engine import CheckError

    path = tmp_path / "mine.ipynb"
    nbformat.write(release("medical_loss"), path)
    monkeypatch.setattr(visible, "EXERCISES", tmp_path / "no-exercises")
    with pytest.raises(CheckError, match="no-exercises is missing"):
        visible.check(path)
