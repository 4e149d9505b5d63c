"""The grading engine's steps alone (autograder/engine.py, checks.py): reading bad files,
identifying, restoring locked cells and noticing edits, flags decided from typed incidents,
what a student reads (the cell and error behind an undefined function, a renamed function, one
cause said once), per-part time limits. Student code runs in this process here (see
grading_helpers.InProcess); the sandboxed runs are in test_grading_sandbox.py and
test_grading_attacks.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from grading_helpers import answers, edit_cell, fill, release, report_in_process, to_bytes

from autograder import ROOT, SOLUTIONS, assignment, runner
from autograder.checks import explain
from autograder.engine import FLAG_OF, CheckError, Event, Flag, Incident, Report, grade, identify, read, restore
from autograder.sandbox import Limits
from autograder.spec import Kind, Verdict

M = "medical_loss"
GOOD = answers(M).RIGHT["vectorised"]
FAST = [f"{M}-test-medical_loss", f"{M}-test-medical_loss_grad", f"{M}-test-calibrated_probability"]


# ---------------------------------------------------------------- read and identify


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", "the file is empty"),
        (b"  \n", "the file is empty"),
        ("caf\xe9".encode("latin-1"), "not UTF-8"),
        (b'{"cells": [', "invalid or truncated JSON"),
        (b"[1, 2]", "no list of cells"),
        (b'{"cells": [], "nbformat": 3}', "no list of cells"),
        (b'{"cells": [{"source": "x"}], "nbformat": 4}', "a cell without a type"),
    ],
    ids=["empty", "blank", "latin-1", "truncated", "list", "nbformat-3", "no-cell-type"],
)
def test_what_is_not_a_notebook_is_refused_in_one_line(content: bytes, words: str) -> None:
    with pytest.raises(CheckError, match=words) as err:
        read(content)
    assert "\n" not in str(err.value)


def test_missing_files_and_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(CheckError, match="no such file"):
        read(tmp_path / "missing.ipynb")
    with pytest.raises(CheckError, match="not a file"):
        read(tmp_path)


def test_a_notebook_is_identified_by_its_grade_ids_alone() -> None:
    assert identify(read(to_bytes(release("ranking_loss")))).name == "ranking_loss"
    with pytest.raises(CheckError, match="not one of the course's"):
        identify(read(to_bytes(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1")]))))
    mixed = release(M)
    mixed.cells += release("ranking_loss").cells[:3]
    with pytest.raises(CheckError, match="mixes cells of several exercises"):
        identify(read(to_bytes(mixed)))


def test_assignments_are_discovered_from_the_solutions_folder() -> None:
    assert assignment.names() == tuple(sorted(p.name for p in SOLUTIONS.iterdir() if (p / f"{p.name}.ipynb").is_file()))


# ---------------------------------------------------------------- restore


def _restore(nb: nbformat.NotebookNode):  # type: ignore[no-untyped-def]
    data = read(to_bytes(nb))
    return restore(data, identify(data))


def test_the_release_and_the_source_restore_without_a_note() -> None:
    for nb in (release(M), nbformat.read(SOLUTIONS / M / f"{M}.ipynb", as_version=4)):
        restored = _restore(nb)
        assert restored.events == []
        ids = [c.grade_id for c in restored.cells]
        assert f"{M}-setup-imports" in ids and f"{M}-demo-training" not in ids
        assert not [i for i in ids if i and "-test-" in i]  # test cells do not run: graded outside


def test_edited_and_deleted_locked_cells_are_named_and_the_originals_run() -> None:
    nb = fill(M, GOOD)
    edit_cell(nb, f"{M}-setup-imports", "import torch\ndef imbalanced_xrays(*a, **k):\n    return None")
    edit_cell(nb, f"{M}-test-medical_loss", "print('all tests passed')")
    edit_cell(nb, f"{M}-test-calibrated_probability", None)
    edit_cell(nb, f"{M}-task-training", "# my notes")
    restored = _restore(nb)
    assert {(e.incident, e.where) for e in restored.events} == {
        (Incident.EDITED_CELL, f"cell {M}-setup-imports"),
        (Incident.EDITED_CELL, f"cell {M}-test-medical_loss"),
        (Incident.EDITED_CELL, f"cell {M}-task-training"),
        (Incident.DELETED_CELL, f"cell {M}-test-calibrated_probability"),
    }
    setup = next(c for c in restored.cells if c.grade_id == f"{M}-setup-imports")
    assert setup.source == assignment.load(M).locked[f"{M}-setup-imports"].released


def test_a_deleted_setup_cell_is_put_back_first() -> None:
    restored = _restore(edit_cell(fill(M, GOOD), f"{M}-setup-imports", None))
    assert restored.cells[0].grade_id == f"{M}-setup-imports" and restored.cells[0].index < 0
    assert [e.incident for e in restored.events] == [Incident.DELETED_CELL]


# ---------------------------------------------------------------- flags: one place, typed


def test_every_incident_has_its_flag_and_the_child_reports_only_known_ones() -> None:
    assert set(FLAG_OF) == set(Incident)
    assert {Incident(kind) for kind in runner.INCIDENTS} <= set(Incident)
    assert {f.value for f in Flag} == {
        "tampered",
        "forbidden-import",
        "sandbox-denied",
        "network",
        "memory",
        "timeout",
        "killed",
        "output-limit",
    }


def test_a_report_lists_each_flag_once_in_a_fixed_order() -> None:
    report = Report(
        M,
        [],
        events=[
            Event(Incident.NETWORK, "", ""),
            Event(Incident.EDITED_CELL, "cell x", ""),
            Event(Incident.MONKEYPATCH, "cell y", "torch.allclose"),
            Event(Incident.CRASHED, "cell z", "signal SIGSEGV"),
        ],
    )
    assert report.flags == ["tampered", "network", "killed"]
    assert set(report.to_dict()) == {"assignment", "score", "max_score", "tests", "flags", "notes"}
    assert "cell y: replaced functions" in "\n".join(report.lines())


# ---------------------------------------------------------------- what a student reads


def test_explain_leads_with_the_basic_failure() -> None:
    grad = Verdict(Kind.GRADIENT_WRONG, "value right, gradient wrong", "on random queries")
    assert explain([grad, grad, None]) == [
        "value right, gradient wrong on random queries",
        "value right, gradient wrong, as on basic inputs",
        "ok",
    ]
    nan = Verdict(Kind.NAN, "returns nan", "when |logits| is large")
    assert explain([None, nan]) == ["ok", "right on basic inputs, but returns nan when |logits| is large"]
    missing = Verdict(Kind.UNDEFINED, "f is not defined")
    assert explain([missing, missing]) == ["f is not defined", "f is not defined"]


def test_a_syntax_error_names_the_cell_and_the_error() -> None:
    broken = "def pairwise_hinge_loss(scores, relevance, margin=1.0, mask=None):\n    return (\n"
    nb = fill("ranking_loss", {"pairwise_hinge_loss": broken})
    report = report_in_process(nb, ["ranking_loss-test-pairwise_hinge_loss"])
    message = report.tests[0].message
    assert message.startswith(
        "pairwise_hinge_loss is not defined: its cell ranking_loss-sol-pairwise_hinge_loss raised"
    )
    assert "SyntaxError" in message and "(line 2)" in message
    assert any("ranking_loss-sol-pairwise_hinge_loss raised SyntaxError" in line for line in report.lines())


def test_a_renamed_function_and_a_missing_cell_are_told_apart() -> None:
    renamed = "def pairwise_hinge(scores, relevance, margin=1.0, mask=None):\n    return scores.sum()"
    report = report_in_process(
        fill("ranking_loss", {"pairwise_hinge_loss": renamed}), ["ranking_loss-test-pairwise_hinge_loss"]
    )
    assert (
        report.tests[0].message == "pairwise_hinge_loss is not defined (the notebook defines pairwise_hinge: renamed?)"
    )
    gone = edit_cell(release("ranking_loss"), "ranking_loss-sol-pairwise_hinge_loss", None)
    report = report_in_process(gone, ["ranking_loss-test-pairwise_hinge_loss"])
    assert report.tests[0].message.endswith("the notebook has no cell ranking_loss-sol-pairwise_hinge_loss (deleted?)")


def test_another_exercises_notebook_scores_zero_with_a_clear_line() -> None:
    report = grade(to_bytes(release("ranking_loss")), expect=M)
    assert report.score == 0 and report.max_score == 12
    assert all(t.message == "not graded: this is the ranking_loss notebook, not medical_loss" for t in report.tests)


def test_a_slow_part_costs_only_itself_and_names_the_slow_function(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = (
        "import time\n"
        "def _helper(x):\n"
        "    time.sleep(60)\n"
        "    return x\n"
        "def calibrated_probability(logits, pos_weight):\n"
        "    return _helper(torch.sigmoid(logits - math.log(pos_weight)))\n"
    )
    nb = fill(M, {**{f.__name__.rsplit("_vectorised")[0]: f for f in GOOD}, "calibrated_probability": slow})
    import grading_helpers

    report = grade(to_bytes(nb), sandbox=grading_helpers.InProcess(), only=FAST, limits=Limits(part_seconds=2))
    assert report.parts[f"{M}-test-medical_loss"] == 4 and report.parts[f"{M}-test-medical_loss_grad"] == 3
    assert report.parts[f"{M}-test-calibrated_probability"] == 0
    message = next(t.message for t in report.tests if t.id == "calibrated_probability:random")
    assert message == f"not run: the part ran past its time limit, in _helper of cell {M}-sol-calibrated_probability"
    assert report.flags == ["timeout"]


def test_a_slow_cell_is_stopped_and_named_and_the_rest_still_runs() -> None:
    nb = fill(M, {f.__name__.rsplit("_vectorised")[0]: f for f in GOOD})
    nb.cells.insert(3, nbformat.v4.new_code_cell("import time\nwhile True:\n    time.sleep(0.01)"))
    import grading_helpers

    report = grade(to_bytes(nb), sandbox=grading_helpers.InProcess(), only=FAST, limits=Limits(cell_seconds=1))
    assert report.score == 9 and report.flags == ["timeout"]
    assert any(line.startswith("your cell #4: ran past its time limit") for line in report.lines())


def test_the_json_contract_keys(tmp_path: Path) -> None:
    report = report_in_process(fill(M, GOOD), FAST)
    data = json.loads(json.dumps(report.to_dict()))
    assert set(data) == {"assignment", "score", "max_score", "tests", "flags", "notes"}
    for t in data["tests"]:
        assert set(t) == {"id", "score", "max_score", "message"} and ":" in t["id"]
    assert data["score"] == data["max_score"] == 9.0


def test_grading_processes_skip_the_slow_optional_iri_checker() -> None:
    """``autograder`` keeps jsonschema from importing rfc3987_syntax (1.5 s of grammar building
    in every grading process); notebooks still validate, and a broken one is still refused."""
    code = (
        "import sys, autograder, nbformat\n"
        "nb = nbformat.read('solutions/medical_loss/medical_loss.ipynb', as_version=4)\n"
        "nbformat.validate(nb)\n"
        "nb.cells[0]['cell_type'] = 'nonsense'\n"
        "try:\n"
        "    nbformat.validate(nb)\n"
        "except nbformat.ValidationError:\n"
        "    print('refused')\n"
        "print(sys.modules.get('rfc3987_syntax', 'absent'))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["refused", "None"]
