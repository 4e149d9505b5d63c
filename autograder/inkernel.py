"""The small harness the hidden test cells call during ``nbgrader autograde``.

It builds the same hidden calls as ``lossprep check``, runs them in this kernel, judges them
and returns the points earned, which nbgrader reads as the cell's partial credit. It prints one
line per test and never lets a warning or stderr output reach the cell (a test cell with
stderr output scores 0 in nbgrader).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

from autograder.pipeline import grade_namespace
from autograder.spec import assignment_of

__all__ = ["grade_part"]


def grade_part(grade_id: str, namespace: dict[str, Any]) -> float:
    """Grade the part of test cell ``grade_id`` against the functions in ``namespace``."""
    assignment = assignment_of(grade_id)
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        results = grade_namespace(assignment, namespace, [grade_id])
    for r in results:
        print(f"{'PASS' if r.score == r.max_score else 'FAIL'}  {r.id:<40} {r.score:g}/{r.max_score:g}  {r.message}")
    return round(sum(r.score for r in results), 6)
