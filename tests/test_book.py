"""The book builds strictly, and every page of the table of contents is in it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", []):
        for ch in part.get("chapters", []):
            files.append(ch["file"])
            files.extend(s["file"] for s in ch.get("sections", []))
    return files


@pytest.mark.slow
def test_book_builds_strictly_with_every_page(built_book: Path):
    for f in toc_files():
        page = built_book / f"{f}.html"
        assert page.is_file(), f"{f} is in _toc.yml but {page} was not built"
        html = page.read_text(encoding="utf-8")
        assert "Traceback (most recent call last)" not in html, f"{f} shows a traceback"
        assert 'class="output stderr"' not in html, f"{f} shows stderr output"


@pytest.mark.slow
def test_figures_are_rendered_with_captions(built_book: Path):
    for f in toc_files():
        html = (built_book / f"{f}.html").read_text(encoding="utf-8")
        images = re.findall(r"<img [^>]*>", html)
        figures = html.count("<figure")
        captions = html.count("<figcaption")
        assert captions == figures, f"{f}: {figures} figures but {captions} captions"
        for tag in images:
            assert re.search(r'alt="[^"]+"', tag), f"{f}: image without alt text: {tag[:120]}"
