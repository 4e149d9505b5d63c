"""The grading package (instructor side): the grading engine (``engine``: sandboxed run,
judging in the grader), the hidden tests (``cases/``) and reference implementations
(``reference/``), and its nbgrader preprocessors. See ``autograder/README.md``."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ROOT", "SOLUTIONS", "EXERCISES"]

# The course repository (course directory of nbgrader): autograder/ lives at its top.
# Assignments are discovered from SOLUTIONS (see autograder.assignment.names).
ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
