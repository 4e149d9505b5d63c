"""The vocabulary of hidden tests: a :class:`Call` of a student function on hidden input, the
:class:`Outcome` that comes back from the sandbox, a :class:`Test` that builds calls and judges
outcomes, and the :class:`Verdict` a judge returns. See ``autograder/README.md``."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # torch is imported where a tensor is met: the writer of `lossprep grade` never needs it
    import torch

__all__ = ["Call", "Outcome", "Test", "Verdict", "Kind", "MODES"]

MODES = ("value", "value_grad", "fit_linear", "module")


@dataclass(frozen=True)
class Call:
    """One call of the student's function ``fn`` on hidden input.

    ``mode`` says what comes back (see ``autograder/README.md``): ``"value"``, ``"value_grad"``
    (value and autograd gradient with respect to ``args[0]``), ``"fit_linear"`` (the parameters
    of a linear scorer trained with ``fn`` as its loss, by the recipe in ``extra``) or
    ``"module"`` (the returned module's output on ``extra["X_eval"]``).
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
        """The plain form the sandbox receives (tensors, numbers, strings, lists, dicts)."""
        return {
            "fn": self.fn,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "mode": self.mode,
            "extra": dict(self.extra),
        }


@dataclass(frozen=True)
class Outcome:
    """What one :class:`Call` gave in the sandbox, on the CPU.

    ``error`` is the exception the call raised (``"TypeError: ..."``) or ``None``; ``value`` is
    a plain tensor, a Python number, or ``None`` when the call failed.
    """

    value: Any = None
    grad: torch.Tensor | None = None
    error: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Outcome:
        """An outcome as the sandbox sent it; anything but a plain tensor, a number or a string
        where one belongs is refused (:class:`TypeError`)."""
        import torch

        value, grad, error = d.get("value"), d.get("grad"), d.get("error")
        if not (value is None or type(value) in (torch.Tensor, bool, int, float)):
            raise TypeError(f"a value of type {type(value).__name__}")
        if not (grad is None or type(grad) is torch.Tensor):
            raise TypeError(f"a gradient of type {type(grad).__name__}")
        if not (error is None or isinstance(error, str)):
            raise TypeError(f"an error of type {type(error).__name__}")
        if error is not None:
            error = error[:2000].encode("utf-8", "replace").decode("utf-8")  # printable, bounded
        return cls(value=value, grad=grad, error=error)


class Kind(enum.Enum):
    """What kind of mistake a :class:`Verdict` reports (the engine composes the messages of
    one part from these: one cause behind many failures is said once, basic inputs first)."""

    NOT_IMPLEMENTED = "not-implemented"
    UNDEFINED = "undefined"  # the function does not exist in the notebook
    RAISES = "raises"
    MEMORY = "memory"
    NOT_RUN = "not-run"  # the sandbox stopped before this test (time limit, crash)
    TAMPERED = "tampered"  # the call changed torch, numpy, builtins or the harness
    WRONG_TYPE = "wrong-type"
    WRONG_SHAPE = "wrong-shape"
    WRONG_DTYPE = "wrong-dtype"
    NAN = "nan"
    INF = "inf"
    WRONG_VALUE = "wrong-value"
    CONSTANT_FACTOR = "constant-factor"
    NO_GRADIENT = "no-gradient"
    GRADIENT_NAN = "gradient-nan"
    GRADIENT_WRONG = "gradient-wrong"  # the value is right, its gradient is not
    TRAINING = "training"  # a training part missed its stated bar


@dataclass(frozen=True)
class Verdict:
    """A failed test: the kind of mistake, what is wrong (``text``, never a number computed from
    the hidden inputs) and on which kind of input (``where``, e.g. "when |logits| is large")."""

    kind: Kind
    text: str
    where: str = ""

    @property
    def message(self) -> str:
        return f"{self.text} {self.where}".strip()


Builder = Callable[["torch.Generator"], list[Call]]
Judge = Callable[[list[Call], list[Outcome]], "Verdict | None"]


@dataclass(frozen=True)
class Test:
    """A hidden test: ``id`` is ``"function:short_name"``; ``weight`` its share of the part's
    points; ``build`` draws the calls; ``judge`` returns ``None`` (pass) or a :class:`Verdict`.
    The first test of a part is its basic one (ordinary inputs): the others' messages are
    written relative to it."""

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
