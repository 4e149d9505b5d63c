"""Judgements shared by the hidden tests. Each returns ``None`` (pass) or a feedback message
that names the kind of mistake and the kind of input, never a number the reference computed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from autograder.spec import Call, Judge, Outcome

__all__ = ["error_message", "as_tensor", "compare", "judge_against"]


def error_message(out: Outcome, where: str) -> str | None:
    """The message for a call that raised, or ``None`` if it did not."""
    if out.error is None:
        return None
    kind = out.error.split(":", 1)[0]
    if kind == "NotImplementedError":
        return "not implemented yet (raises NotImplementedError)"
    if kind == "NameError" and "is not defined" in out.error:
        return out.error.split(": ", 1)[1]
    return f"raises {out.error} {where}".strip()


def as_tensor(value: Any) -> torch.Tensor | None:
    """A returned value as a float64 tensor, or ``None`` if it is not a tensor."""
    if isinstance(value, torch.Tensor):
        return value.detach().to(torch.float64)
    return None


def compare(
    got: Any,
    expected: torch.Tensor,
    *,
    where: str,
    shape: str,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    mismatch: str = "wrong value",
    bool_output: bool = False,
) -> str | None:
    """Compare a returned value with the reference's; ``shape`` is the symbolic shape (``"(N,)"``)."""
    t = as_tensor(got) if not bool_output else (got if isinstance(got, torch.Tensor) else None)
    if t is None:
        return f"returns a {type(got).__name__}, expected a tensor of shape {shape}"
    if tuple(t.shape) != tuple(expected.shape):
        return f"wrong shape: expected {shape}, got {tuple(t.shape)}"
    if bool_output:
        if t.dtype != torch.bool:
            return f"wrong dtype: expected a bool tensor, got {t.dtype}"
        return None if torch.equal(t, expected.to(torch.bool)) else f"{mismatch} {where}".strip()
    if bool(torch.isnan(t).any()):
        return f"returns nan {where}".strip()
    if bool(torch.isinf(t).any()) and not bool(torch.isinf(expected).any()):
        return f"returns inf {where}".strip()
    e = expected.detach().to(torch.float64)
    scale = float(e.abs().max()) if e.numel() else 0.0
    if not torch.allclose(t, e, rtol=rtol, atol=atol * max(1.0, scale)):
        return f"{mismatch} {where}".strip()
    return None


def judge_against(
    reference: Callable[..., torch.Tensor],
    *,
    where: str,
    shape: str,
    rtol: float = 1e-4,
    atol: float = 1e-6,
    mismatch: str = "wrong value",
    check_grad: bool = False,
    grad_reference: Callable[..., torch.Tensor] | None = None,
    grad_shape: str = "(N,)",
) -> Judge:
    """A judge comparing each outcome with ``reference(*call.args, **call.kwargs)``.

    With ``check_grad`` the autograd gradient the student's function produced (mode
    ``"value_grad"``) is compared with ``grad_reference`` too.
    """

    def judge(calls: list[Call], outcomes: list[Outcome]) -> str | None:
        for call, out in zip(calls, outcomes, strict=True):
            msg = error_message(out, where)
            if msg:
                return msg
            expected = reference(*call.args, **call.kwargs)
            msg = compare(out.value, expected, where=where, shape=shape, rtol=rtol, atol=atol, mismatch=mismatch)
            if msg:
                return msg
            if check_grad:
                assert grad_reference is not None
                if out.grad is None:
                    return f"no gradient flows back to the inputs {where}".strip()
                g = out.grad.to(torch.float64)
                if not bool(torch.isfinite(g).all()):
                    return f"the gradient is nan or inf {where}".strip()
                msg = compare(
                    g,
                    grad_reference(*call.args, **call.kwargs),
                    where=where,
                    shape=grad_shape,
                    rtol=rtol,
                    atol=atol,
                    mismatch="the autograd gradient is wrong",
                )
                if msg:
                    return msg
        return None

    return judge
