"""The grading pipeline as a whole: released notebooks are generated (no drift) and leak
nothing, ``lossprep check`` keeps its contract, and the standard nbgrader workflow (autograde,
feedback, export) works on this repository without showing hidden tests to students."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from grading_helpers import (
    LOSSPREP,
    answer_code,
    answers,
    check_json,
    edit_cell,
    exercise_of,
    fill,
    grades,
    hand_in,
    make_course,
    run_nbgrader,
)

from autograder import EXERCISES, ROOT, SOLUTIONS, assignment

PRESENT = list(assignment.names())


# ---------------------------------------------------------------- drift and leaks


def test_every_assignment_has_its_files() -> None:
    assert "medical_loss" in PRESENT
    for name in PRESENT:
        assert (EXERCISES / name / f"{name}.ipynb").is_file(), f"run: nbgrader generate_assignment {name} --force"
        assert (ROOT / "autograder" / "reference" / f"{name}.py").is_file()
        assert (ROOT / "autograder" / "cases" / f"{name}.py").is_file()


@pytest.mark.slow
def test_regenerating_the_exercises_changes_nothing(tmp_path: Path) -> None:
    course = make_course(tmp_path, PRESENT)
    for name in PRESENT:
        run_nbgrader(["generate_assignment", name, "--force"], course)
        fresh = (course / "exercises" / name / f"{name}.ipynb").read_text(encoding="utf-8")
        committed = (EXERCISES / name / f"{name}.ipynb").read_text(encoding="utf-8")
        assert fresh == committed, (
            f"exercises/{name} is stale: run `nbgrader generate_assignment {name} --force` from the root"
        )


def _hidden_material() -> dict[str, list[str]]:
    """Lines students must never see, by where they come from."""
    found: dict[str, list[str]] = {}
    for name in PRESENT:
        nb = nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4)
        lines = []
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            for begin, end in (("BEGIN SOLUTION", "END SOLUTION"), ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")):
                inside = False
                for line in cell.source.splitlines():
                    if begin in line:
                        inside = True
                    elif end in line:
                        inside = False
                    elif inside:
                        lines.append(line.strip())
            if cell.cell_type == "markdown" and meta.get("solution"):  # model written answers
                lines += [ln.strip() for ln in cell.source.splitlines()]
        found[f"solutions/{name}"] = [ln for ln in lines if len(ln) >= 20]
        ref_lines = (ROOT / "autograder" / "reference" / f"{name}.py").read_text(encoding="utf-8").splitlines()
        found[f"autograder/reference/{name}.py"] = [
            ln.strip()
            for ln in ref_lines
            if len(ln.strip()) >= 30 and not ln.strip().startswith(("import ", "from ", "#", '"""'))
        ]
    return found


def _assert_no_leak(texts: dict[str, str]) -> None:
    hidden = _hidden_material()
    for where, text in texts.items():
        assert "autograder" not in text, f"{where} mentions the autograder package"
        assert "HIDDEN TESTS" not in text and "BEGIN SOLUTION" not in text, where
        for origin, lines in hidden.items():
            for line in lines:
                assert line not in text, f"{where} contains a line of {origin}: {line!r}"


def test_released_notebooks_leak_no_solution_no_hidden_test_no_reference() -> None:
    texts = {}
    for name in PRESENT:
        nb = nbformat.read(EXERCISES / name / f"{name}.ipynb", as_version=4)
        texts[f"exercises/{name}"] = "\n".join(c.source for c in nb.cells)
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
    # the chapters as notebooks (what Colab and Binder open) are in students' hands too
    chapters = sorted((ROOT / "book").glob("*.ipynb"))
    assert chapters, "the chapter notebooks should be checked too"
    for path in chapters:
        nb = nbformat.read(path, as_version=4)
        texts[f"book/{path.name}"] = "\n".join(c.source for c in nb.cells)
    assert _hidden_material()["solutions/medical_loss"], "the leak test needs something to look for"
    _assert_no_leak(texts)


def test_the_leak_test_catches_a_leak() -> None:
    hidden = _hidden_material()
    with pytest.raises(AssertionError, match="contains a line"):
        _assert_no_leak({"fake": "x\n" + hidden["solutions/medical_loss"][0]})
    with pytest.raises(AssertionError, match="contains a line"):
        _assert_no_leak({"fake": hidden["autograder/reference/medical_loss.py"][0]})


@pytest.mark.slow
def test_built_book_leaks_nothing_and_offers_the_exercises(built_book: Path) -> None:
    texts = {}
    for path in built_book.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".ipynb", ".md", ".txt", ".py", ".json"}:
            raw = path.read_text(encoding="utf-8", errors="replace")
            if path.suffix == ".html":
                raw = html.unescape(re.sub(r"<[^>]+>", "", raw))
            texts[str(path.relative_to(built_book))] = raw
    _assert_no_leak(texts)
    page = (built_book / "book" / "exercises.html").read_text(encoding="utf-8")
    for name in PRESENT:
        assert re.search(rf'href="[^"]*_downloads/[^"]*/{name}\.ipynb"', page), f"no download link for {name}"
        downloads = list(built_book.glob(f"_downloads/*/{name}.ipynb"))
        assert downloads and downloads[0].read_bytes() == (EXERCISES / name / f"{name}.ipynb").read_bytes()


def test_exercises_page_links_every_released_notebook() -> None:
    page = (ROOT / "book" / "exercises.md").read_text(encoding="utf-8")
    for path in sorted(EXERCISES.glob("*/*.ipynb")):
        assert f"/exercises/{path.parent.name}/{path.name}" in page, f"book/exercises.md does not offer {path.name}"


# ---------------------------------------------------------------- lossprep check: the contract


def test_check_refuses_what_it_cannot_grade(tmp_path: Path) -> None:
    text = tmp_path / "notes.ipynb"
    text.write_text("not json", encoding="utf-8")
    foreign = tmp_path / "foreign.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 + 1")]), foreign)
    for path, words in (
        (tmp_path / "missing.ipynb", "no such file"),
        (text, "not a Jupyter notebook"),
        (foreign, "not one of"),
    ):
        proc = subprocess.run([str(LOSSPREP), "check", str(path)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2
        assert proc.stdout == ""
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and words in lines[0] and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_check_grades_the_solution_anywhere_in_the_sandbox(tmp_path: Path) -> None:
    """The source notebook, copied under any name, gets full marks with no flag and no note,
    in the sandbox; every assignment."""
    for name in PRESENT:
        path = tmp_path / f"{name} (final version).ipynb"
        shutil.copy(SOLUTIONS / name / f"{name}.ipynb", path)
        report, proc = check_json(path)
        assert report["assignment"] == name and report["flags"] == [] and report["notes"] == [], report
        assert report["score"] == report["max_score"] > 0 and proc.stderr == ""


@pytest.mark.slow
def test_check_table_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "release.ipynb"
    shutil.copy(EXERCISES / "medical_loss" / "medical_loss.ipynb", path)
    proc = subprocess.run([str(LOSSPREP), "check", str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("medical_loss: 0 / 12 points")
    assert "FAIL  medical_loss:large_logits" in proc.stdout and "graded by hand" in proc.stdout


@pytest.mark.slow
def test_check_without_bubblewrap_runs_and_says_so(tmp_path: Path) -> None:
    """A student's machine without a usable bubblewrap: the check still runs (limits only) and
    says so on stderr and in the report."""
    path = tmp_path / "mine.ipynb"
    nbformat.write(fill("medical_loss", answers("medical_loss").RIGHT["vectorised"]), path)
    report, proc = check_json(path, env={**os.environ, "LOSSPREP_BWRAP": str(tmp_path / "no-bwrap")})
    assert "without the sandbox" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert any("ran without the sandbox" in line for line in report["notes"])
    assert report["score"] == report["max_score"] == 12


# ---------------------------------------------------------------- nbgrader itself


def test_feedback_preprocessor_hides_hidden_tests_and_tracebacks() -> None:
    from autograder.nbgrader_ext import HideHiddenTests

    cell = nbformat.v4.new_code_cell("x = 1\n### BEGIN HIDDEN TESTS\nsecret_check(x)\n### END HIDDEN TESTS")
    cell.metadata = {
        "nbgrader": {"grade": True, "solution": False, "grade_id": "medical_loss-test-x", "points": 1, "locked": True}
    }
    cell.outputs = [
        nbformat.v4.new_output(
            "error",
            ename="AssertionError",
            evalue="wrong shape",
            traceback=["File secret.py, line 3", "secret_check(x)"],
        )
    ]
    HideHiddenTests().preprocess(nbformat.v4.new_notebook(cells=[cell]), {})
    assert "secret_check" not in cell.source and cell.source.startswith("x = 1")
    assert cell.outputs[0]["traceback"] == ["AssertionError: wrong shape"]


def _text(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


@pytest.mark.slow
def test_nbgrader_autograde_feedback_export(tmp_path: Path) -> None:
    """alice hands in the source (full marks), bob the untouched release (0), carol correct
    answers in another style that warn on stderr, with a test cell deleted (full marks: it comes
    back, flagged), dave the solution with a test cell edited (full marks, flagged). nbgrader
    warns about dave's edit and about nothing else; the feedback hides the hidden tests, renders
    formulas with the MathJax it carries (no CDN) and shows ungraded written answers as such."""
    name = "medical_loss"
    noise = "\nimport sys, warnings\nwarnings.warn('a stray warning')\nprint('noise', file=sys.stderr)\n"
    noisy = {exercise_of(name, f): answer_code(name, f) + noise for f in answers(name).RIGHT["loops in float64"]}
    carol = edit_cell(fill(name, noisy), f"{name}-test-calibrated_probability", None)
    dave = edit_cell(
        nbformat.read(SOLUTIONS / name / f"{name}.ipynb", as_version=4), f"{name}-test-medical_loss", "print('ok')"
    )
    course = make_course(tmp_path, [name])
    run_nbgrader(["generate_assignment", name, "--force"], course)
    hand_in(course, name, {"alice": SOLUTIONS / name / f"{name}.ipynb", "bob": None, "carol": carol, "dave": dave})
    autograde = run_nbgrader(["autograde", name], course)
    run_nbgrader(["generate_feedback", name], course)
    run_nbgrader(["export"], course)
    scores, max_score = grades(course)
    assert scores == {"alice": 12.0, "bob": 0.0, "carol": 12.0, "dave": 12.0}
    assert max_score == 17.0  # 12 automatic + 5 by hand
    changed = [line for line in autograde.stderr.splitlines() if "has changed" in line]
    assert changed and all(f"{name}-test-medical_loss" in line for line in changed), changed  # dave's edit only
    flags = {
        s: nbformat.read(course / "autograded" / s / name / f"{name}.ipynb", as_version=4).metadata["lossprep"]["flags"]
        for s in scores
    }
    assert flags == {"alice": [], "bob": [], "carol": ["tampered"], "dave": ["tampered"]}

    hidden = _hidden_material()[f"solutions/{name}"]
    reference = _hidden_material()[f"autograder/reference/{name}.py"]
    for student in scores:
        page = course / "feedback" / student / name / f"{name}.html"
        raw, text = page.read_text(encoding="utf-8"), _text(page)
        assert "HIDDEN TESTS" not in text and "autograder" not in text and "nbgrader_config" not in text, student
        assert not [ln for ln in hidden if "RuntimeError" in ln and ln in text]
        assert "strong hire" in text  # the rubric reaches the student
        assert not re.findall(r'<(?:script|link)[^>]+(?:src|href)="(https?:[^"]+)"', raw), "a CDN in the page"
        assert "window.MathJax" in raw and "cdnjs" not in raw  # MathJax 3 inline, not 2.7 from a CDN
        if student in ("bob", "carol"):  # alice and dave handed in the instructor's solution itself
            assert not [ln for ln in reference if ln in text], f"{student}'s feedback shows reference code"
    alice = _text(course / "feedback" / "alice" / name / f"{name}.html")
    assert "PASS  medical_loss:large_logits" in alice
    assert "Not graded yet: 3.0 points" in alice and "written answers worth 5.0 points not graded yet" in alice
    assert "Score: 0.0 / 3.0" in _text(course / "feedback" / "bob" / name / f"{name}.html")  # no answer: 0
    dave_page = _text(course / "feedback" / "dave" / name / f"{name}.html")
    assert f"cell {name}-test-medical_loss: was edited" in dave_page and "flags: tampered" in dave_page
    assert "PASS  medical_loss:large_logits" in _formgrader_page(course, name, "alice")


def _formgrader_page(course: Path, name: str, student: str) -> str:
    """The formgrader's page of a submission, rendered as its handler renders it: nbgrader's
    formgrade template, with the course's configuration loaded over the formgrader's own (the
    course's feedback template must not replace it)."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config, PyFileConfigLoader

    config = Config()
    config.HTMLExporter.template_name = "formgrade"
    config.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    config.merge(PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config())
    resources = dict.fromkeys(
        ["assignment_id", "notebook_id", "submission_id", "base_url", "last_name", "first_name"], "x"
    )
    resources.update(index=0, total=1, student=student, notebook_path="x")
    html, _ = HTMLExporter(config=config).from_filename(
        str(course / "autograded" / student / name / f"{name}.ipynb"), resources=resources
    )
    return html


@pytest.mark.slow
def test_nbgrader_refuses_to_grade_without_the_sandbox_unless_told(tmp_path: Path) -> None:
    name = "medical_loss"
    course = make_course(tmp_path, [name])
    run_nbgrader(["generate_assignment", name, "--force"], course)
    hand_in(course, name, {"alice": SOLUTIONS / name / f"{name}.ipynb"})
    env = {"LOSSPREP_BWRAP": str(tmp_path / "no-bwrap")}
    refused = run_nbgrader(["autograde", name], course, check=False, env=env)
    assert refused.returncode != 0 and "batch grading runs only in the sandbox" in refused.stderr
    assert "--GradeCells.unsafe_without_sandbox=True" in refused.stderr
    run_nbgrader(["autograde", name, "--GradeCells.unsafe_without_sandbox=True", "--force"], course, env=env)
    run_nbgrader(["export"], course)
    assert grades(course)[0] == {"alice": 12.0}
    notes = nbformat.read(course / "autograded" / "alice" / name / f"{name}.ipynb", as_version=4).metadata["lossprep"]
    assert notes["sandbox"] == "none" and any("without the sandbox" in n for n in notes["notes"])


def test_scores_are_shared_by_weight_and_tests_that_did_not_run_score_zero() -> None:
    from autograder import assignment
    from autograder.engine import Observed, Restored, judge

    a = assignment.load("medical_loss")
    gid = "medical_loss-test-calibrated_probability"
    assert (
        a.calls(gid)["calibrated_probability:random"][0]
        .args[0]
        .equal(a.calls(gid)["calibrated_probability:random"][0].args[0])
    )
    seen = Observed(stopped={gid: "not run: the notebook timed out"})
    results = judge(a, Restored([], [], set()), seen, [gid])[gid]
    assert [r.max_score for r in results] == [1.0, 0.5, 0.5]
    assert all(r.score == 0 and r.message == "not run: the notebook timed out" for r in results)


@pytest.mark.slow
def test_the_installable_package_leaves_out_references_and_hidden_tests(tmp_path: Path) -> None:
    """``pip install lossprep @ git+...`` (the chapters' setup cell on Colab) builds a wheel:
    it must not carry the references or the hidden tests to a student's runtime."""
    import sys
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for package in ("lossprep", "autograder"):
        shutil.copytree(ROOT / package, src / package, ignore=shutil.ignore_patterns("__pycache__"))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path / "dist"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    [wheel] = (tmp_path / "dist").glob("lossprep-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        texts = {n: zf.read(n).decode("utf-8", errors="replace") for n in names if n.endswith(".py")}
    assert (
        "lossprep/book/notebooks.py" in names and "lossprep/data/houses.py" in names and "autograder/check.py" in names
    )
    assert not [n for n in names if n.startswith(("autograder/reference/", "autograder/cases/"))]
    # the course library students import carries no line of the hidden material either (the
    # grading pipeline's own modules are in the wheel and share idioms with the references)
    hidden = _hidden_material()
    for where, text in texts.items():
        if not where.startswith("lossprep/"):
            continue
        for origin, lines in hidden.items():
            for line in lines:
                assert line not in text, f"{where} in the wheel contains a line of {origin}: {line!r}"
