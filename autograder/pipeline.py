"""The grading steps shared by ``lossprep check`` and ``nbgrader autograde``: build the hidden
calls (in the grader, seeded), judge the outcomes against the reference, score per part."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from autograder import SOLUTIONS
from autograder.spec import Call, Outcome, Test, load_cases

__all__ = ["TestResult", "source_notebook", "source_parts", "build_calls", "judge_part", "grade_namespace", "SEED"]

SEED = 20261123  # hidden-input seed; each test gets its own stream derived from it and its id


@dataclass(frozen=True)
class TestResult:
    """One line of a grade: the contract's ``{"id", "score", "max_score", "message"}``."""

    id: str
    score: float
    max_score: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "score": self.score, "max_score": self.max_score, "message": self.message}


def source_notebook(assignment: str) -> Path:
    return SOLUTIONS / assignment / f"{assignment}.ipynb"


def source_parts(assignment: str) -> dict[str, float]:
    """Autograded test cells of the source notebook: grade id -> points, in notebook order."""
    nb = json.loads(source_notebook(assignment).read_text(encoding="utf-8"))
    parts: dict[str, float] = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and cell["cell_type"] == "code":
            parts[meta["grade_id"]] = float(meta.get("points", 0))
    return parts


def _generator(test_id: str, seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed + zlib.crc32(test_id.encode()))


def build_calls(assignment: str, grade_id: str, seed: int = SEED) -> dict[str, list[Call]]:
    """The hidden calls of one part: test id -> calls, the same for the same seed."""
    tests: list[Test] = load_cases(assignment).PARTS[grade_id]
    return {t.id: t.build(_generator(t.id, seed)) for t in tests}


def judge_part(
    assignment: str,
    grade_id: str,
    points: float,
    calls: dict[str, list[Call]],
    outcomes: dict[str, list[dict[str, Any]]] | None,
    *,
    missing: str = "the tests could not run",
) -> list[TestResult]:
    """Judge the outcomes of one part; its ``points`` are shared by the tests' weights.

    ``outcomes`` is ``None`` (or lacks a test) when the collector did not come back: those tests
    score 0 with the ``missing`` message.
    """
    tests: list[Test] = load_cases(assignment).PARTS[grade_id]
    total = sum(t.weight for t in tests)
    results = []
    for t in tests:
        max_score = points * t.weight / total  # totals are rounded once, in the report
        got = None if outcomes is None else outcomes.get(t.id)
        if got is None or len(got) != len(calls[t.id]):
            message = missing
        else:
            try:
                message = t.judge(calls[t.id], [Outcome.from_dict(o) for o in got]) or ""
            except Exception as e:  # a malformed outcome is the student's failure, not a crash
                message = f"returns something that cannot be checked ({type(e).__name__})"
        results.append(TestResult(t.id, 0.0 if message else max_score, max_score, message or "ok"))
    return results


def grade_namespace(assignment: str, namespace: dict[str, Any], grade_ids: list[str] | None = None) -> list[TestResult]:
    """Every hidden test of ``assignment`` (or of the parts ``grade_ids``) against the functions
    in ``namespace``, all in this process: what the in-kernel harness does, cell by cell."""
    from autograder.collect import collect_calls

    results: list[TestResult] = []
    for gid, points in source_parts(assignment).items():
        if grade_ids is not None and gid not in grade_ids:
            continue
        calls = build_calls(assignment, gid)
        outcomes = collect_calls({k: [c.to_dict() for c in v] for k, v in calls.items()}, namespace)
        results += judge_part(assignment, gid, points, calls, outcomes)
    return results
