"""``lossprep check`` without the hidden tests: the student edition's check.

The student edition (``lossprep edition``) carries the released notebooks but no solutions, no
hidden tests and no reference implementations. There, and anywhere with ``lossprep check
--visible``, a notebook is checked the way the grader runs it (the same sandbox and limits, locked
and test cells restored as released, a crash or a hang costing only its cell) except that its own
visible test cells run too, and each of them is one check: it passes when the cell runs without
an error. A pass says that the call works and has the right shape, not that the answer is right:
the hidden tests run when the instructor grades, and the report says so.

The report keeps the ``--json`` contract's shape (``engine.Report``): ``tests`` has one entry per
test cell, ``"FUNCTION:visible"``, worth 1 each; ``score`` counts the checks that pass and
``max_score`` the checks there are; ``"visible_only": true`` and the first note say that this is
not a grade.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import EXERCISES, SOLUTIONS, assignment
from autograder.assignment import Assignment, grade_id, source_text
from autograder.engine import CheckError, Report, TestResult, _undefined, notes, read, restore, run_in, which
from autograder.sandbox import Limits, Sandbox, find_sandbox

__all__ = ["NOTE", "VisibleReport", "hidden_tests_here", "released_names", "release", "check"]

NOTE = (
    "visible checks only: the hidden tests run when your instructor grades, so this is not your grade "
    "(a pass means the cell ran, not that the answer is right)"
)


def hidden_tests_here() -> bool:
    """Whether this copy of the course has the hidden tests (the instructor's copy has
    ``solutions/``; the student edition does not)."""
    return bool(assignment.names())


def released_names() -> tuple[str, ...]:
    """Every released exercise: ``exercises/NAME/NAME.ipynb``."""
    return tuple(sorted(p.parent.name for p in EXERCISES.glob("*/*.ipynb") if p.stem == p.parent.name))


def release(name: str) -> Assignment:
    """The exercise ``name`` as its release tells it: the locked cells as released, the solution
    cells, the hand-graded points; no graded parts. In the instructor's copy, a locked cell as in
    the source notebook (with its hidden region) counts as unedited, as when grading."""
    source = SOLUTIONS / name / f"{name}.ipynb"
    in_source = {grade_id(c): source_text(c) for c in _cells(source)} if source.is_file() else {}
    return assignment.from_release(name, _cells(EXERCISES / name / f"{name}.ipynb"), in_source, None)


def _cells(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@dataclass
class VisibleReport(Report):
    """A report of visible checks: one point per test cell that runs, flagged as not a grade."""

    def headline(self) -> str:
        return (
            f"{self.assignment}: {self.score:g} / {self.max_score:g} visible checks pass "
            "(the hidden tests run when your instructor grades)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "visible_only": True}


_NAME_ERROR = re.compile(r"^NameError: name '(\w+)' is not defined")


def _message(status: str, error: str | None, undefined: Any) -> str:
    """What one visible check says: ok, or why its cell did not run through."""
    if status == "ok":
        return "ok"
    if status == "error" and error:
        if error.startswith("NotImplementedError"):
            return "not implemented yet (raises NotImplementedError)"
        name = _NAME_ERROR.match(error)
        return undefined(name.group(1)) if name else f"raises {error}"
    if status == "timeout":
        return f"ran past its time limit and was stopped {error or ''}".rstrip()
    return error or "not run"


def check(
    source: Path | bytes,
    *,
    sandbox: Sandbox | None = None,
    limits: Limits | None = None,
    scratch: Path | None = None,
) -> VisibleReport:
    """Run the notebook and its visible test cells: read, identify (from the releases), restore
    (test and demo cells run too), run in the sandbox, one check per test cell.
    Raises :class:`CheckError` for a file that is not one of the course's exercise notebooks."""
    nb = read(source)
    known = released_names()
    if not known:  # the package installed without the course around it (pip install from git)
        raise CheckError(f"no exercises to check against: {EXERCISES} is missing (check from a clone of the course)")
    a = release(which(nb, known))
    limits = limits or Limits()
    sandbox = sandbox or find_sandbox(require=False)
    restored = restore(nb, a, visible=True)
    seen = run_in(scratch, restored, a, sandbox, limits)
    tests = [c for c in a.locked.values() if c.kind == "test" and c.cell_type == "code"]
    first_run: dict[str | None, int] = {}
    for c in restored.cells:
        first_run.setdefault(c.grade_id, c.index)
    results: dict[str, list[TestResult]] = {}
    for cell in tests:
        ran = seen.cells.get(first_run.get(cell.grade_id))  # type: ignore[arg-type]
        status, error = (ran.status, ran.error) if ran is not None else ("not run", None)
        message = _message(status, error, lambda fn: _undefined(fn, a, restored, seen))
        passed = 1.0 if status == "ok" else 0.0
        results[cell.grade_id] = [TestResult(f"{cell.grade_id.split('-', 2)[2]}:visible", passed, 1.0, message)]
    checked = [i for c in tests if (i := first_run.get(c.grade_id)) is not None]  # their errors are the checks'
    return VisibleReport(
        assignment=a.name,
        tests=[t for ts in results.values() for t in ts],
        events=restored.events + seen.events,
        notes=[NOTE, *notes(sandbox, restored, seen, leave_out=checked)],
        manual_points=a.manual_points,
        parts={gid: ts[0].score for gid, ts in results.items()},
        part_tests=results,
        cells=seen.cells,
        sandbox=sandbox.name,
    )
