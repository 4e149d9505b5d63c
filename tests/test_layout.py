"""The library's layout rules (DESIGN.md): who may import what, and one reader of _toc.yml."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "lossprep"
CHAPTERS = sorted(p for p in (PACKAGE / "chapters").glob("*.py") if p.name != "__init__.py")


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` of the file names (absolute form)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.level:
                raise AssertionError(f"{path}: relative import; the package uses absolute imports")
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def test_there_are_chapter_modules() -> None:
    assert {p.stem for p in CHAPTERS} >= {"likelihoods", "regression"}


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_a_chapter_module_never_imports_another_chapter(path: Path) -> None:
    others = {f"lossprep.chapters.{p.stem}" for p in CHAPTERS if p != path}
    bad = {m for m in imported_modules(path) if m in others or any(m.startswith(o + ".") for o in others)}
    assert not bad, f"{path.name} imports another chapter ({sorted(bad)}): move what both need to the core or losses/"


def test_the_import_rule_catches_a_chapter_import(tmp_path: Path) -> None:
    bad = tmp_path / "x.py"
    bad.write_text("from lossprep.chapters import regression\nimport lossprep.chapters.likelihoods as lk\n")
    assert {"lossprep.chapters.regression", "lossprep.chapters.likelihoods"} <= imported_modules(bad)


@pytest.mark.parametrize("module", ["lossprep.plots", "lossprep.quiz", "lossprep.book", "lossprep.book.toc"])
def test_light_modules_have_no_side_effects(module: str) -> None:
    """Importing plots changes no matplotlib setting; the quiz and the book tooling never import torch."""
    code = (
        "import sys, matplotlib; before = dict(matplotlib.rcParams); "
        f"import {module}; "
        "assert dict(matplotlib.rcParams) == before, 'rcParams changed on import'; "
        f"assert {module!r} == 'lossprep.plots' or 'torch' not in sys.modules, 'imported torch'"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_only_the_toc_module_reads_the_table_of_contents() -> None:
    readers = []
    for path in [*PACKAGE.rglob("*.py"), *(ROOT / "tests").glob("*.py"), *(ROOT / "autograder").rglob("*.py")]:
        if path.name in {"toc.py", "test_layout.py"}:
            continue
        text = path.read_text(encoding="utf-8")
        for line in text.splitlines():
            if "_toc.yml" in line and ("read_text" in line or "safe_load" in line or "open(" in line):
                readers.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert not readers, "parse _toc.yml only through lossprep.book.toc:\n" + "\n".join(readers)
