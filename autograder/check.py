"""``lossprep check NOTEBOOK [--json]``: grade one exercise notebook, wherever it lies.

The steps, each a small function: :func:`identify` (which assignment, from the grade ids),
:func:`restore` (test cells out, locked cells back to the release's, tampering noticed),
:func:`execute` (a fresh kernel with limits runs the student's cells, then the collector on
the hidden calls built here), and :func:`grade` (judge in this process, score per part).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

from autograder import ASSIGNMENTS, EXERCISES
from autograder.pipeline import TestResult, build_calls, judge_part, source_notebook, source_parts

__all__ = [
    "CheckError",
    "Report",
    "identify",
    "restore",
    "forbidden_imports",
    "execute",
    "grade",
    "add_arguments",
    "run",
]

COLLECTOR = Path(__file__).with_name("collect.py")
MEMORY_LIMIT = 6 * 1024**3  # bytes of address space for the student's kernel
TIMEOUT = 120  # seconds for the whole run of the student's cells and the collector


class CheckError(Exception):
    """The file cannot be graded (missing, not a notebook, not one of ours)."""


@dataclass
class Report:
    """A grade in the contract's shape (``to_dict`` is what ``--json`` prints)."""

    assignment: str
    tests: list[TestResult]
    flags: list[str] = field(default_factory=list)
    manual_points: float = 0.0

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 6)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 6)

    def to_dict(self) -> dict[str, Any]:
        return {
            "assignment": self.assignment,
            "score": self.score,
            "max_score": self.max_score,
            "tests": [
                {**t.to_dict(), "score": round(t.score, 6), "max_score": round(t.max_score, 6)} for t in self.tests
            ],
            "flags": list(self.flags),
        }

    def table(self) -> str:
        width = max([len(t.id) for t in self.tests] + [10])
        lines = [f"{self.assignment}: {self.score:g} / {self.max_score:g} points on the automatic tests"]
        for t in self.tests:
            mark = "PASS" if t.score == t.max_score else "FAIL"
            lines.append(
                f"  {mark}  {t.id:<{width}}  {t.score:>5.3g} / {t.max_score:<5.3g} {'' if t.message == 'ok' else t.message}".rstrip()
            )
        if self.manual_points:
            lines.append(f"The written answers ({self.manual_points:g} points) are graded by hand.")
        if self.flags:
            lines.append("flags: " + ", ".join(self.flags))
        return "\n".join(lines)


def _nbgrader(cell: Any) -> dict[str, Any]:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def identify(path: Path) -> tuple[nbformat.NotebookNode, str]:
    """Read the notebook and find its assignment from its grade ids (``NAME-KIND-PART``)."""
    if not path.exists():
        raise CheckError(f"no such file: {path}")
    if not path.is_file():
        raise CheckError(f"not a file: {path}")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as e:
        raise CheckError(f"not a Jupyter notebook: {path} ({type(e).__name__})") from None
    found = {str(_nbgrader(c).get("grade_id", "")).partition("-")[0] for c in nb.get("cells", [])} & set(ASSIGNMENTS)
    if len(found) != 1:
        raise CheckError(
            f"not one of the course's exercise notebooks (no grade ids of {', '.join(ASSIGNMENTS)}): {path}"
        )
    name = found.pop()
    if not source_notebook(name).is_file() or not (EXERCISES / name / f"{name}.ipynb").is_file():
        raise CheckError(f"cannot grade {name}: its source notebook is not in this installation")
    return nb, name


def _is_demo(grade_id: str) -> bool:
    """Locked ``NAME-demo-PART`` cells only show something (a training run, a plot): the grade
    does not depend on them, so ``lossprep check`` skips them to stay fast."""
    return grade_id.split("-")[1:2] == ["demo"]


def restore(nb: nbformat.NotebookNode, assignment: str) -> tuple[nbformat.NotebookNode, bool]:
    """The cells to run: the student's solution cells and their own code cells; locked code
    cells as released (missing ones put back), except demo cells; no test cells (they are
    graded out of the kernel).
    Returns the notebook and whether a test or locked cell had been edited."""
    release = nbformat.read(EXERCISES / assignment / f"{assignment}.ipynb", as_version=4)
    source = nbformat.read(source_notebook(assignment), as_version=4)
    locked = {
        _nbgrader(c)["grade_id"]: c
        for c in release.cells
        if _nbgrader(c).get("grade_id") and not _nbgrader(c).get("solution")
    }
    # the instructor's source notebook (hidden tests in place) is not a tampered copy either
    also_fine = {_nbgrader(c).get("grade_id"): c.source for c in source.cells}
    seen: set[str] = set()
    tampered = False
    cells = []
    for cell in nb.cells:
        meta = _nbgrader(cell)
        gid = meta.get("grade_id")
        if gid in locked:
            seen.add(gid)
            original = locked[gid]
            if cell.source not in (original.source, also_fine.get(gid)):
                tampered = True
            if original.cell_type == "code" and not _nbgrader(original).get("grade") and not _is_demo(gid):
                cells.append(nbformat.v4.new_code_cell(original.source))
        elif cell.cell_type == "code":
            cells.append(nbformat.v4.new_code_cell(cell.source))
    missing = [
        c
        for gid, c in locked.items()
        if gid not in seen and c.cell_type == "code" and not _nbgrader(c).get("grade") and not _is_demo(gid)
    ]
    cells = [nbformat.v4.new_code_cell(c.source) for c in missing] + cells
    out = nbformat.v4.new_notebook()
    out.cells = cells
    out.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    return out, tampered


FORBIDDEN = ("autograder",)  # packages the student's kernel may not import (the reference lives there)


def _limits_cell(memory: int) -> str:
    """The first cell the kernel runs: an address-space limit, and an import hook that refuses
    the grading package (the student's code must not call the hidden reference)."""
    return (
        "import resource as _r, sys as _s\n"
        f"_r.setrlimit(_r.RLIMIT_AS, ({memory}, {memory}))\n"
        "class _LossprepForbidden:\n"
        f"    names = {FORBIDDEN!r}\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in self.names:\n"
        "            raise ImportError(f'forbidden import: {name} is not available while grading')\n"
        "        return None\n"
        "_s.meta_path.insert(0, _LossprepForbidden())\n"
        "for _m in [m for m in _s.modules if m.split('.')[0] in _LossprepForbidden.names]:\n"
        "    del _s.modules[_m]\n"
        "del _r, _s, _LossprepForbidden\n"
    )


def forbidden_imports(nb: nbformat.NotebookNode) -> bool:
    """Whether the code to run names a forbidden package (an import, or a string for importlib)."""
    pattern = re.compile(r"\b(" + "|".join(FORBIDDEN) + r")\b")
    return any(pattern.search(c.source) for c in nb.cells if c.cell_type == "code")


def _collector_cell(in_path: Path, out_path: Path) -> str:
    source = COLLECTOR.read_text(encoding="utf-8")
    return (
        "_lossprep_collector = {'__name__': 'lossprep_collector'}\n"
        f"exec(compile({source!r}, 'lossprep-collector', 'exec'), _lossprep_collector)\n"
        f"_lossprep_collector['collect_file']({str(in_path)!r}, {str(out_path)!r}, globals())\n"
        "del _lossprep_collector\n"
    )


def execute(
    nb: nbformat.NotebookNode,
    jobs: dict[str, dict[str, list[Any]]],
    workdir: Path,
    *,
    timeout: float = TIMEOUT,
    memory: int = MEMORY_LIMIT,
) -> tuple[dict[str, dict[str, list[dict[str, Any]]] | None], list[str]]:
    """Run the student's cells in a fresh kernel, then one collector cell per part.

    ``jobs`` maps a part's grade id to its calls (test id -> calls). Returns the outcomes per
    part (``None`` where the collector did not come back) and the flags raised.
    """
    import torch
    from jupyter_core.utils import run_sync
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    flags: list[str] = []
    student = list(nb.cells)
    collectors: list[tuple[str, Path]] = []
    cells = [nbformat.v4.new_code_cell(_limits_cell(memory)), *student]
    for k, (gid, calls) in enumerate(jobs.items()):
        in_path, out_path = workdir / f"calls-{k}.pt", workdir / f"outcomes-{k}.pt"
        torch.save({tid: [c.to_dict() for c in cs] for tid, cs in calls.items()}, in_path)
        cells.append(nbformat.v4.new_code_cell(_collector_cell(in_path, out_path)))
        collectors.append((gid, out_path))
    run_nb = nbformat.v4.new_notebook()
    run_nb.cells = cells
    run_nb.metadata = nb.metadata
    client = NotebookClient(
        run_nb,
        timeout=int(timeout),
        kernel_name="python3",
        allow_errors=True,
        interrupt_on_timeout=False,
        resources={"metadata": {"path": str(workdir)}},
        startup_timeout=120,
    )
    deadline = time.monotonic() + timeout
    try:
        with client.setup_kernel(env=_kernel_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL):
            for index, cell in enumerate(run_nb.cells):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise CellTimeoutError("the run took too long")
                client.timeout = max(1, int(left))
                client.execute_cell(cell, index)
                errors = [
                    f"{o.get('ename')}: {o.get('evalue')}"
                    for o in cell.get("outputs", [])
                    if o.get("output_type") == "error"
                ]
                if any(_out_of_memory(e) for e in errors):
                    flags.append("memory")
                if any("forbidden import" in e for e in errors):
                    flags.append("forbidden-import")
    except CellTimeoutError:
        flags.append("timeout")
        with contextlib.suppress(Exception):
            run_sync(client.km.interrupt_kernel)()
    except DeadKernelError:
        flags.append("memory")
    outcomes: dict[str, dict[str, list[dict[str, Any]]] | None] = {}
    for gid, out_path in collectors:
        try:
            outcomes[gid] = torch.load(out_path, weights_only=True) if out_path.is_file() else None
        except Exception:
            outcomes[gid] = None
            if "tampered" not in flags:
                flags.append("tampered")
    for per_part in outcomes.values():
        for outs in (per_part or {}).values():
            if any(_out_of_memory(str(o.get("error"))) for o in outs) and "memory" not in flags:
                flags.append("memory")
    return outcomes, sorted(set(flags), key=flags.index)


def _out_of_memory(error: str) -> bool:
    """Whether an error (``"Name: message"``) says the kernel ran out of memory."""
    return (
        error.startswith(("MemoryError", "OutOfMemoryError", "torch.OutOfMemoryError"))
        or "can't allocate memory" in error
    )


def _kernel_env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["MPLBACKEND"] = "Agg"
    env.pop("PYTHONWARNINGS", None)
    return env


def grade(path: Path, *, timeout: float = TIMEOUT) -> Report:
    """Grade the notebook at ``path``: identify, restore, execute, judge."""
    nb, assignment = identify(path)
    run_nb, tampered = restore(nb, assignment)
    parts = source_parts(assignment)
    jobs = {gid: build_calls(assignment, gid) for gid in parts}
    with tempfile.TemporaryDirectory(prefix="lossprep-check-") as tmp:
        outcomes, flags = execute(run_nb, jobs, Path(tmp), timeout=timeout)
    if tampered:
        flags.append("tampered")
    if forbidden_imports(run_nb) or any(
        "forbidden import" in str(o.get("error"))
        for part in outcomes.values()
        for outs in (part or {}).values()
        for o in outs
    ):
        flags.append("forbidden-import")
    missing = (
        "the notebook timed out before this test ran"
        if "timeout" in flags
        else "the tests could not run (the kernel stopped)"
    )
    tests: list[TestResult] = []
    for gid, points in parts.items():
        tests += judge_part(assignment, gid, points, jobs[gid], outcomes.get(gid), missing=missing)
    return Report(assignment, tests, flags, manual_points=_manual_points(assignment))


def _manual_points(assignment: str) -> float:
    nb = nbformat.read(source_notebook(assignment), as_version=4)
    return sum(
        float(_nbgrader(c).get("points", 0))
        for c in nb.cells
        if _nbgrader(c).get("grade") and _nbgrader(c).get("solution")
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("notebook", type=Path, help="the exercise notebook to grade (any path, any file name)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help=f"seconds for the whole run (default {TIMEOUT})")


def run(args: argparse.Namespace) -> int:
    try:
        report = grade(args.notebook, timeout=args.timeout)
    except CheckError as e:
        print(f"lossprep check: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # no traceback for a user: say what broke, in one line
        print(f"lossprep check: grading failed: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
        return 2
    try:
        print(json.dumps(report.to_dict()) if args.json else report.table(), flush=True)
    except BrokenPipeError:  # `lossprep check nb.ipynb | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
