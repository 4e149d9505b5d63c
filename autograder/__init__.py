"""The grading package (instructor side): hidden reference implementations, hidden tests and
the grading pipeline on top of nbgrader. See ``autograder/README.md``."""

from __future__ import annotations

from pathlib import Path

__all__ = ["ASSIGNMENTS", "ROOT", "SOLUTIONS", "EXERCISES"]

# The course repository (course directory of nbgrader): autograder/ lives at its top.
ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"

# Every assignment: solutions/NAME/NAME.ipynb, exercises/NAME/NAME.ipynb,
# autograder/reference/NAME.py and autograder/cases/NAME.py.
ASSIGNMENTS: tuple[str, ...] = ("medical_loss", "multilabel_fix", "ranking_loss")
