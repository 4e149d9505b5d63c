"""Helpers for the grading tests: student notebooks built from a released notebook by filling
its solution cells, and grading them in process or with ``lossprep check``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat

from autograder import EXERCISES
from autograder.pipeline import TestResult, grade_namespace

LOSSPREP = Path(sys.executable).with_name("lossprep")


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


def grade_in_process(assignment: str, nb: nbformat.NotebookNode, grade_ids: list[str] | None = None) -> dict[str, TestResult]:
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
    proc = subprocess.run([str(LOSSPREP), "check", str(path), "--json", *extra], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), proc
