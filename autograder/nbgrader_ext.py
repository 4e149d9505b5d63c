"""Preprocessors plugged into nbgrader's own pipeline (see ``nbgrader_config.py``).

- :class:`GradeCells` (``autograde``, in place of nbgrader's ``Execute``): runs the grading
  engine (``autograder.engine``) on the submitted notebook, sandboxed, and writes each test
  cell's score as the cell's result, where nbgrader reads partial credit; the test lines,
  flags and notes go into the cell's output, every other code cell gets the output of its run.
  The gradebook, ``generate_feedback``, ``export`` and the formgrader then work as usual. It
  refuses to grade without the sandbox unless ``GradeCells.unsafe_without_sandbox`` is set.
- :class:`ReadAnySubmission` (``autograde``'s exporter): a submission that is not a notebook
  (empty, truncated, not UTF-8) is read as the released notebook, so that it is graded (0, with
  the reason in its report) instead of stopping with a traceback in nbgrader's log.
- :class:`RestoreCells` (``autograde``, in place of ``OverwriteCells``): nbgrader's restoring of
  locked cells, without its false "checksum has changed" warning for test cells the student
  never touched (nbgrader #1961: the release lacks the hidden region the gradebook's copy has).
- :class:`HideHiddenTests` (``generate_feedback``): removes the hidden region from test cells
  again and cuts tracebacks to their last line (stock nbgrader prints them back: #917, #1363).
- :class:`FeedbackExporter` and :class:`FeedbackExtras` (``generate_feedback``): the course's
  feedback template (``autograder/templates/lossprep_feedback``) and what it needs: MathJax from the installed
  ``sphinx-mathjax-offline`` package (no CDN: formulas render offline), the flags and notes of
  the grading, and which written answers are not graded yet.
"""

from __future__ import annotations

import copy
import functools
import uuid
from pathlib import Path
from typing import Any

import nbformat
from nbconvert.exporters import HTMLExporter, NotebookExporter
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from nbgrader.utils import is_grade, is_locked, is_solution
from traitlets import Bool, Float

__all__ = [
    "GradeCells",
    "ApplyReport",
    "record",
    "protected_paths",
    "SandboxRequired",
    "ReadAnySubmission",
    "RestoreCells",
    "HideHiddenTests",
    "FeedbackExtras",
    "FeedbackExporter",
    "TEMPLATES",
]

TEMPLATES = Path(__file__).with_name("templates")


class SandboxRequired(RuntimeError):
    """Batch grading without the sandbox, and the instructor did not say it may."""


class GradeCells(NbGraderPreprocessor):
    """Grade the submission with the engine; write scores and outputs into the notebook."""

    unsafe_without_sandbox = Bool(
        False,
        help=(
            "Grade even where bubblewrap is missing or not permitted, with resource limits only. "
            "UNSAFE: the submissions' code can then read the hidden tests, the solutions and the "
            "gradebook, and use the network."
        ),
    ).tag(config=True)
    cell_seconds = Float(30.0, help="Time limit of each cell of a submission.").tag(config=True)
    part_seconds = Float(60.0, help="Time limit of the hidden tests of each graded part.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        from nbgrader.coursedir import CourseDirectory

        from autograder import assignment
        from autograder.engine import CheckError, grade, ungraded
        from autograder.sandbox import Limits, SandboxUnavailable, find_sandbox

        info = resources["nbgrader"]
        try:
            sandbox = find_sandbox(require=not self.unsafe_without_sandbox)
        except SandboxUnavailable as e:
            raise SandboxRequired(
                f"{e}: batch grading runs only in the sandbox. Install bubblewrap, or accept the risk with "
                "--GradeCells.unsafe_without_sandbox=True"
            ) from None
        course = _course_directory(self) or CourseDirectory(config=self.config)
        submitted = Path(course.format_path(course.submitted_directory, info["student"], info["assignment"]))
        path = submitted / f"{info['notebook']}.ipynb"
        limits = Limits(cell_seconds=self.cell_seconds, part_seconds=self.part_seconds)
        try:
            report = grade(
                path, sandbox=sandbox, limits=limits, expect=info["assignment"], protected=protected_paths(course)
            )
        except CheckError as e:
            report = ungraded(assignment.load(info["assignment"]), f"not graded: {e}")
            self.log.warning("%s: not graded: %s", info["student"], e)
        record(self, nb, report, info["student"])
        return nb, resources


def protected_paths(course: Any) -> list[Path]:
    """The course's folders and gradebook, which a submission's code must not read (more than
    the engine's own list: a course directory may lie elsewhere)."""
    root = Path(course.root)
    return [
        root / course.source_directory,
        root / course.submitted_directory,
        root / course.autograded_directory,
        root / course.feedback_directory,
        root / "gradebook.db",
    ]


def record(pp: NbGraderPreprocessor, nb: NotebookNode, report: Any, student: str) -> None:
    """Write a grading report into the notebook nbgrader is autograding (scores where nbgrader
    reads partial credit, test lines, outputs, metadata ``lossprep``) and log its flags."""
    _write(nb, report)
    nb.metadata["lossprep"] = {"flags": report.flags, "notes": report.lines(), "sandbox": report.sandbox}
    if report.flags or report.sandbox == "none":
        pp.log.warning(
            "%s: flags %s%s",
            student,
            ", ".join(report.flags) or "none",
            "".join(f"\n    {line}" for line in report.lines()),
        )


class ApplyReport(NbGraderPreprocessor):
    """:class:`GradeCells` for a submission already graded elsewhere (``lossprep grade``: in a
    worker process or on a Dask worker): writes the given report (notebook id -> report) into
    the notebook exactly as :class:`GradeCells` writes its own."""

    def __init__(self, reports: dict[str, Any], **kw: Any) -> None:
        super().__init__(**kw)
        self.reports = reports

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        info = resources["nbgrader"]
        record(self, nb, self.reports[info["notebook"]], info["student"])
        return nb, resources


def _course_directory(pp: Any) -> Any:
    """The running nbgrader app's course directory (the converter is the exporter's parent, and
    the exporter the preprocessor's), or ``None``."""
    obj = pp.parent
    while obj is not None and not hasattr(obj, "coursedir"):
        obj = getattr(obj, "parent", None)
    return getattr(obj, "coursedir", None)


def _write(nb: NotebookNode, report: Any) -> None:
    """Test cells: their test lines and score; other code cells: the output of their run."""
    from autograder.assignment import grade_id

    runs_by_id = {r.grade_id: r for r in report.cells.values() if r.grade_id}
    plain_runs = [r for i, r in sorted(report.cells.items()) if not r.grade_id and i >= 0]
    first_test = True
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        gid = grade_id(cell)
        if gid in report.part_tests:
            lines = [
                f"{'PASS' if t.score >= t.max_score - 1e-9 else 'FAIL'}  {t.id}  {t.score:.3g} / {t.max_score:.3g}"
                + ("" if t.message == "ok" else f"  {t.message}")
                for t in report.part_tests[gid]
            ]
            if first_test and report.lines():
                lines += ["", *(f"note: {line}" for line in report.lines())]
                lines += [f"flags: {', '.join(report.flags)}"] if report.flags else []
            first_test = False
            cell.outputs = [
                new_output("stream", name="stdout", text="\n".join(lines) + "\n"),
                new_output("execute_result", data={"text/plain": repr(report.parts[gid])}, execution_count=None),
            ]
            continue
        run = runs_by_id.get(gid) if gid else (plain_runs.pop(0) if plain_runs else None)
        outputs = []
        if run is not None and run.output:
            outputs.append(new_output("stream", name="stdout", text=run.output))
        if run is not None and run.error:
            name, _, value = run.error.partition(": ")
            outputs.append(new_output("error", ename=name, evalue=value, traceback=[run.error]))
        cell.outputs = outputs


class ReadAnySubmission(NotebookExporter):
    """nbgrader's notebook exporter, except that a file that does not read as a notebook is
    replaced by the assignment's released notebook: nbgrader then restores and saves it as for
    any submission, and :class:`GradeCells`, which grades the submitted file itself, gives it 0
    with the reason (the file is left as it was)."""

    def from_file(self, file_stream: Any, resources: dict[str, Any] | None = None, **kw: Any) -> Any:
        try:
            nb = nbformat.read(file_stream, as_version=4)
        except Exception:  # not JSON, not UTF-8, not a notebook: the release stands in
            info = (resources or {}).get("nbgrader", {})
            course = _course_directory(self)
            if course is None or "assignment" not in info:
                raise
            release = Path(course.format_path(course.release_directory, ".", info["assignment"]))
            nb = nbformat.read(release / f"{info['notebook']}.ipynb", as_version=4)
        return self.from_notebook_node(nb, resources=resources, **kw)


@functools.cache
def _strip_hidden() -> ClearHiddenTests:
    return ClearHiddenTests()


class RestoreCells(OverwriteCells):
    """nbgrader's :class:`OverwriteCells`, minus the false "checksum has changed" warning: a
    test cell whose source is the release's (the gradebook's minus its hidden region) was not
    touched. Real edits are still reported (and flagged ``tampered`` by the engine). A cell
    the gradebook does not know loses its nbgrader metadata altogether."""

    _untouched = False

    def preprocess_cell(
        self, cell: NotebookNode, resources: dict[str, Any], cell_index: int
    ) -> tuple[NotebookNode, dict[str, Any]]:
        self._untouched = False
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid is None:
            return super().preprocess_cell(cell, resources, cell_index)
        try:
            source = self.gradebook.find_source_cell(gid, self.notebook_id, self.assignment_id)
        except MissingEntry:
            # a cell of another notebook (another exercise handed in): a plain cell from here
            # on; nbgrader would keep its other nbgrader metadata and then fail to add the
            # missing cells back (KeyError 'grade_id')
            self.log.warning("Cell '%s' does not exist in the database", gid)
            del cell.metadata["nbgrader"]
            return cell, resources
        if is_locked(cell):
            released = NotebookNode(copy.deepcopy({"source": source.source}))
            _strip_hidden()._remove_hidden_test_region(released)
            self._untouched = cell.source in (released.source, source.source)
        return super().preprocess_cell(cell, resources, cell_index)

    def report_change(self, name: str, attr: str, old: Any, new: Any) -> None:
        if attr == "checksum" and self._untouched:
            return
        super().report_change(name, attr, old, new)

    def add_missing_grade_cells(
        self, nb: NotebookNode, resources: dict[str, Any]
    ) -> tuple[NotebookNode, dict[str, Any]]:
        """Put back every missing grade cell after the nearest earlier cell of the source that is
        present (nbgrader's own version fails with a KeyError when that one is missing too: a
        deleted solution and its test cell, another exercise's notebook)."""
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        order = [c.name for c in source_nb.source_cells]
        solutions = {c.name for c in source_nb.solution_cells}
        for grade_cell in source_nb.grade_cells:
            ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
            if grade_cell.name in ids:
                continue
            self.log.warning("Missing grade cell %s encountered, adding to notebook", grade_cell.name)
            k = order.index(grade_cell.name)
            cell = self.missing_cell_transform(
                source_nb.source_cells[k], grade_cell.max_score, is_solution=grade_cell.name in solutions
            )
            cell["id"] = uuid.uuid4().hex[:8]  # nbformat 4.5 cells carry one
            before = next((ids.index(p) + 1 for p in reversed(order[:k]) if p in ids), 0)
            nb.cells.insert(before, cell)
        return nb, resources


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


class FeedbackExporter(HTMLExporter):
    """The exporter of ``generate_feedback`` (and only of it: the formgrader keeps its own
    template), configured in ``nbgrader_config.py`` with the course's feedback template."""


@functools.cache
def _mathjax() -> str:
    """MathJax 3 with SVG output (no web fonts), from the package the book uses."""
    from importlib.metadata import distribution

    dist = distribution("sphinx-mathjax-offline")
    path = next(f for f in dist.files or [] if str(f).endswith("static/mathjax/tex-svg.js"))
    text = Path(dist.locate_file(path)).read_text(encoding="utf-8")
    return text.replace("</script", "<\\/script")  # it goes inline, into a <script> element


class FeedbackExtras(NbGraderPreprocessor):
    """Resources for the feedback template: inline MathJax, the grading's flags and notes, and
    the written answers not graded yet. nbgrader's gradebook gives an ungraded answer the score
    0; here its score becomes ``None`` (no manual and no automatic score), which the template
    shows as "not graded yet"."""

    def preprocess(self, nb: NotebookNode, resources: dict[str, Any]) -> tuple[NotebookNode, dict[str, Any]]:
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        pending = 0.0
        with Gradebook(info["db_url"]) as gb:
            for cell in nb.cells:
                if not (is_grade(cell) and is_solution(cell)):
                    continue
                grade = gb.find_grade(
                    cell.metadata.nbgrader["grade_id"], info["notebook"], info["assignment"], info["student"]
                )
                if grade.manual_score is None and grade.auto_score is None:
                    cell.metadata.nbgrader["score"] = None
                    pending += float(cell.metadata.nbgrader.get("points", 0))
        grading = nb.metadata.get("lossprep", {})
        resources["lossprep"] = {
            "mathjax": _mathjax(),
            "pending_points": pending,
            "graded_max": float(info.get("max_score", 0)) - pending,
            "flags": list(grading.get("flags", [])),
            "notes": list(grading.get("notes", [])),
        }
        return nb, resources
