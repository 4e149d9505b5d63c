"""Results that are tables, shown as tables.

A :class:`Table` displays as a Markdown table in Jupyter and in the book (the chapters render
Markdown outputs as MyST, ``mystnb: render_markdown_format: myst`` in their front matter, so
cells may hold ``$math$``), and as aligned text in a terminal.

Example::

    >>> print(Table(["loss", "estimates"], [["MSE", "the mean"], ["MAE", "the median"]]))
    loss  estimates
    MSE   the mean
    MAE   the median
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["Table"]

_ALIGN = {"l": ":--", "r": "--:", "c": ":-:"}


class Table:
    """A table of strings: a header and rows of the same length.

    Args:
        header: the column titles.
        rows: one sequence of cells per row (each turned into ``str``).
        align: one of ``l``, ``r``, ``c`` per column (default: all left).
    """

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[object]], *, align: str | None = None):
        self.header = [str(h) for h in header]
        self.rows = [[str(cell) for cell in row] for row in rows]
        self.align = align or "l" * len(self.header)
        if not self.header:
            raise ValueError("Expected at least one column, got none")
        bad = [i for i, row in enumerate(self.rows) if len(row) != len(self.header)]
        if bad:
            raise ValueError(f"Expected rows of {len(self.header)} cells, got other lengths in rows {bad}")
        if any("|" in cell for row in [self.header, *self.rows] for cell in row):
            raise ValueError(r"Expected no '|' in a cell (it splits a Markdown table); write |e| as \lvert e \rvert")
        if len(self.align) != len(self.header) or set(self.align) - set(_ALIGN):
            raise ValueError(f"Expected align as one of l, r, c per column ({len(self.header)}), got {self.align!r}")

    def _repr_markdown_(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(cells) + " |"

        lines = [line(self.header), "|" + "|".join(_ALIGN[a] for a in self.align) + "|"]
        lines.extend(line(row) for row in self.rows)
        return "\n".join(lines)

    def __str__(self) -> str:
        widths = [max(len(r[i]) for r in [self.header, *self.rows]) for i in range(len(self.header))]
        return "\n".join(
            "  ".join(
                cell.rjust(w) if a == "r" else cell.ljust(w) for cell, w, a in zip(r, widths, self.align, strict=True)
            ).rstrip()
            for r in [self.header, *self.rows]
        )

    __repr__ = __str__
