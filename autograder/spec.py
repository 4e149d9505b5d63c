"""The vocabulary of hidden tests: a :class:`Call` of a student function on hidden input, the
:class:`Outcome` that comes back from the student's kernel, and a :class:`Test` that builds
calls and judges outcomes. See ``autograder/README.md``."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import torch

__all__ = ["Call", "Outcome", "Test", "MODES", "load_cases", "assignment_of"]

MODES = ("value", "value_grad", "fit_linear", "module")


@dataclass(frozen=True)
class Call:
    """One call of the student's function ``fn`` on hidden input.

    ``mode`` says what comes back (see ``autograder/README.md``): ``"value"``, ``"value_grad"``
    (value and autograd gradient with respect to ``args[0]``), ``"fit_linear"`` (a linear scorer
    trained with ``fn`` as its loss, scored on ``extra["X_eval"]``) or ``"module"``.
    """

    fn: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    mode: str = "value"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"Expected mode in {MODES}, got {self.mode!r}")

    def to_dict(self) -> dict[str, Any]:
        """The plain form :func:`torch.save` writes for the collector."""
        return {
            "fn": self.fn,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "mode": self.mode,
            "extra": dict(self.extra),
        }


@dataclass(frozen=True)
class Outcome:
    """What one :class:`Call` gave in the student's kernel, on the CPU.

    ``error`` is the exception the call raised (``"TypeError: ..."``) or ``None``; ``value`` is
    a tensor, a Python number, or ``None`` when the call failed.
    """

    value: Any = None
    grad: torch.Tensor | None = None
    error: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Outcome:
        return cls(value=d.get("value"), grad=d.get("grad"), error=d.get("error"))


Builder = Callable[[torch.Generator], list[Call]]
Judge = Callable[[list[Call], list[Outcome]], "str | None"]


@dataclass(frozen=True)
class Test:
    """A hidden test: ``id`` is ``"function:short_name"``; ``weight`` its share of the part's
    points; ``build`` draws the calls; ``judge`` returns ``None`` (pass) or a feedback message."""

    id: str
    weight: float
    build: Builder
    judge: Judge

    def __post_init__(self) -> None:
        fn, sep, short = self.id.partition(":")
        if not (fn and sep and short):
            raise ValueError(f"Expected a test id 'function:short_name', got {self.id!r}")
        if self.weight <= 0:
            raise ValueError(f"Expected a positive weight, got {self.weight}")


def load_cases(assignment: str) -> ModuleType:
    """The module ``autograder.cases.<assignment>`` (its ``PARTS`` and ``ASSIGNMENT``)."""
    from autograder import ASSIGNMENTS

    if assignment not in ASSIGNMENTS:
        raise ValueError(f"Expected an assignment in {ASSIGNMENTS}, got {assignment!r}")
    return importlib.import_module(f"autograder.cases.{assignment}")


def assignment_of(grade_id: str) -> str:
    """The assignment a grade id ``NAME-KIND-PART`` belongs to."""
    name, sep, _ = grade_id.partition("-")
    if not sep:
        raise ValueError(f"Expected a grade id 'NAME-KIND-PART', got {grade_id!r}")
    return name
