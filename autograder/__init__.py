"""The grading package (instructor side): the grading engine (``engine``: sandboxed run,
judging in the grader), the hidden tests (``cases/``) and reference implementations
(``reference/``), and its nbgrader preprocessors. See ``autograder/README.md``."""

from __future__ import annotations

import sys
from pathlib import Path

# jsonschema (nbformat's validator) imports rfc3987_syntax when it is installed (jupyter-events'
# format extras bring it), and that builds 38 lark grammars on import: about 1.5 s in every
# grading process and worker, for the "iri" string formats that no notebook schema uses. The
# grading processes go without that optional checker (jsonschema then skips the format).
if "jsonschema" not in sys.modules:
    sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]

__all__ = ["ROOT", "SOLUTIONS", "EXERCISES"]

# The course repository (course directory of nbgrader): autograder/ lives at its top.
# Assignments are discovered from SOLUTIONS (see autograder.assignment.names).
ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = ROOT / "solutions"
EXERCISES = ROOT / "exercises"
