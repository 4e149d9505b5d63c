"""Results that are tables, shown as tables.

A :class:`Table` displays as a Markdown table in Jupyter and in the book (give its cell the
metadata ``mystnb: {markdown_format: myst}`` so that ``$...$`` in a cell is typeset) and prints
as aligned plain text. The caller formats the numbers, so a table shows exactly the digits the
text quotes.

Example::

    >>> print(Table(("loss", "value"), [("BCE", "0.693"), ("MSE", "0.25")]))
    loss  value
    BCE   0.693
    MSE   0.25
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Table"]


@dataclass(frozen=True, init=False)
class Table:
    """A header and rows of already formatted cells (anything else is turned into ``str``)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def __init__(self, header: Sequence[object], rows: Iterable[Sequence[object]]) -> None:
        head = tuple(str(h) for h in header)
        body = tuple(tuple(str(c) for c in row) for row in rows)
        if not head:
            raise ValueError("Expected a header with at least one column, got none")
        for i, row in enumerate(body):
            if len(row) != len(head):
                raise ValueError(f"Expected {len(head)} cells in every row, got {len(row)} in row {i}")
        object.__setattr__(self, "header", head)
        object.__setattr__(self, "rows", body)

    def _repr_markdown_(self) -> str:
        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

        return "\n".join([line(self.header), line(["---"] * len(self.header)), *map(line, self.rows)])

    def __str__(self) -> str:
        widths = [max(len(r[i]) for r in (self.header, *self.rows)) for i in range(len(self.header))]
        return "\n".join(
            "  ".join(c.ljust(wd) for c, wd in zip(r, widths, strict=True)).rstrip() for r in (self.header, *self.rows)
        )
