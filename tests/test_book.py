"""The book builds strictly, and every page of the table of contents is in it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import jupytext
import pytest

from lossprep.book import toc

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[str]:
    return toc.pages(ROOT)


@pytest.mark.slow
def test_book_builds_strictly_with_every_page(built_book: Path):
    for f in toc_files():
        page = built_book / f"{f}.html"
        assert page.is_file(), f"{f} is in _toc.yml but {page} was not built"
        html = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in html, f"{f} shows a traceback"
        assert 'class="output stderr"' not in html, f"{f} shows stderr output"


def figure_cells(page: str) -> int:
    """How many code cells of a page ask for a captioned figure."""
    path = ROOT / f"{page}.md"
    if not path.is_file():
        return 0
    nb = jupytext.read(path)
    return sum(1 for c in nb.cells if c.cell_type == "code" and c.metadata.get("mystnb", {}).get("figure"))


@pytest.mark.slow
def test_figures_are_rendered_with_captions(built_book: Path):
    total = 0
    for f in toc_files():
        html = (built_book / f"{f}.html").read_text(encoding="utf-8")
        images = re.findall(r"<img [^>]*>", html)
        figures = html.count("<figure")
        captions = html.count("<figcaption")
        expected = figure_cells(f)
        total += expected
        assert figures == expected, f"{f}: {expected} figure cells but {figures} figures in the HTML"
        assert captions == figures, f"{f}: {figures} figures but {captions} captions"
        for tag in images:
            assert re.search(r'alt="[^"]+"', tag), f"{f}: image without alt text: {tag[:120]}"
    assert total >= 4, "the chapters should have figures"


PAGE = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A page

```{{code-cell}} ipython3
{code}
```
"""


def _build_tiny_book(tmp_path: Path, code: str) -> subprocess.CompletedProcess:
    import shutil
    import sys

    shutil.copy(ROOT / "_config.yml", tmp_path / "_config.yml")
    # the real book folder (static files, extensions' data); only the toc's one page is built
    shutil.copytree(ROOT / "book", tmp_path / "book", ignore=shutil.ignore_patterns("_build"))
    (tmp_path / "book" / "index.md").write_text(PAGE.format(code=code))
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: book/index\n")
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", "--all", "--warningiserror", "--nitpick", "--keep-going", str(tmp_path)]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)


@pytest.mark.slow
@pytest.mark.parametrize(
    "code, ok",
    [
        ("print(1 + 1)", True),
        ("raise RuntimeError('a broken cell')", False),
        ("import warnings; warnings.warn('a stray warning')", False),
    ],
    ids=["clean", "cell-error", "stderr"],
)
def test_strict_build_fails_on_cell_errors_and_stderr(tmp_path: Path, code: str, ok: bool):
    proc = _build_tiny_book(tmp_path, code)
    assert (proc.returncode == 0) is ok, (proc.stdout + proc.stderr)[-3000:]
