"""Helpers for the grading tests: student notebooks built from a released notebook by filling
its solution cells, graded in this process (many variants), with ``lossprep check`` end to end
(in the sandbox), or through nbgrader."""

from __future__ import annotations

import importlib
import inspect
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import nbformat
import torch

from autograder import EXERCISES, ROOT, SOLUTIONS, assignment, runner
from autograder.engine import Report, TestResult, grade
from autograder.sandbox import Attempt, End, Limits, Sandbox

BIN = Path(sys.executable).parent
LOSSPREP = BIN / "lossprep"
ASSIGNMENTS = assignment.names()


def answers(name: str) -> ModuleType:
    """``tests/answers/NAME.py``: correct answers in several styles and typical wrong ones."""
    return importlib.import_module(f"answers.{name}")


def exercise_of(name: str, answer: Callable[..., Any]) -> str:
    """The exercise function an answer is for: the longest one whose name starts its name."""
    functions = [gid.split("-", 2)[2] for gid in assignment.load(name).solutions]
    matches = [f for f in functions if answer.__name__.startswith(f + "_")]
    assert matches, f"{answer.__name__} does not start with an exercise function of {name}"
    return max(matches, key=len)


def answer_code(name: str, answer: Callable[..., Any]) -> str:
    """A solution cell holding ``answer``: the whole answers module, then the exercise name bound."""
    source = inspect.getsource(answers(name)).replace("from __future__ import annotations\n", "")
    return f"{source}\n{exercise_of(name, answer)} = {answer.__name__}\n"


def release(name: str) -> nbformat.NotebookNode:
    return nbformat.read(EXERCISES / name / f"{name}.ipynb", as_version=4)


def fill(name: str, cells: dict[str, str | Callable[..., Any]] | list[Callable[..., Any]]) -> nbformat.NotebookNode:
    """The release with solution cells filled: ``{function: code or answer}``, or a list of
    answers (each goes to the cell of the function its name starts with)."""
    if isinstance(cells, list):
        cells = {exercise_of(name, a): a for a in cells}
    nb = release(name)
    done = set()
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        part = gid.split("-", 2)[-1]
        if gid.startswith(f"{name}-sol-") and part in cells:
            code = cells[part]
            cell.source = code.strip("\n") if isinstance(code, str) else answer_code(name, code)
            done.add(part)
    missing = set(cells) - done
    assert not missing, f"no solution cell for {missing}"
    return nb


def edit_cell(nb: nbformat.NotebookNode, gid: str, source: str | None) -> nbformat.NotebookNode:
    """``nb`` with cell ``gid``'s source replaced (``None``: the cell deleted)."""
    if source is None:
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != gid]
    else:
        [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == gid]
        cell.source = source
    return nb


def to_bytes(nb: nbformat.NotebookNode) -> bytes:
    return nbformat.writes(nb).encode("utf-8")


def _roundtrip(obj: Any) -> Any:
    """What crossing the sandbox's channel does to an object (plain containers and tensors)."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return torch.load(io.BytesIO(buf.getvalue()), weights_only=True)


class InProcess(Sandbox):
    """The runner's session in this process: the same cells, calls and outcomes as the child,
    without isolation, limits or the audit hook (which could never be removed again). Only for
    the many right and wrong answers of the tests; the sandbox is tested end to end elsewhere."""

    name = "in-process"
    isolated = False
    reason = "graded in the test process"

    def run(
        self, job: dict[str, Any], parts: Callable[[], list[dict[str, Any]]], limits: Limits, scratch: Path
    ) -> Attempt:
        events: list[dict[str, Any]] = []

        def emit(event: dict[str, Any]) -> None:
            events.append(_roundtrip(event))

        settings = {**job["settings"], "audit": False, "reap": False, "output_chars": limits.output_chars}
        session = runner.Session(emit, settings)
        emit({"event": "ready"})
        for cell in job["cells"]:
            session.run_cell(cell["index"], cell["source"], cell["seconds"])
        session.report_names()
        for part in parts():
            session.run_part(_roundtrip(part))
        emit({"event": "done"})
        return Attempt(events, End.FINISHED)


def grade_in_process(name: str, nb: nbformat.NotebookNode, parts: list[str] | None = None) -> dict[str, TestResult]:
    """Grade ``nb`` here (only ``parts``, if given); test id -> result."""
    before = torch.get_num_threads()
    try:
        report = grade(to_bytes(nb), sandbox=InProcess(), only=parts)
    finally:
        torch.set_num_threads(before)
    assert report.assignment == name
    return {t.id: t for t in report.tests}


def report_in_process(nb: nbformat.NotebookNode, parts: list[str] | None = None) -> Report:
    return grade(to_bytes(nb), sandbox=InProcess(), only=parts)


def failed(results: dict[str, TestResult]) -> set[str]:
    return {tid for tid, r in results.items() if r.score < r.max_score}


def check_json(
    path: Path, *extra: str, env: dict[str, str] | None = None
) -> tuple[dict[str, Any], subprocess.CompletedProcess]:
    """``lossprep check PATH --json``: the parsed object and the finished process."""
    proc = subprocess.run(
        [str(LOSSPREP), "check", str(path), "--json", *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc


def run_nbgrader(
    args: list[str], cwd: Path, *, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` in ``cwd`` with the venv's bin on PATH (nbgrader calls its alembic);
    ``env``: more environment variables."""
    env = dict(os.environ, **(env or {}), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run(
        [str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=1800
    )
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def make_course(tmp: Path, names: list[str] | tuple[str, ...]) -> Path:
    """A throwaway course directory with this repository's config and source notebooks."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp / "nbgrader_config.py")
    for name in names:
        shutil.copytree(SOLUTIONS / name, tmp / "solutions" / name)
    return tmp


def hand_in(course: Path, name: str, submissions: dict[str, Path | bytes | nbformat.NotebookNode | None]) -> None:
    """One notebook per student in ``submitted/`` (a path, raw bytes, a notebook, or ``None``
    for the untouched release)."""
    for student, nb in submissions.items():
        target = course / "submitted" / student / name / f"{name}.ipynb"
        target.parent.mkdir(parents=True)
        if nb is None:
            shutil.copy(course / "exercises" / name / f"{name}.ipynb", target)
        elif isinstance(nb, Path):
            shutil.copy(nb, target)
        elif isinstance(nb, bytes):
            target.write_bytes(nb)
        else:
            nbformat.write(nb, target)


def grades(course: Path) -> tuple[dict[str, float], float]:
    """Each student's raw score and the assignment's max score, from ``nbgrader export``."""
    rows = [r.split(",") for r in (course / "grades.csv").read_text(encoding="utf-8").splitlines()]
    header = rows[0]
    scores = {r[header.index("student_id")]: float(r[header.index("raw_score")]) for r in rows[1:]}
    return scores, float(rows[1][header.index("max_score")])


def part_scores(course: Path, name: str) -> dict[str, dict[str, float | None]]:
    """student -> grade id -> score, from the gradebook."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, float | None]] = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(name):
            notebook = sub.notebooks[0]
            out[sub.student.id] = {g.name: g.score for g in notebook.grades}
    return out


def nbgrader_round_trip(
    tmp: Path, name: str, submissions: dict[str, Path | bytes | nbformat.NotebookNode | None]
) -> tuple[Path, dict[str, float], float]:
    """The instructor's workflow on a throwaway course: generate the release, hand in one
    notebook per student, then ``autograde``, ``generate_feedback`` and ``export``.

    Returns:
        the course folder, each student's raw score, and the assignment's max score.
    """
    course = make_course(tmp, [name])
    run_nbgrader(["generate_assignment", name, "--force"], course)
    hand_in(course, name, submissions)
    for args in (["autograde", name], ["generate_feedback", name], ["export"]):
        run_nbgrader(args, course)
    scores, max_score = grades(course)
    return course, scores, max_score
