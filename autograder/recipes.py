"""What every assignment's hidden tests share: the graded training recipe and held-out judging,
reference gradients, the pass bars and one-thread training.

A training part gives the student's loss (or trainer) a fixed job; the grader scores the result
on held-out data that never enters the sandbox (``fit_linear``: only the trained parameters come
back) or that the sandbox sees without labels (``module``), drawn with a seed kept in the cases
module, so it cannot be regenerated from the course's public data generators. Its pass bar is a
number stated in the notebook, measured once and committed (:class:`Bars`); a test recomputes it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch

from autograder import runner
from autograder.checks import error_verdict
from autograder.spec import Call, Kind, Outcome, Verdict

__all__ = [
    "one_thread",
    "reference_grad",
    "fit_linear_call",
    "train_linear",
    "linear_scores",
    "Bars",
    "trained_output",
]


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one intra-op thread inside the block (tiny models train faster that way on a
    busy machine: a 0.3 s training took up to 14 s with the default threads on two cores)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def reference_grad(fn: Callable[..., torch.Tensor]) -> Callable[..., torch.Tensor]:
    """The autograd gradient of reference ``fn`` with respect to its first argument, in float64."""

    def to64(v: Any) -> Any:
        return v.to(torch.float64) if isinstance(v, torch.Tensor) and v.is_floating_point() else v

    def grad(*args: Any, **kwargs: Any) -> torch.Tensor:
        x = args[0].detach().to(torch.float64).requires_grad_(True)
        (g,) = torch.autograd.grad(fn(x, *map(to64, args[1:]), **{k: to64(v) for k, v in kwargs.items()}), x)
        return g

    return grad


def fit_linear_call(fn: str, X: torch.Tensor, args: tuple[Any, ...], recipe: dict[str, Any], **kwargs: Any) -> Call:
    """The call that trains a ``Linear(d, 1)`` scorer on ``X`` with the student's ``fn`` as its
    loss, ``fn(model(X).squeeze(-1), *args, **kwargs)``, by ``recipe`` (epochs, lr, seed)."""
    return Call(fn, args, kwargs, mode="fit_linear", extra={"X": X, **recipe})


def train_linear(
    loss: Callable[..., torch.Tensor], X: torch.Tensor, args: tuple[Any, ...], recipe: dict[str, Any], **kwargs: Any
) -> torch.Tensor:
    """The same training in the grader (for the bars): the parameters the sandbox would return."""
    with one_thread():
        return runner.linear_parameters(runner.fit_linear(loss, X, args, kwargs, recipe))


def linear_scores(params: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """The scores of a trained ``Linear(d, 1)`` (its ``d`` weights, then its bias) on ``X (..., d)``."""
    p = params.to(torch.float64)
    return X.to(torch.float64) @ p[:-1] + p[-1]


@dataclass(frozen=True)
class Bars:
    """A training part's committed measurements: the reference's metric, the baseline's (the
    mistake the part is about), the pass bar halfway between them and, for a part that also
    checks a count, the true mean of that count. The notebook states each of :meth:`stated`."""

    reference: float
    baseline: float
    true_mean: float | None = None

    @property
    def bar(self) -> float:
        return round((self.reference + self.baseline) / 2, 3)

    def stated(self) -> dict[str, str]:
        """Each number as the notebook writes it."""
        numbers = {"reference": f"{self.reference:.3f}", "baseline": f"{self.baseline:.3f}", "bar": f"{self.bar:.3f}"}
        if self.true_mean is not None:
            numbers["true mean"] = f"{self.true_mean:.2f}"
        return numbers


def trained_output(
    outcomes: list[Outcome], expected_shape: tuple[int, ...], what: str
) -> tuple[torch.Tensor | None, Verdict | None]:
    """The one outcome of a training part as a float64 tensor of ``expected_shape``, or the
    verdict that says why there is none (``what``: "scorer", "model", ...)."""
    (out,) = outcomes
    verdict = error_verdict(out, "while training")
    if verdict:
        return None, verdict
    value = out.value
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != tuple(expected_shape):
        got = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
        return None, Verdict(Kind.WRONG_SHAPE, f"the trained {what} gives outputs of the wrong shape (got {got})")
    if not bool(torch.isfinite(value).all()):
        return None, Verdict(Kind.NAN, f"the trained {what} gives nan or inf")
    return value.to(torch.float64), None
