"""Chapter sources follow the course's conventions (checked without executing anything)."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p for p in (ROOT / "book").glob("*.md") if p.read_text().startswith("---\njupytext:"))
PLOTTING = re.compile(r"\bplt\.(show|subplots|figure)\b|\bplots\.(loss_and_gradient|bars)\(")


def test_there_are_chapters():
    names = {p.stem for p in CHAPTERS}
    assert {"likelihoods", "regression"} <= names, names


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_figure_has_a_caption_and_alt_text(path: Path):
    nb = jupytext.read(path)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not PLOTTING.search(cell.source):
            continue
        meta = cell.metadata.get("mystnb", {})
        caption = meta.get("figure", {}).get("caption", "").strip()
        alt = meta.get("image", {}).get("alt", "").strip()
        assert caption, f"{path.name} cell {i}: a plotting cell without mystnb.figure.caption"
        assert alt, f"{path.name} cell {i}: a plotting cell without mystnb.image.alt"
        # panels side by side on a wide screen are stacked on a phone (lossprep.plots): no "left"
        for text in (caption, alt):
            where = re.search(r"\b(Left|Right)[:,]|\((left|right)( panel)?\)|\b(left|right) panel", text)
            assert not where, (
                f"{path.name} cell {i}: a figure text says {where.group(0)!r}, but on a phone the panels "
                "are stacked; say 'first panel' / 'second panel'"
            )


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_opens_and_closes_the_same_way(path: Path):
    text = path.read_text()
    assert "**What you will be able to do**" in text or "## What you will be able to do" in text, path.name
    first_code = jupytext.read(path).cells
    code = [c.source for c in first_code if c.cell_type == "code"]
    assert code and "get_device()" in code[0] and "manual_seed" in code[0], (
        f"{path.name}: first cell sets seed and device"
    )
    headings = re.findall(r"^## (.+)$", text, flags=re.M)
    assert headings[-3:] == ["Interview view", "Summary", "Self-check"], f"{path.name} ends with {headings[-3:]}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_prose_states_no_decimal_number_that_is_not_glued(path: Path):
    """Numbers with decimals or thousands in prose must come from code (glue); small integers
    and numbers inside math, code and metadata are allowed."""
    nb = jupytext.read(path)
    offenders = []
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        text = cell.source.replace("\\$", " ")  # an escaped dollar is a currency sign, not math
        text = re.sub(r"\$\$.*?\$\$|\$[^$]*\$|`[^`]*`|\{glue[^}]*\}`[^`]*`", " ", text, flags=re.S)
        for m in re.finditer(r"(?<![\w.])\d+(?:[.,]\d+)+%?", text):
            offenders.append(m.group(0))
    assert not offenders, f"{path.name}: numbers in prose not produced by a code cell: {offenders}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_code_lines_fit_the_page(path: Path):
    """The page's code column shows about 88 characters; longer lines scroll out of sight."""
    long = [
        (i, line)
        for i, cell in enumerate(jupytext.read(path).cells)
        if cell.cell_type == "code"
        for line in cell.source.splitlines()
        if len(line) > 88
    ]
    assert not long, f"{path.name}: code lines over 88 characters: {long[:5]}"
