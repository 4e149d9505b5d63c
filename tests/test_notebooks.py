"""The chapters as Jupyter notebooks (``book/<chapter>.ipynb``): what Colab and Binder open.

They are generated from the MyST chapters by ``lossprep notebooks`` and committed; these tests
check that they are current, that they run top to bottom, that their setup cell installs the
right thing on Colab, that the declared dependencies cover what they import, and that Binder's
configuration installs them. ``tests/test_browser.py`` checks that the launch buttons open them.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from packaging.requirements import Requirement

from lossprep.book import notebooks as nbs
from lossprep.book.selfcheck import select_cards
from lossprep.cli import main as cli_main
from lossprep.quiz.cards import load_file

ROOT = Path(__file__).resolve().parents[1]
SOURCES = nbs.chapter_sources(ROOT)
REPO = nbs.Repository.from_config(ROOT)


def _notebook(source: Path):
    return nbformat.read(nbs.notebook_path(source), as_version=4)


def _setup_cell(nb) -> str:
    cells = [c.source for c in nb.cells if c.cell_type == "code" and 'find_spec("lossprep")' in c.source]
    assert len(cells) == 1, "exactly one setup cell"
    return cells[0]


def test_every_chapter_has_a_notebook():
    assert {"likelihoods", "regression"} <= {s.stem for s in SOURCES}
    for source in SOURCES:
        assert nbs.notebook_path(source).is_file(), f"{source.name} has no notebook: run `lossprep notebooks`"


def test_committed_notebooks_are_current():
    stale = [str(p.relative_to(ROOT)) for p in nbs.stale_notebooks(ROOT)]
    assert not stale, f"out of date with their chapters: {stale}; run `lossprep notebooks` and commit them"


def test_notebooks_are_tracked_by_git():
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    tracked = subprocess.run(
        ["git", "ls-files", "book"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    for source in SOURCES:
        rel = str(nbs.notebook_path(source).relative_to(ROOT))
        assert rel in tracked, f"{rel} is not committed: the launch buttons would open a missing file"


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_keeps_the_chapters_code_and_leaves_no_myst(source: Path):
    nb = _notebook(source)
    chapter = jupytext.read(source)
    chapter_code = [c.source for c in chapter.cells if c.cell_type == "code"]
    code = [c.source for c in nb.cells if c.cell_type == "code"]
    setup = _setup_cell(nb)
    assert code[0] == setup, "the setup cell runs before the chapter's first cell"
    assert code[1:] == chapter_code, "the chapter's code cells, unchanged and in order"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "no outputs are committed"
    assert [c.id for c in nb.cells] == [f"{source.stem}-{i:03d}" for i in range(len(nb.cells))]
    assert nb.metadata.kernelspec.name == "python3" and "jupytext" not in nb.metadata

    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    # the MyST that Jupyter and Colab would show raw
    for raw in ("{glue", "{ref}", "{selfcheck}", "{dropdown}", "{literalinclude}", ":::", "```{"):
        assert raw not in markdown, f"{raw!r} left in the notebook's markdown"
    assert not re.search(r"^\([\w-]+\)=\s*$", markdown, flags=re.M), "a MyST target left raw"
    for macro in REPO.macros:
        assert not re.search(r"\\" + macro + r"(?![A-Za-z])", markdown), f"macro \\{macro} not expanded"
    # what the rewriting produced
    # every hint of the chapter and every question of its self-check has its answer folded away
    text = source.read_text(encoding="utf-8")
    dropdowns = text.count("{dropdown} Answer")
    count = re.search(r"```\{selfcheck\} \w+\n(?::count: (\d+)\n)?```", text)
    assert count, "the chapter ends with a self-check"
    cards = load_file(ROOT / "book" / "cards" / f"{source.stem}.yml")
    questions = select_cards(cards, source.stem, *([int(count[1])] if count[1] else []))
    assert markdown.count("<details><summary>Answer</summary>") == dropdowns + len(questions)
    assert f"*{len(questions)} questions from this chapter's quiz cards." in markdown
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f'<a id="{source.stem}"></a>\n# ')


def test_regression_notebook_names_the_sections_it_refers_to():
    nb = _notebook(ROOT / "book" / "regression.md")
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    # a cross-chapter reference names the section and the chapter it is in
    assert "*The asymmetric Laplace gives the pinball loss* in *Losses are likelihoods*" in markdown


def _run_setup(source: str, monkeypatch, installed: bool) -> list[list[str]]:
    calls: list[list[str]] = []

    def fake_run(cmd, check=False, **kwargs):
        assert check, "a failed install must stop the notebook"
        calls.append(list(cmd))
        return subprocess.CompletedProcess(cmd, 0)

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "lossprep" and not installed else real_find_spec(name, *a),
    )
    monkeypatch.setattr(subprocess, "run", fake_run)
    exec(compile(source, "<setup cell>", "exec"), {})
    return calls


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_setup_cell_installs_lossprep_only_where_it_is_missing(source: Path, monkeypatch):
    setup = _setup_cell(_notebook(source))
    assert _run_setup(setup, monkeypatch, installed=True) == []
    [cmd] = _run_setup(setup, monkeypatch, installed=False)
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    requirement = Requirement(cmd[-1])
    assert requirement.name == "lossprep" and requirement.extras == {nbs.BOOK_EXTRA}
    # the repository and branch of the launch buttons (_config.yml; a student edition names its own)
    assert requirement.url == f"git+{REPO.url}@{REPO.branch}" and REPO.url.startswith("https://")


# --- the declared dependencies cover what the notebooks and the packages import ----------------


def _closure(extras: set[str]) -> set[str]:
    """Distribution names that ``pip install lossprep[extras]`` brings, read from the
    installed metadata (markers evaluated for this Python)."""
    norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()  # noqa: E731
    seen: set[str] = set()
    todo = [("lossprep", frozenset(extras))]
    while todo:
        name, want = todo.pop()
        if norm(name) in seen and not want:
            continue
        seen.add(norm(name))
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            env_ok = any(req.marker is None or req.marker.evaluate({"extra": e}) for e in (want or {""}))
            if env_ok and norm(req.name) not in seen:
                todo.append((req.name, frozenset(req.extras)))
    return seen


def _imports(code: str) -> set[str]:
    tree = ast.parse(code)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _undeclared(modules: set[str], extras: set[str]) -> list[str]:
    declared = _closure(extras)
    dists = metadata.packages_distributions()
    missing = []
    for module in sorted(modules):
        if module in sys.stdlib_module_names or module in {"lossprep", "autograder"}:
            continue
        owners = {re.sub(r"[-_.]+", "-", d).lower() for d in dists.get(module, [])}
        if not owners & declared:
            missing.append(f"{module} (from {sorted(owners) or 'no installed distribution'})")
    return missing


def _code_without_magics(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))


def test_a_notebook_needs_only_what_lossprep_book_installs():
    modules: set[str] = set()
    for source in SOURCES:
        for cell in _notebook(source).cells:
            if cell.cell_type == "code":
                modules |= _imports(_code_without_magics(cell.source))
    for path in (ROOT / "lossprep").rglob("*.py"):
        modules |= _imports(path.read_text(encoding="utf-8"))
    assert {"torch", "sympy", "myst_nb", "fsrs"} <= modules  # the scan sees real imports
    assert _undeclared(modules, {nbs.BOOK_EXTRA}) == [], "declare these in pyproject.toml"


def test_the_autograder_needs_only_what_lossprep_grading_installs():
    modules: set[str] = set()
    for path in (ROOT / "autograder").rglob("*.py"):
        if "reference" not in path.parts:
            modules |= _imports(path.read_text(encoding="utf-8"))
    assert {"torch", "IPython"} <= modules  # the scan sees real imports (the student edition has no nbgrader_ext)
    assert _undeclared(modules, {"grading"}) == [], "declare these in pyproject.toml"


def test_the_dependency_check_catches_an_undeclared_import():
    assert _undeclared({"pytest", "numpy", "json"}, {nbs.BOOK_EXTRA}) == ["pytest (from ['pytest'])"]


# --- the generator on bad and changed input -------------------------------------------------------

CHAPTER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

(tiny)=
# A tiny chapter

Intro with $\\E[x]$ and $\\Exp$.

```{{code-cell}} ipython3
x = 1
```

{body}
"""


def _tiny_root(tmp_path: Path, body: str) -> Path:
    root = tmp_path / "course"
    (root / "book").mkdir(parents=True)
    shutil.copy(ROOT / "_config.yml", root / "_config.yml")
    (root / "_toc.yml").write_text("format: jb-book\nroot: book/index\nchapters:\n  - file: book/tiny\n")
    (root / "book" / "tiny.md").write_text(CHAPTER.format(body=body))
    (root / "book" / "cards").mkdir()
    shutil.copy(ROOT / "book" / "cards" / "likelihoods.yml", root / "book" / "cards" / "likelihoods.yml")
    (root / "book" / "shown.py").write_text(
        "import os\n\n\n@staticmethod\ndef shown(a):\n    return a + 1\n\n\ndef other():\n    pass\n"
    )
    return root


def _tiny_markdown(root: Path) -> str:
    nb = nbs.build_notebook(root / "book" / "tiny.md", nbs.Repository.from_config(root))
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_markup_is_rewritten_for_jupyter(tmp_path: Path):
    body = (
        "See {ref}`tiny` and {ref}`the start <tiny>`; the value is {glue:text}`answer:.2f`.\n\n"
        "1. A question?\n\n   :::{dropdown} Answer\n   Because $\\R$.\n   :::\n\n"
        "```{literalinclude} shown.py\n:pyobject: shown\n```\n\n"
        "```{selfcheck} likelihoods\n:count: 3\n```\n"
    )
    md = _tiny_markdown(_tiny_root(tmp_path, body))
    assert '<a id="tiny"></a>\n# A tiny chapter' in md
    assert "See [A tiny chapter](#tiny) and [the start](#tiny); the value is `answer`." in md
    assert "   <details><summary>Answer</summary>\n\n   Because $\\mathbb{R}$.\n\n   </details>" in md
    assert "```python\n@staticmethod\ndef shown(a):\n    return a + 1\n```" in md
    assert "def other" not in md
    assert "*3 questions from this chapter's quiz cards. Answer, then open the answer.*" in md
    assert md.count("<details><summary>Answer</summary>") == 1 + 3
    # \E is expanded, \Exp (another command that starts with E) is not touched
    assert "$\\mathbb{E}[x]$ and $\\Exp$" in md


@pytest.mark.parametrize(
    "body, message",
    [
        ("```{figure} plot.png\n```", "does not know the directive {figure}"),
        ("A {numref}`fig-1` here.", "does not know the role {numref}"),
        ("See {ref}`nowhere`.", "no target (nowhere)= in the chapters"),
        (":::{dropdown} Answer\nnever closed", "is never closed"),
        ("```{literalinclude} missing.py\n```", "missing.py"),
        ("```{literalinclude} shown.py\n:pyobject: absent\n```", "no function or class 'absent'"),
        ("```{literalinclude} shown.py\n:lines: 1-2\n```", "options ['lines'] are not supported"),
        ("```{selfcheck} nochapter\n```", "{selfcheck} nochapter"),
        ("```{selfcheck} likelihoods\n:count: 0\n```", "count of at least 1"),
    ],
    ids=[
        "directive",
        "role",
        "ref",
        "unclosed",
        "include-missing",
        "include-object",
        "include-option",
        "selfcheck-missing",
        "selfcheck-count",
    ],
)
def test_unknown_or_broken_markup_is_a_clear_error(tmp_path: Path, body: str, message: str):
    root = _tiny_root(tmp_path, body)
    with pytest.raises(nbs.NotebookError, match=re.escape(message)) as err:
        _tiny_markdown(root)
    assert "tiny.md" in str(err.value)


def test_cli_writes_checks_and_refuses_broken_chapters(tmp_path: Path, capsys):
    root = _tiny_root(tmp_path, "Plain text.")
    notebook = root / "book" / "tiny.ipynb"

    assert cli_main(["notebooks", "--check", "--root", str(root)]) == 1
    assert "book/tiny.ipynb is out of date: run `lossprep notebooks`" in capsys.readouterr().err
    assert not notebook.exists()

    assert cli_main(["notebooks", "--root", str(root)]) == 0
    assert "wrote book/tiny.ipynb" in capsys.readouterr().out
    written = notebook.read_text()
    assert cli_main(["notebooks", "--check", "--root", str(root)]) == 0
    assert cli_main(["notebooks", "--root", str(root)]) == 0
    assert "1 chapter notebooks are up to date" in capsys.readouterr().out

    # a chapter edit makes the notebook stale; a broken chapter writes nothing and keeps the old one
    (root / "book" / "tiny.md").write_text(CHAPTER.format(body="```{figure} x.png\n```"))
    assert cli_main(["notebooks", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lossprep notebooks: ") and "Traceback" not in err and "{figure}" in err
    assert notebook.read_text() == written


def test_a_broken_config_is_a_clear_error(tmp_path: Path, capsys):
    root = _tiny_root(tmp_path, "Plain text.")
    (root / "_config.yml").write_text("repository: [unclosed\n")
    assert cli_main(["notebooks", "--root", str(root)]) == 2
    err = capsys.readouterr().err
    assert "cannot read the book's configuration" in err and "Traceback" not in err


# --- the notebooks run, the book links to them, Binder can install them ---------------------------


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_in_a_fresh_kernel(source: Path, tmp_path: Path):
    from nbclient import NotebookClient

    nb = _notebook(source)
    # run from an empty folder, as on Colab: nothing may depend on the repository's files
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    stdout = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "running on" in stdout


@pytest.mark.slow
def test_binder_installs_the_pinned_requirements_and_the_package():
    """repo2docker runs ``pip install -r binder/requirements.txt`` from the repository root:
    a dry run here (no index, so it reads nothing from the network) resolves the same file."""
    runtime = (ROOT / "binder" / "runtime.txt").read_text().strip()
    assert runtime == f"python-{sys.version_info.major}.{sys.version_info.minor}"
    text = (ROOT / "binder" / "requirements.txt").read_text()
    assert "-r ../requirements.txt" in text and "download.pytorch.org/whl/cpu" in text
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--no-index",
            "--no-build-isolation",
            "-r",
            "binder/requirements.txt",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "torch==2.13.0" in proc.stdout and "Would install lossprep" in proc.stdout


@pytest.mark.slow
def test_book_build_fails_on_a_stale_chapter_notebook(tmp_path: Path):
    root = _tiny_root(tmp_path, "Plain text.")
    shutil.copytree(ROOT / "book" / "_static", root / "book" / "_static")
    shutil.copytree(ROOT / "book" / "_ext", root / "book" / "_ext")
    shutil.copytree(ROOT / "book" / "cards", root / "book" / "cards", dirs_exist_ok=True)
    (root / "book" / "index.md").write_text("# Home\n")
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", "--all", "--warningiserror", "--nitpick", "--keep-going", str(root)]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "book/tiny.ipynb is missing or out of date" in out, out[-3000:]

    assert cli_main(["notebooks", "--root", str(root)]) == 0
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    html = (root / "_build" / "html" / "book" / "tiny.html").read_text(encoding="utf-8")
    assert f"blob/{REPO.branch}/book/tiny.ipynb" in html and "urlpath=lab/tree/book/tiny.ipynb" in html
    assert f"blob/{REPO.branch}/book/tiny.md" not in html


@pytest.mark.slow
def test_notebook_self_check_asks_what_the_book_asks(built_book: Path):
    """The same questions, in the same order, with the same answers as the book's page."""
    for source in SOURCES:
        page = (built_book / "book" / f"{source.stem}.html").read_text(encoding="utf-8")
        book_answers = re.findall(r'data-answer-label="([^"]+)"', page)
        markdown = "\n".join(c.source for c in _notebook(source).cells if c.cell_type == "markdown")
        selfcheck = markdown[markdown.index("questions from this chapter's quiz cards") :]
        notebook_answers = re.findall(r"<summary>Answer</summary>\n\n\*\*([^*]+?)\)?\*\*", selfcheck)
        assert book_answers and notebook_answers == book_answers, (source.name, notebook_answers, book_answers)
