"""The grading pipeline as a whole: released notebooks are generated (no drift) and leak
nothing, ``lossprep check`` keeps its contract, and the standard nbgrader workflow (autograde,
feedback, export) works on this repository without showing hidden tests to students."""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from grading_helpers import LOSSPREP, check_json, fill, make_course, nbgrader_round_trip, run_nbgrader
from test_grading_medical_loss import GOOD

from autograder import ASSIGNMENTS, EXERCISES, ROOT, SOLUTIONS

PRESENT = [a for a in ASSIGNMENTS if (SOLUTIONS / a / f"{a}.ipynb").is_file()]


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
def test_check_json_contract_tampering_and_memory(tmp_path: Path) -> None:
    """Edited test cells are discarded (and flagged); a function that exhausts memory loses its
    part and raises the flag; the JSON has exactly the contract's keys."""
    hog = "def calibrated_probability(logits, pos_weight):\n    return torch.empty(2**36)\n"
    # reaching for the hidden reference (spelled so that only the kernel's import hook sees it)
    sneaky = (
        "import importlib\n_ref = importlib.import_module('auto' + 'grader.reference.medical_loss')\n"
        "def medical_loss_grad(logits, targets, severity, fn_cost=20.0, alpha=1.0):\n"
        "    return _ref.medical_loss_grad(logits, targets, severity, fn_cost, alpha)\n"
    )
    nb = fill("medical_loss", {**GOOD, "calibrated_probability": hog, "medical_loss_grad": sneaky})
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "medical_loss-test-medical_loss":
            cell.source = "print('all tests passed')"
    path = tmp_path / "tampered.ipynb"
    nbformat.write(nb, path)
    report, _ = check_json(path)
    assert set(report) == {"assignment", "score", "max_score", "tests", "flags"}
    assert isinstance(report["score"], float) and isinstance(report["max_score"], float)
    for t in report["tests"]:
        assert set(t) == {"id", "score", "max_score", "message"}
        fn, _, short = t["id"].partition(":")
        assert fn and short and isinstance(t["message"], str)
    assert {"tampered", "memory", "forbidden-import"} <= set(report["flags"])
    by_id = {t["id"]: t for t in report["tests"]}
    assert by_id["calibrated_probability:random"]["score"] == 0
    assert by_id["medical_loss_grad:random"]["score"] == 0
    assert by_id["medical_loss:random"]["score"] == by_id["medical_loss:random"]["max_score"]
    assert report["score"] == pytest.approx(report["max_score"] - 2.0 - 3.0)


def test_forbidden_imports_are_spotted_in_the_source() -> None:
    from autograder.check import forbidden_imports

    def nb(src: str) -> nbformat.NotebookNode:
        return nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src)])

    assert forbidden_imports(nb("from autograder.reference.medical_loss import medical_loss"))
    assert forbidden_imports(nb("import importlib\nimportlib.import_module('autograder.reference')"))
    assert not forbidden_imports(nb("from lossprep.data import imbalanced_xrays\nautograded = 1"))


@pytest.mark.slow
def test_check_times_out_cleanly(tmp_path: Path) -> None:
    looping = "def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):\n    while True:\n        pass\n"
    path = tmp_path / "loop.ipynb"
    nbformat.write(fill("medical_loss", {**GOOD, "medical_loss": looping}), path)
    report, _ = check_json(path, "--timeout", "20")
    assert "timeout" in report["flags"]
    assert report["score"] < report["max_score"]
    assert all(t["score"] == 0 for t in report["tests"] if t["id"].startswith("medical_loss:"))


@pytest.mark.slow
def test_check_table_is_readable(tmp_path: Path) -> None:
    path = tmp_path / "release.ipynb"
    shutil.copy(EXERCISES / "medical_loss" / "medical_loss.ipynb", path)
    proc = subprocess.run([str(LOSSPREP), "check", str(path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("medical_loss: 0 / 12 points")
    assert "FAIL  medical_loss:large_logits" in proc.stdout and "graded by hand" in proc.stdout


# ---------------------------------------------------------------- nbgrader itself


def test_feedback_preprocessor_hides_hidden_tests_and_tracebacks() -> None:
    from autograder.nbgrader_ext import HideHiddenTests, StderrToStdout

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
        ),
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: stray\n"),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    HideHiddenTests().preprocess(nb, {})
    assert "secret_check" not in cell.source and cell.source.startswith("x = 1")
    assert cell.outputs[0]["traceback"] == ["AssertionError: wrong shape"]
    StderrToStdout().preprocess(nb, {})
    assert cell.outputs[1]["name"] == "stdout"
    from autograder.nbgrader_ext import ForbidGraderImports

    cheat = nbformat.v4.new_code_cell("from autograder.reference.medical_loss import medical_loss")
    ForbidGraderImports().preprocess(nbformat.v4.new_notebook(cells=[cheat, cell]), {})
    assert cheat.source.startswith("raise ImportError") and cell.source.startswith("x = 1")
    student = nbformat.v4.new_code_cell("print(1)")
    student.outputs = [nbformat.v4.new_output("stream", name="stderr", text="mine\n")]
    StderrToStdout().preprocess(nbformat.v4.new_notebook(cells=[student]), {})
    assert student.outputs[0]["name"] == "stderr"  # only test cells are relabelled


@pytest.mark.slow
def test_nbgrader_autograde_feedback_export(tmp_path: Path) -> None:
    """alice hands in the source (full marks), bob the untouched release (0), carol a correct
    notebook that warns on stderr and lost a test cell (full marks: the cell comes back)."""
    noisy = {
        k: v.replace(
            "):\n", "):\n    import sys, warnings\n    warnings.warn('stray')\n    print('noise', file=sys.stderr)\n", 1
        )
        for k, v in GOOD.items()
    }
    carol = fill("medical_loss", noisy)
    carol.cells = [
        c
        for c in carol.cells
        if c.metadata.get("nbgrader", {}).get("grade_id") != "medical_loss-test-calibrated_probability"
    ]
    course, scores, max_score = nbgrader_round_trip(
        tmp_path,
        "medical_loss",
        {"alice": SOLUTIONS / "medical_loss" / "medical_loss.ipynb", "bob": None, "carol": carol},
    )
    assert scores == {"alice": 12.0, "bob": 0.0, "carol": 12.0}
    assert max_score == 17.0  # 12 automatic + 5 by hand

    hidden = _hidden_material()["solutions/medical_loss"]
    for student in ("alice", "bob", "carol"):
        page = (course / "feedback" / student / "medical_loss" / "medical_loss.html").read_text(encoding="utf-8")
        text = html.unescape(re.sub(r"<[^>]+>", "", page))
        assert "grade_part" not in text and "HIDDEN TESTS" not in text and "autograder" not in text, student
        hidden_tests = [ln for ln in hidden if "grade_part" in ln or "inkernel" in ln]
        assert hidden_tests and not any(ln in text for ln in hidden_tests)
        assert "strong hire" in text  # the rubric reaches the student
        if student != "alice":  # alice handed in the instructor's solution itself
            reference = _hidden_material()["autograder/reference/medical_loss.py"]
            assert not [ln for ln in reference if ln in text], f"{student}'s feedback shows reference code"
    alice = html.unescape(
        re.sub(r"<[^>]+>", "", (course / "feedback" / "alice" / "medical_loss" / "medical_loss.html").read_text())
    )
    assert "PASS  medical_loss:large_logits" in alice


# ---------------------------------------------------------------- the collector and the judges, alone


def test_collector_isolates_calls_and_keeps_only_tensors() -> None:
    import torch
    from autograder.collect import collect_calls

    from autograder.spec import Call

    def edits_in_place(x):
        x.mul_(0)
        return x.sum()

    def returns_list(x):
        return [1.0]

    def raises(x):
        raise KeyError("oops")

    x = torch.ones(3)
    calls = {
        "f:a": [Call("edits_in_place", (x,)).to_dict(), Call("edits_in_place", (x,)).to_dict()],
        "g:b": [Call("returns_list", (x,)).to_dict()],
        "h:c": [Call("raises", (x,)).to_dict()],
        "k:d": [Call("missing", (x,)).to_dict()],
        "m:e": [Call("double", (x,), mode="value_grad").to_dict()],
    }
    ns = {
        "edits_in_place": edits_in_place,
        "returns_list": returns_list,
        "raises": raises,
        "double": lambda t: (2 * t).sum(),
    }
    out = collect_calls(calls, ns)
    assert torch.equal(x, torch.ones(3)), "the grader's inputs must not change"
    assert [o["value"].item() for o in out["f:a"]] == [0.0, 0.0]
    assert "expected a tensor" in out["g:b"][0]["error"]
    assert out["h:c"][0]["error"].startswith("KeyError")
    assert out["k:d"][0]["error"] == "NameError: missing is not defined"
    assert out["m:e"][0]["value"].item() == 6.0 and torch.equal(out["m:e"][0]["grad"], torch.full((3,), 2.0))


def test_scores_are_shared_by_weight_and_missing_outcomes_score_zero() -> None:
    from autograder.pipeline import build_calls, judge_part

    gid = "medical_loss-test-calibrated_probability"
    calls = build_calls("medical_loss", gid)
    assert (
        build_calls("medical_loss", gid)["calibrated_probability:random"][0]
        .args[0]
        .equal(calls["calibrated_probability:random"][0].args[0])
    )
    results = judge_part("medical_loss", gid, 2.0, calls, None, missing="the notebook timed out")
    assert [r.max_score for r in results] == [1.0, 0.5, 0.5]
    assert all(r.score == 0 and r.message == "the notebook timed out" for r in results)


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
