"""``lossprep edition OUT``: the course as a class receives it, without its answers.

This repository is the instructor's copy: it holds the solutions, the hidden tests and the
reference implementations. A class gets a *student edition* instead, written by this command
into a folder (or, with ``--git``, a fresh git repository with one commit):

- the book: its sources (``book/``, ``_config.yml``, ``_toc.yml``), the chapter notebooks
  regenerated so that their Colab install cell names the edition's repository, and the built
  HTML in ``docs/`` (its launch buttons open the edition's repository);
- ``exercises/``, the ``lossprep`` library, and the part of the grading package that
  ``lossprep check`` needs to run a notebook's visible test cells (:data:`GRADING`, an allow-list:
  a module added to ``autograder/`` later stays with the instructor unless it is listed here);
- a README for students (``student_readme.md``), the requirements, ``Makefile``, ``binder/``,
  ``pyproject.toml`` (its pytest options leave out the shipped tests that need what stays with
  the course: :data:`DESELECTED`), and the tests that make sense without the hidden parts
  (:data:`TESTS`, also an allow-list);
- in ``_config.yml``, the edition's repository and branch, and the lines the pages use to say
  what ``lossprep check`` does, worded for an edition without hidden tests (:data:`STUDENT_TEXT`).

Never in it: ``solutions/``, ``autograder/reference/``, ``autograder/cases/``, the grading
package's other modules, the course's grading tests and their answers, the gradebook,
``submitted/`` and nbgrader's other folders, ``nbgrader_config.py``, ``benchmarks/``, ``.ci/``
and the instructor's notes. ``tests/test_edition.py`` searches every file of an edition, the
built HTML included, for every line of the solutions, the hidden tests and the references.

The HTML is built in the edition, strictly (warnings and cell errors fail it), with the
course's execution cache (``_build/.jupyter_cache``) copied in, so that only chapters that
changed since the course's last build run: about 15 s when none did. Building it, rather than
taking the course's ``_build/html``, is what makes its launch buttons name the edition's
repository, proves that the edition's book builds strictly as it is, and trusts no timestamp
(a strict build that failed under ``--keep-going`` still leaves a whole ``_build/html``).

The edition is put together in a temporary folder and moved into ``OUT`` only when it is
complete, so a failure leaves ``OUT`` as it was. A non-empty ``OUT`` is replaced only with
``--force``, which removes what is in ``OUT`` but its ``.git`` (so an edition's clone can be
refreshed and committed as usual); nothing outside ``OUT`` is ever removed but the temporary
folder this command made.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import string
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lossprep.book.toc import ROOT, chapters

__all__ = [
    "COPIED",
    "GRADING",
    "TESTS",
    "DESELECTED",
    "STUDENT_TEXT",
    "EditionError",
    "Edition",
    "plan",
    "make_edition",
    "add_arguments",
    "run",
]

# Copied whole (caches left out), relative to the course root.
COPIED = (
    "_toc.yml",
    "requirements.txt",
    "Makefile",
    ".gitignore",
    "binder",
    "book",
    "exercises",
    "lossprep",
)
# The grading package's modules that `lossprep check` needs without the hidden tests.
GRADING = (
    "__init__.py",
    "check.py",
    "visible.py",
    "engine.py",
    "assignment.py",
    "checks.py",
    "spec.py",
    "sandbox.py",
    "runner.py",
)
# The course's tests that make sense without the hidden parts (patterns, under tests/).
TESTS = (
    "conftest.py",
    "chapter_helpers.py",
    "quiz_helpers.py",
    "data/*",
    "test_book.py",
    "test_book_sources.py",
    "test_browser.py",
    "test_notebooks.py",
    "test_figures.py",
    "test_glossary.py",
    "test_layout.py",
    "test_core.py",
    "test_device.py",
    "test_symbolic.py",
    "test_losses.py",
    "test_*_losses.py",
    "test_*_chapter.py",
    "test_*_quiz.py",
    "test_quiz_*.py",
    "test_visible_check.py",
)
# What the book's pages say about checking and grading, in the edition (the course's own lines
# are the myst_substitutions of its _config.yml).
STUDENT_TEXT = {
    "check_grades": (
        "and check that it runs its own test cells (your instructor grades it with hidden tests and returns feedback)"
    ),
    "check_does": (
        "runs your notebook in a sandbox (no network, 30 seconds per cell) and then its own test "
        "cells, one check each. It is not your grade: the hidden tests, with inputs you never see, "
        "run when your instructor grades."
    ),
    "teaching": (
        "Hand in your notebooks as your instructor asks: they are graded with hidden tests and the "
        "rubrics, and you get the feedback."
    ),
}
# Shipped course tests that need what stays with the course: deselected in the edition's
# pyproject.toml, with the reason.
DESELECTED = {
    "tests/test_quiz_session.py::test_startup_benchmark_reaches_the_first_card": (
        "it runs benchmarks/quiz_startup.py, and the benchmarks stay with the course"
    ),
}
CACHES = ("__pycache__", "*.pyc", ".ipynb_checkpoints", "_build", ".jupyter_cache", "*.egg-info", ".pytest_cache")
README = Path(__file__).with_name("student_readme.md")
_BRANCH = re.compile(r"^(?!-)(?!.*\.\.)(?!.*//)(?!.*@\{)[A-Za-z0-9._/-]+(?<![./])$")


class EditionError(Exception):
    """The edition cannot be made; the message says why in one line."""


@dataclass(frozen=True)
class Edition:
    """What was written: where, for which repository and branch, how many files, the commit if any."""

    out: Path
    repository: str
    branch: str
    files: int
    commit: str | None


# ---------------------------------------------------------------- what goes in


def _ignored(name: str) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in CACHES)


def _walk(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    found = []
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = sorted(d for d in dirnames if not _ignored(d))
        found += [Path(dirpath, f) for f in sorted(filenames) if not _ignored(f)]
    return found


def plan(root: Path = ROOT) -> dict[str, Path]:
    """Every file the edition copies from the course: its path in the edition -> the course's
    file. (The README, ``_config.yml``, the chapter notebooks and ``docs/`` are written.)"""
    files: dict[str, Path] = {}
    absent = [top for top in COPIED if not (root / top).exists()]
    if absent:
        raise EditionError(f"the course is missing {', '.join(absent)}")
    for top in COPIED:
        for path in _walk(root / top):
            files[path.relative_to(root).as_posix()] = path
    for name in GRADING:
        files[f"autograder/{name}"] = root / "autograder" / name
    for path in _walk(root / "tests"):
        rel = path.relative_to(root / "tests").as_posix()
        if any(fnmatch.fnmatch(rel, p) for p in TESTS):
            files[f"tests/{rel}"] = path
    missing = sorted(rel for rel, path in files.items() if not path.is_file())
    if missing:
        raise EditionError(f"the course is missing {', '.join(missing)}")
    return files


# ---------------------------------------------------------------- checks


def _check_repository(url: str) -> str:
    url = url.rstrip("/")
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+(?::\d+)?(/[A-Za-z0-9._~-]+)+", url):
        raise EditionError(f"--repository must be a repository's https address (https://host/owner/name), got {url!r}")
    return url.removesuffix(".git")


def _check_branch(branch: str) -> str:
    if not _BRANCH.match(branch) or branch.endswith(".lock"):
        raise EditionError(f"--branch must be a git branch name (letters, digits, . _ - /), got {branch!r}")
    return branch


def _check_out(out: Path, root: Path, force: bool, git: bool) -> None:
    """Refuse a destination that would hold the course, or lose anything without ``--force``."""
    where = out.resolve()
    course = root.resolve()
    if where == course or where in course.parents:
        raise EditionError(f"{out} holds the course itself: choose a folder outside {course}")
    if course in where.parents:
        raise EditionError(f"{out} is inside the course ({course}): choose a folder outside it")
    if where == Path.home().resolve() or where == Path(where.anchor):
        raise EditionError(f"{out} is your home folder or the file system's root: choose a folder of its own")
    if where.exists() and not where.is_dir():
        raise EditionError(f"{out} exists and is not a folder")
    if git and (where / ".git").exists():
        raise EditionError(f"{out} is already a git repository: to refresh it, run without --git and commit there")
    if where.is_dir() and any(where.iterdir()) and not force:
        raise EditionError(f"{out} is not empty: pass --force to replace what is in it (its .git is kept)")


# ---------------------------------------------------------------- the book


def _repository_of(root: Path) -> tuple[str, str]:
    """The repository and branch the course's ``_config.yml`` names."""
    from lossprep.book.notebooks import NotebookError, Repository

    try:
        repo = Repository.from_config(root)
    except NotebookError as e:
        raise EditionError(str(e)) from None
    return repo.url, repo.branch


def _build_book(staging: Path, root: Path) -> None:
    """Build the edition's book strictly in ``staging`` (the course's execution cache copied in)."""
    cache = root / "_build" / ".jupyter_cache"
    if cache.is_dir():
        shutil.copytree(cache, staging / "_build" / ".jupyter_cache")
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", "--warningiserror", "--nitpick", "--keep-going", str(staging)]
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}  # the kernels draw inline
    try:
        proc = subprocess.run(cmd, cwd=staging, capture_output=True, text=True, env=env)
    except OSError as e:
        raise EditionError(f"cannot run {jb}: {e.strerror}") from None
    if proc.returncode != 0:
        fd, log = tempfile.mkstemp(prefix="lossprep-edition-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(proc.stdout + proc.stderr)
        errors = [ln for ln in (proc.stdout + proc.stderr).splitlines() if re.search(r"\b(ERROR|WARNING): ", ln)]
        first = (errors or ["no warning printed"])[0].strip()[:200]
        raise EditionError(f"the edition's book did not build strictly ({first}); the build's log: {log}")


def _stable_ids(html: Path) -> None:
    """Number the cells of the downloadable chapter notebooks (``_sources/**/*.ipynb``): the
    build gives them random ids, so a refreshed edition would differ where nothing changed."""
    import nbformat

    for path in sorted(html.glob("_sources/**/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            cell["id"] = f"{path.stem}-{i:03d}"[-64:]
        nbformat.write(nb, path)


def _adapt_config(text: str, repository: str, branch: str) -> str:
    """The course's ``_config.yml`` with the edition's repository and branch (launch buttons,
    the notebooks' install cell), what the pages say about checking (:data:`STUDENT_TEXT`), and
    the built HTML in ``docs/`` left out of the build. Its comments are kept."""
    import yaml

    config = yaml.safe_load(text)
    lines = text.splitlines()
    top = [i for i, ln in enumerate(lines) if re.match(r"^repository:\s*$", ln)]
    if len(top) != 1:
        raise EditionError("_config.yml has no 'repository:' section to point at the edition's repository")
    block = range(
        top[0] + 1, next((i for i in range(top[0] + 1, len(lines)) if not lines[i].startswith(" ")), len(lines))
    )
    missing = []
    for key, value in (("url", repository), ("branch", branch)):
        at = [i for i in block if re.match(rf"^\s+{key}:", lines[i])]
        if at:
            lines[at[0]] = f"  {key}: {json.dumps(value)}"
        else:
            missing.append(f"  {key}: {json.dumps(value)}")
    lines[top[0] + 1 : top[0] + 1] = missing
    for key, value in STUDENT_TEXT.items():
        at = [i for i, ln in enumerate(lines) if re.match(rf"^\s+{key}:", ln)]
        if len(at) != 1:
            raise EditionError(f"_config.yml has no myst_substitutions line {key!r} to word for students")
        lines[at[0]] = lines[at[0]].split(":", 1)[0] + f": {json.dumps(value)}"
    excluded = [*config.get("exclude_patterns", []), "docs/*"]
    lines = [f"exclude_patterns: {json.dumps(excluded)}" if ln.startswith("exclude_patterns:") else ln for ln in lines]
    adapted = "\n".join(lines) + "\n"
    new = yaml.safe_load(adapted)
    if (
        (new["repository"]["url"], new["repository"]["branch"]) != (repository, branch)
        or "docs/*" not in new.get("exclude_patterns", [])
        or new["parse"]["myst_substitutions"] != {**config["parse"]["myst_substitutions"], **STUDENT_TEXT}
    ):
        raise EditionError("could not adapt _config.yml to the edition (its repository section has another form)")
    return adapted


def _adapt_pyproject(text: str) -> str:
    """The course's ``pyproject.toml`` with the tests in :data:`DESELECTED` left out of pytest's runs."""
    import tomllib

    found = re.search(r'(?m)^addopts = "([^"\n]*)"$', text)
    if found is None:
        raise EditionError("pyproject.toml has no one-line addopts for pytest to leave the course-only tests out")
    options = found.group(1) + "".join(f" --deselect {test}" for test in DESELECTED)
    comment = "".join(f"# --deselect: {reason}\n" for reason in DESELECTED.values())
    adapted = text[: found.start()] + comment + f'addopts = "{options}"' + text[found.end() :]
    if tomllib.loads(adapted)["tool"]["pytest"]["ini_options"]["addopts"] != options:
        raise EditionError("could not adapt pyproject.toml to the edition")
    return adapted


# ---------------------------------------------------------------- the README


def _readme(root: Path, repository: str, branch: str) -> str:
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    names = sorted(p.parent.name for p in (root / "exercises").glob("*/*.ipynb") if p.stem == p.parent.name)
    template = string.Template(README.read_text(encoding="utf-8"))
    return template.substitute(
        title=config.get("title", "lossprep"),
        repository=repository,
        branch=branch,
        folder=repository.rsplit("/", 1)[-1],
        exercises="\n".join(f"- `exercises/{n}/{n}.ipynb`" for n in names),
        chapters=", ".join(f"`{c}`" for c in chapters(root)),
        first=names[0] if names else "NAME",
    )


# ---------------------------------------------------------------- putting it together


def _quiet(line: str) -> None:
    pass


def make_edition(
    out: Path,
    *,
    repository: str | None = None,
    branch: str | None = None,
    git: bool = False,
    force: bool = False,
    root: Path = ROOT,
    say: Callable[[str], None] = _quiet,
) -> Edition:
    """Write the student edition of the course at ``root`` into ``out`` (see the module's
    docstring). ``repository`` and ``branch`` default to the course's own (``_config.yml``);
    ``say`` gets a line of progress at a time. Raises :class:`EditionError` with one line of
    reason; ``out`` is then untouched."""
    if not (root / "solutions").is_dir() or not (root / "autograder" / "cases").is_dir():
        raise EditionError(
            f"{root} is not the instructor's copy of the course (no solutions/): it is an edition already"
        )
    own_repository, own_branch = _repository_of(root)
    repository = _check_repository(own_repository if repository is None else repository)
    branch = _check_branch(own_branch if branch is None else branch)
    _check_out(out, root, force, git)
    files = plan(root)
    staging = Path(tempfile.mkdtemp(prefix="lossprep-edition-"))
    try:
        for rel, path in files.items():
            (staging / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, staging / rel)
        config = (root / "_config.yml").read_text(encoding="utf-8")
        (staging / "_config.yml").write_text(_adapt_config(config, repository, branch), encoding="utf-8")
        (staging / "README.md").write_text(_readme(root, repository, branch), encoding="utf-8")
        pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
        (staging / "pyproject.toml").write_text(_adapt_pyproject(pyproject), encoding="utf-8")
        _write_notebooks(staging)
        say(f"copied {len(files)} files of the course; chapter notebooks written for {repository} ({branch})")
        say("building the edition's book strictly (the course's execution cache is reused)")
        _build_book(staging, root)
        (staging / "_build" / "html").rename(staging / "docs")
        shutil.rmtree(staging / "_build")
        _stable_ids(staging / "docs")
        (staging / "docs" / ".nojekyll").touch()  # GitHub Pages: serve _static/ and the other _folders
        commit = _commit(staging, repository, branch) if git else None
        count = sum(1 for p in staging.rglob("*") if p.is_file() and ".git" not in p.relative_to(staging).parts)
        _move_into(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Edition(out, repository, branch, count, commit)


def _write_notebooks(root: Path) -> None:
    from lossprep.book import notebooks

    try:
        notebooks.write_notebooks(root)
    except notebooks.NotebookError as e:
        raise EditionError(str(e)) from None


def _git(staging: Path, *args: str) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=staging, capture_output=True, text=True)
    except OSError:
        raise EditionError("--git needs git, and git is not installed") from None
    if proc.returncode != 0:
        raise EditionError(f"git {args[0]} failed: {(proc.stderr.strip().splitlines() or ['no reason given'])[-1]}")
    return proc.stdout.strip()


def _commit(staging: Path, repository: str, branch: str) -> str:
    """A fresh repository in ``staging``: one commit of everything, ``origin`` the repository."""
    _git(staging, "init", "--quiet", f"--initial-branch={branch}")
    _git(staging, "add", "--all")
    who = []
    if not _identity():
        who = ["-c", "user.name=lossprep edition", "-c", "user.email=edition@lossprep.invalid"]
    _git(staging, *who, "commit", "--quiet", "--message", f"Student edition of the course, for {repository}")
    _git(staging, "remote", "add", "origin", repository)
    return _git(staging, "rev-parse", "HEAD")


def _identity() -> bool:
    proc = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True)
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _move_into(staging: Path, out: Path) -> None:
    """Replace what ``out`` holds (but its ``.git``) with what ``staging`` holds."""
    out.mkdir(parents=True, exist_ok=True)
    for entry in out.iterdir():
        if entry.name == ".git":
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for entry in staging.iterdir():
        shutil.move(str(entry), str(out / entry.name))


# ---------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("out", type=Path, help="the folder to write the edition into (created if missing)")
    parser.add_argument(
        "--repository",
        help="the https address the edition will be published at: its launch buttons and the notebooks' install "
        "cell point there (default: the course's own, from _config.yml)",
    )
    parser.add_argument(
        "--branch", help="the branch it will be published on (default: the course's own, from _config.yml)"
    )
    parser.add_argument("--git", action="store_true", help="make OUT a fresh git repository with one commit")
    parser.add_argument("--force", action="store_true", help="replace what a non-empty OUT holds (its .git is kept)")


def run(args: argparse.Namespace) -> int:
    try:
        edition = make_edition(
            args.out,
            repository=args.repository,
            branch=args.branch,
            git=args.git,
            force=args.force,
            say=lambda line: print(line, flush=True),
        )
    except EditionError as e:
        print(f"lossprep edition: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a disk that fills, a folder that cannot be written: one line, no traceback
        print(f"lossprep edition: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return 2
    except Exception as e:  # no traceback for a user: say what broke, in one line
        print(f"lossprep edition: failed: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
        return 2
    print(f"wrote the student edition to {edition.out} ({edition.files} files)")
    if edition.commit:
        print(
            f"git repository on branch {edition.branch}, one commit {edition.commit[:12]}, remote origin "
            f"{edition.repository}: push it with `git -C {edition.out} push -u origin {edition.branch}`"
        )
    return 0
