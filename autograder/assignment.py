"""An assignment, loaded once: its graded parts and hidden tests, its locked cells as released
and as in the source, its solution cells and hand-graded points.

Assignments are discovered: every ``solutions/NAME/NAME.ipynb`` is one, with its release in
``exercises/NAME/NAME.ipynb``, its hidden tests in ``autograder/cases/NAME.py`` and its
reference in ``autograder/reference/NAME.py``. Grade ids read ``NAME-KIND-PART``.
"""

from __future__ import annotations

import copy
import functools
import importlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from autograder import EXERCISES, SOLUTIONS
from autograder.spec import Call, Test

if TYPE_CHECKING:
    import torch

__all__ = ["Assignment", "Part", "Cell", "SEED", "names", "load", "cells", "from_release", "grade_id", "source_text"]

SEED = 20261123  # hidden-input seed; each test draws from its own stream, derived from it and its id


def names() -> tuple[str, ...]:
    """Every assignment: the folders of ``solutions/`` holding a notebook of their own name."""
    return tuple(sorted(p.parent.name for p in SOLUTIONS.glob("*/*.ipynb") if p.stem == p.parent.name))


def grade_id(cell: dict[str, Any]) -> str | None:
    """A cell's nbgrader grade id, or ``None``."""
    meta = cell.get("metadata")
    nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
    gid = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    return gid if isinstance(gid, str) else None


def source_text(cell: dict[str, Any]) -> str:
    """A cell's source as one string (notebook files may store it as a list of lines)."""
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else str(src)


def _kind(gid: str) -> str:
    """The KIND of ``NAME-KIND-PART``."""
    return gid.split("-")[1] if gid.count("-") >= 2 else ""


@dataclass(frozen=True)
class Cell:
    """A locked cell: its source as released and as in the instructor's source notebook (with
    the hidden tests), and whether it runs when the notebook is graded (code cells that are
    neither test cells nor demo cells do)."""

    grade_id: str
    cell_type: str
    released: str
    source: str

    @property
    def kind(self) -> str:
        return _kind(self.grade_id)

    @property
    def runs(self) -> bool:
        return self.cell_type == "code" and self.kind not in ("test", "demo")


@dataclass(frozen=True)
class Part:
    """A graded test cell: its points are shared by its tests' weights; the first test is the
    part's basic one."""

    grade_id: str
    points: float
    tests: tuple[Test, ...]

    @property
    def function(self) -> str:
        return self.grade_id.split("-", 2)[2]

    def shares(self) -> list[float]:
        """Each test's share of the part's points (by weight)."""
        total = sum(t.weight for t in self.tests)
        return [self.points * t.weight / total for t in self.tests]


@dataclass(frozen=True)
class Assignment:
    name: str
    parts: tuple[Part, ...]
    locked: dict[str, Cell]  # grade id -> cell, in the release's order
    solutions: tuple[str, ...]  # grade ids of the code cells the student writes
    manual_points: float  # the hand-graded written answers
    cases: ModuleType | None  # the hidden tests; None in the student edition's check (no parts)

    def part(self, gid: str) -> Part:
        return next(p for p in self.parts if p.grade_id == gid)

    def calls(self, gid: str, seed: int = SEED) -> dict[str, list[Call]]:
        """The hidden calls of one part: test id -> calls, the same for the same seed. Built once
        per process (a batch grades many submissions with the same inputs; medical_loss's take
        a good part of a second to build); each caller gets its own copy."""
        key = (self.name, gid, seed)
        if key not in _BUILT:
            _BUILT[key] = {t.id: t.build(_generator(t.id, seed)) for t in self.part(gid).tests}
        return copy.deepcopy(_BUILT[key])

    def solution_cell(self, function: str) -> str | None:
        """The grade id of the cell where the student writes ``function``, if there is one."""
        gid = f"{self.name}-sol-{function}"
        return gid if gid in self.solutions else None


_BUILT: dict[tuple[str, str, int], dict[str, list[Call]]] = {}


def _generator(test_id: str, seed: int) -> torch.Generator:
    import torch  # here: the writer of `lossprep grade` reads assignments and never needs torch

    return torch.Generator().manual_seed(seed + zlib.crc32(test_id.encode()))


def _read(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


@functools.cache
def load(name: str) -> Assignment:
    """The assignment ``name`` (``ValueError`` if there is none of that name)."""
    if name not in names():
        raise ValueError(f"Expected an assignment in {names()}, got {name!r}")
    source = _read(SOLUTIONS / name / f"{name}.ipynb")
    release = _read(EXERCISES / name / f"{name}.ipynb")
    cases = importlib.import_module(f"autograder.cases.{name}")
    return from_release(name, release, {grade_id(c): source_text(c) for c in source}, cases)


@functools.cache
def cells(name: str) -> Assignment:
    """The assignment ``name`` as its notebooks tell it, without its hidden tests (no parts): what
    its cells are and import, read without importing torch."""
    if name not in names():
        raise ValueError(f"Expected an assignment in {names()}, got {name!r}")
    source = _read(SOLUTIONS / name / f"{name}.ipynb")
    release = _read(EXERCISES / name / f"{name}.ipynb")
    return from_release(name, release, {grade_id(c): source_text(c) for c in source}, None)


def from_release(
    name: str, release: list[dict[str, Any]], in_source: dict[str | None, str], cases: ModuleType | None
) -> Assignment:
    """The assignment as its released cells tell it, with the locked cells' source text
    (``in_source``: grade id -> text) and the hidden tests (``cases``; ``None``: no graded
    parts, as in the student edition's check, ``autograder.visible``)."""
    locked, solutions, parts, manual = {}, [], [], 0.0
    for cell in release:
        gid = grade_id(cell)
        meta = cell["metadata"].get("nbgrader", {})
        if gid is None:
            continue
        if meta.get("solution"):
            if cell["cell_type"] == "code":
                solutions.append(gid)
            if meta.get("grade"):
                manual += float(meta.get("points", 0))
            continue
        locked[gid] = Cell(gid, cell["cell_type"], source_text(cell), in_source.get(gid, source_text(cell)))
        if cases is not None and meta.get("grade") and cell["cell_type"] == "code":
            parts.append(Part(gid, float(meta.get("points", 0)), tuple(cases.PARTS[gid])))
    missing = set(cases.PARTS) ^ {p.grade_id for p in parts} if cases is not None else set()
    if missing:
        raise ValueError(f"autograder/cases/{name}.py and the notebook disagree on the graded parts: {sorted(missing)}")
    return Assignment(name, tuple(parts), locked, tuple(solutions), manual, cases)
