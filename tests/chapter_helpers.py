"""Shared by the chapter tests: run a chapter as a fresh kernel would, and read its outputs."""

from __future__ import annotations

import re
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SYMPY_TEXT = re.compile(r"\boo\b|Piecewise|DiracDelta|^\[?0(, 0)*\]?$|^\{")


def execute_chapter(path: Path) -> tuple[list[dict], float]:
    """Every output of the chapter's code cells, run top to bottom in a fresh kernel, and the
    seconds it took."""
    import jupytext
    from nbclient import NotebookClient

    nb = jupytext.read(path)
    start = time.perf_counter()
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(ROOT / "book")}}
    ).execute()
    seconds = time.perf_counter() - start
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.get("outputs", [])], seconds


def raw_sympy_outputs(outputs: list[dict]) -> list[str]:
    """Outputs that are SymPy results shown raw instead of a statement: a bare expression, a
    list or dict of them (``0``, ``[0, 0, 0]``, ``{-oo: oo, oo: 0}``). An equation the chapter
    states is an aligned block (``lossprep.symbolic.Equations``)."""
    raw = []
    for o in outputs:
        data = o.get("data", {})
        latex = data.get("text/latex")
        if latex is not None and r"\begin{aligned}" not in latex:
            raw.append(latex)
        elif set(data) == {"text/plain"} and _SYMPY_TEXT.search(data["text/plain"]):
            raw.append(data["text/plain"])
    return raw


def markdown_outputs(outputs: list[dict]) -> str:
    return "".join(o.get("data", {}).get("text/markdown", "") for o in outputs)


def run_chapter_cleanly(path: Path, *, max_seconds: float = 60.0) -> list[dict]:
    """Run the chapter in a fresh kernel and return its outputs, asserting what every chapter
    keeps: nothing on stderr, well under a minute, no raw SymPy output."""
    outputs, seconds = execute_chapter(path)
    assert not [o for o in outputs if o.get("name") == "stderr"]
    assert seconds < max_seconds, f"{path.name} took {seconds:.1f} s"
    raw = raw_sympy_outputs(outputs)
    assert not raw, raw
    return outputs


def undefined_glue(text: str, computed_names: set[str] = frozenset()) -> set[str]:
    """Names the chapter's prose pastes with ``{glue:text}`` that no cell glues. Names a cell
    builds with an f-string are given as ``computed_names``."""
    defined = set(re.findall(r'glue\(\s*f?"([a-zA-Z0-9_{}]+)"', text)) | set(computed_names)
    used = set(re.findall(r"\{glue:text\}`([a-zA-Z0-9_]+)", text))
    assert used, "the chapter pastes no computed number"
    return used - defined
