"""Preprocessors plugged into nbgrader's own pipeline (see ``nbgrader_config.py``).

- :class:`HideHiddenTests` (``generate_feedback``): removes the hidden test region from test
  cells again and cuts error tracebacks to their last line, so the feedback a student gets
  shows messages and scores but no hidden test source (stock nbgrader prints it back:
  nbgrader issues #917 and #1363).
- :class:`StderrToStdout` (``autograde``): nbgrader scores a test cell 0 as soon as it wrote
  anything to stderr; a stray library warning must not cost a correct student the points.
- :class:`ForbidGraderImports` (``autograde``): the hidden tests run in the student's kernel
  there, so the grading package is importable; a student cell that names it is replaced by an
  ``ImportError`` before execution instead of calling the hidden reference.
"""

from __future__ import annotations

import re
from typing import Any

from nbformat import NotebookNode
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor
from nbgrader.utils import is_grade, is_solution

__all__ = ["HideHiddenTests", "StderrToStdout", "ForbidGraderImports", "is_test_cell"]


def is_test_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


class HideHiddenTests(ClearHiddenTests):
    """Clear hidden tests and tracebacks from an autograded notebook before it becomes feedback."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], cell_index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        if cell.cell_type == "code":
            self._remove_hidden_test_region(cell)
            for out in cell.get("outputs", []):
                if out.get("output_type") == "error":
                    out["traceback"] = [f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"]
        return cell, resources


class StderrToStdout(NbGraderPreprocessor):
    """Relabel stderr stream output of test cells as stdout (errors still score 0)."""

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], cell_index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        if is_test_cell(cell):
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and out.get("name") == "stderr":
                    out["name"] = "stdout"
        return cell, resources


class ForbidGraderImports(NbGraderPreprocessor):
    """Student code cells that name the ``autograder`` package raise ``ImportError`` instead of running."""

    pattern = re.compile(r"\bautograder\b")

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], cell_index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        if cell.cell_type == "code" and not is_test_cell(cell) and self.pattern.search(cell.source):
            cell.source = 'raise ImportError("forbidden import: the grading package is not available to student code")'
        return cell, resources
