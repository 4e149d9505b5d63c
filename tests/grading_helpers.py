"""Helpers for the grading tests: student notebooks built from a released notebook by filling
its solution cells, and grading them in process or with ``lossprep check``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat

from autograder import EXERCISES, ROOT, SOLUTIONS
from autograder.pipeline import TestResult, grade_namespace

BIN = Path(sys.executable).parent
LOSSPREP = BIN / "lossprep"


def release(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(EXERCISES / assignment / f"{assignment}.ipynb", as_version=4)


def fill(assignment: str, answers: dict[str, str]) -> nbformat.NotebookNode:
    """The release with the solution cell of each function in ``answers`` replaced by its code."""
    nb = release(assignment)
    done = set()
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        part = gid.split("-", 2)[-1]
        if gid.startswith(f"{assignment}-sol-") and part in answers:
            cell.source = answers[part].strip("\n")
            done.add(part)
    missing = set(answers) - done
    assert not missing, f"no solution cell for {missing}"
    return nb


def grade_in_process(
    assignment: str, nb: nbformat.NotebookNode, grade_ids: list[str] | None = None
) -> dict[str, TestResult]:
    """Run the notebook's setup (imports) and solution cells here and grade them: the same
    builders and judges as ``lossprep check``, without the cost of a kernel per variant."""
    namespace: dict[str, Any] = {}
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if cell.cell_type == "code" and (gid.endswith("-setup-imports") or "-sol-" in gid):
            exec(compile(cell.source, gid, "exec"), namespace)
    return {r.id: r for r in grade_namespace(assignment, namespace, grade_ids)}


def check_json(path: Path, *extra: str) -> tuple[dict[str, Any], subprocess.CompletedProcess]:
    """``lossprep check PATH --json``: the parsed object and the finished process."""
    proc = subprocess.run(
        [str(LOSSPREP), "check", str(path), "--json", *extra], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc


def run_nbgrader(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``nbgrader ARGS`` in ``cwd`` with the venv's bin on PATH (nbgrader calls its alembic)."""
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    proc = subprocess.run([str(BIN / "nbgrader"), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def make_course(tmp: Path, names: list[str]) -> Path:
    """A throwaway course directory with this repository's config and source notebooks."""
    shutil.copy(ROOT / "nbgrader_config.py", tmp / "nbgrader_config.py")
    for name in names:
        shutil.copytree(SOLUTIONS / name, tmp / "solutions" / name)
    return tmp


def nbgrader_round_trip(
    tmp: Path, assignment: str, submissions: dict[str, Path | nbformat.NotebookNode | None]
) -> tuple[Path, dict[str, float], float]:
    """The instructor's workflow on a throwaway course: generate the release, hand in one
    notebook per student (a path, a notebook, or ``None`` for the untouched release), then
    ``autograde``, ``generate_feedback`` and ``export``.

    Returns:
        the course folder, each student's raw score, and the assignment's max score.
    """
    course = make_course(tmp, [assignment])
    run_nbgrader(["generate_assignment", assignment, "--force"], course)
    for student, nb in submissions.items():
        target = course / "submitted" / student / assignment / f"{assignment}.ipynb"
        target.parent.mkdir(parents=True)
        if nb is None:
            shutil.copy(course / "exercises" / assignment / f"{assignment}.ipynb", target)
        elif isinstance(nb, Path):
            shutil.copy(nb, target)
        else:
            nbformat.write(nb, target)
    for args in (["autograde", assignment], ["generate_feedback", assignment], ["export"]):
        run_nbgrader(args, course)
    rows = [r.split(",") for r in (course / "grades.csv").read_text(encoding="utf-8").splitlines()]
    header = rows[0]
    scores = {r[header.index("student_id")]: float(r[header.index("raw_score")]) for r in rows[1:]}
    return course, scores, float(rows[1][header.index("max_score")])
