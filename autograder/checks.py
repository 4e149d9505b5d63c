"""Judgements shared by the hidden tests. Each returns ``None`` (pass) or a :class:`Verdict`
that names the kind of mistake and the kind of input, never a number the reference computed;
:func:`explain` turns the verdicts of one part into its messages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from autograder.spec import Call, Judge, Kind, Outcome, Verdict

__all__ = ["error_verdict", "as_tensor", "compare", "judge_against", "explain"]


def error_verdict(out: Outcome, where: str) -> Verdict | None:
    """The verdict for a call that raised, or ``None`` if it did not."""
    if out.error is None:
        return None
    name, _, detail = out.error.partition(": ")
    if name == "NotImplementedError":
        return Verdict(Kind.NOT_IMPLEMENTED, "not implemented yet (raises NotImplementedError)")
    if name == "NameError" and detail.endswith(" is not defined"):
        return Verdict(Kind.UNDEFINED, detail)
    return Verdict(Kind.RAISES, f"raises {out.error}", where)


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
) -> Verdict | None:
    """Compare a returned value with the reference's; ``shape`` is the symbolic shape (``"(N,)"``)."""
    t = as_tensor(got) if not bool_output else (got if isinstance(got, torch.Tensor) else None)
    if t is None:
        return Verdict(Kind.WRONG_TYPE, f"returns a {type(got).__name__}, expected a tensor of shape {shape}")
    if tuple(t.shape) != tuple(expected.shape):
        return Verdict(Kind.WRONG_SHAPE, f"wrong shape: expected {shape}, got {tuple(t.shape)}")
    if bool_output:
        if t.dtype != torch.bool:
            return Verdict(Kind.WRONG_DTYPE, f"wrong dtype: expected a bool tensor, got {t.dtype}")
        return None if torch.equal(t, expected.to(torch.bool)) else Verdict(Kind.WRONG_VALUE, mismatch, where)
    if bool(torch.isnan(t).any()):
        return Verdict(Kind.NAN, "returns nan", where)
    if bool(torch.isinf(t).any()) and not bool(torch.isinf(expected).any()):
        return Verdict(Kind.INF, "returns inf", where)
    e = expected.detach().to(torch.float64)
    scale = float(e.abs().max()) if e.numel() else 0.0
    if not torch.allclose(t, e, rtol=rtol, atol=atol * max(1.0, scale)):
        return Verdict(Kind.WRONG_VALUE, mismatch, where)
    return None


def _factor(pairs: list[tuple[Call, torch.Tensor, torch.Tensor]], dims: tuple[str, ...]) -> str | None:
    """When every wrong value is the right one times a factor, what the factor is: one constant,
    the size of a dimension of the first input (``dims`` names them: ``("N", "C")``) or its
    inverse (a sum where a mean belongs, or the reverse), or a constant per call; ``None`` when
    the values are wrong in another way."""
    ratios, sizes, within = [], [], True
    for call, got, expected in pairs:
        g, e = got.reshape(-1), expected.reshape(-1)
        scale = max(float(e.abs().max()) if e.numel() else 0.0, 1e-300)
        keep = e.abs() > 1e-9 * scale
        if not bool(keep.any()) or not bool(torch.isfinite(g).all()):
            return None
        r = g[keep] / e[keep]
        r0 = float(r.median())
        rest = g[~keep].abs()
        if not bool(((r - r0).abs() <= 1e-4 * abs(r0)).all()) or (rest.numel() and float(rest.max()) > 1e-9 * scale):
            return None
        within = within and int(keep.sum()) >= 2
        ratios.append(r0)
        x = call.args[0] if call.args and isinstance(call.args[0], torch.Tensor) else torch.zeros(())
        shape = list(x.shape[: len(dims)]) + ([x.numel()] if len(dims) > 1 else [])
        sizes.append(shape)

    def close(a: float, b: float) -> bool:
        return abs(a - b) <= 1e-4 * max(abs(b), 1e-12)

    if len(ratios) >= 2 and all(close(r, ratios[0]) for r in ratios) and not close(ratios[0], 1.0):
        return "off by a constant factor"
    names = [*dims, "·".join(dims)] if len(dims) > 1 else list(dims)
    for k, name in enumerate(names):
        if all(len(s) > k for s in sizes) and any(s[k] > 1 for s in sizes):
            if all(close(r, s[k]) for r, s in zip(ratios, sizes, strict=True)):
                return f"off by a factor of {name} (a sum where the mean belongs?)"
            if all(close(r, 1 / s[k]) for r, s in zip(ratios, sizes, strict=True)):
                return f"off by a factor of 1/{name} (a mean where the sum belongs?)"
    if within and not all(close(r, 1.0) for r in ratios):
        return "off by a factor that changes from call to call (check the normalisation)"
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
    grad_hint: str = "",
    dims: tuple[str, ...] = ("N",),
) -> Judge:
    """A judge comparing each outcome with ``reference(*call.args, **call.kwargs)``.

    With ``check_grad`` the autograd gradient the student's function produced (mode
    ``"value_grad"``) is compared with ``grad_reference`` too; when every value is right and a
    gradient is not, the verdict says so (``grad_hint`` suggests the usual cause). When every
    value is wrong by a factor (a constant, N, 1/N, ...: ``dims`` names the dimensions of the
    first argument), the verdict says that instead.
    """

    def judge(calls: list[Call], outcomes: list[Outcome]) -> Verdict | None:
        wrong: Verdict | None = None
        pairs: list[tuple[Call, torch.Tensor, torch.Tensor]] = []
        grad_wrong: Verdict | None = None
        for call, out in zip(calls, outcomes, strict=True):
            verdict = error_verdict(out, where)
            if verdict:
                return verdict
            expected = reference(*call.args, **call.kwargs)
            verdict = compare(out.value, expected, where=where, shape=shape, rtol=rtol, atol=atol, mismatch=mismatch)
            if verdict and verdict.kind is Kind.WRONG_VALUE:
                wrong = wrong or verdict
                pairs.append((call, as_tensor(out.value), expected.detach().to(torch.float64)))  # type: ignore[arg-type]
                continue
            if verdict:
                return verdict
            if check_grad and grad_wrong is None:
                grad_wrong = _judge_grad(call, out, grad_reference, where, grad_shape, rtol, atol, grad_hint)
        if wrong is not None:
            factor = _factor(pairs, dims) if len(pairs) == len(calls) else None
            return Verdict(Kind.CONSTANT_FACTOR, factor, where) if factor else wrong
        return grad_wrong

    return judge


def _judge_grad(
    call: Call,
    out: Outcome,
    grad_reference: Callable[..., torch.Tensor] | None,
    where: str,
    grad_shape: str,
    rtol: float,
    atol: float,
    hint: str,
) -> Verdict | None:
    assert grad_reference is not None
    if out.grad is None:
        return Verdict(Kind.NO_GRADIENT, "no gradient flows back to the inputs", where)
    g = out.grad.to(torch.float64)
    if not bool(torch.isfinite(g).all()):
        return Verdict(Kind.GRADIENT_NAN, "the gradient is nan or inf", where)
    verdict = compare(g, grad_reference(*call.args, **call.kwargs), where=where, shape=grad_shape, rtol=rtol, atol=atol)
    if verdict is None:
        return None
    if verdict.kind is Kind.WRONG_VALUE:
        return Verdict(Kind.GRADIENT_WRONG, f"value right, gradient wrong{hint}", where)
    return Verdict(verdict.kind, f"the gradient: {verdict.text}", where)


# Kinds that say the same thing whatever the input: no "right on basic inputs" for these.
_WHOLE_FUNCTION = {Kind.NOT_IMPLEMENTED, Kind.UNDEFINED, Kind.NOT_RUN, Kind.TAMPERED, Kind.TRAINING}


def explain(verdicts: list[Verdict | None]) -> list[str]:
    """The messages of one part's tests, in order; the first test is the part's basic one.

    One cause behind many failures is said once: a failure of the same kind as the basic
    test's says "..., as on basic inputs" instead of naming its own kind of input (fix the
    basic one first), and when the basic test passed, the others say "right on basic inputs,
    but ..."."""
    basic = verdicts[0] if verdicts else None
    messages = []
    for i, v in enumerate(verdicts):
        if v is None:
            messages.append("ok")
        elif i == 0 or v.kind in _WHOLE_FUNCTION:
            messages.append(v.message)
        elif basic is None:
            messages.append(f"right on basic inputs, but {v.message}")
        elif v.kind is basic.kind:
            messages.append(f"{v.text}, as on basic inputs")
        else:
            messages.append(v.message)
    return messages
