"""The collector: calls the student's functions on hidden inputs and keeps what they return.

This file runs inside the student's kernel. ``lossprep check`` sends its source text into the
kernel (it imports nothing from ``autograder``, only ``torch``), so whether a test passed is
never decided there: the outcomes are written to a file and judged in the grader.
``nbgrader autograde`` imports it through :mod:`autograder.inkernel`.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import torch

__all__ = ["collect_calls", "collect_file"]

_MAX_ERROR = 300


def _clone(x: Any) -> Any:
    """A private copy of an input, so a function that edits its inputs in place harms no other call."""
    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    if isinstance(x, list | tuple):
        return type(x)(_clone(v) for v in x)
    if isinstance(x, dict):
        return {k: _clone(v) for k, v in x.items()}
    return x


def _device(name: str | None) -> torch.device | None:
    """``"accelerator"``: CUDA, else MPS, else the CPU (so a test checks that the student's
    function follows its inputs to a GPU wherever grading has one)."""
    if name is None:
        return None
    if name == "accelerator":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def _to(x: Any, device: torch.device | None) -> Any:
    if device is None:
        return x
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, list | tuple):
        return type(x)(_to(v, device) for v in x)
    if isinstance(x, dict):
        return {k: _to(v, device) for k, v in x.items()}
    return x


def _plain(value: Any) -> Any:
    """What may travel back to the grader: CPU tensors and plain numbers only."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, bool | int | float):
        return value
    raise TypeError(f"returned a {type(value).__name__}, expected a tensor")


def _error(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:_MAX_ERROR]


def _fit_linear(fn: Any, call: dict[str, Any]) -> Any:
    extra = call["extra"]
    X, X_eval = extra["X"], extra["X_eval"]
    torch.manual_seed(int(extra.get("seed", 0)))
    model = torch.nn.Linear(X.shape[-1], 1).to(X.dtype)
    opt = torch.optim.Adam(model.parameters(), lr=float(extra.get("lr", 0.05)))
    args = _clone(call["args"])
    for _ in range(int(extra.get("epochs", 300))):
        opt.zero_grad()
        loss = fn(model(X).squeeze(-1), *args, **call["kwargs"])
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError("the loss must return a scalar tensor")
        if not bool(torch.isfinite(loss)):
            raise FloatingPointError("the loss became nan or inf during training")
        loss.backward()
        opt.step()
    with torch.no_grad():
        return model(X_eval).squeeze(-1)


def _one(call: dict[str, Any], namespace: dict[str, Any]) -> dict[str, Any]:
    fn = namespace.get(call["fn"])
    if not callable(fn):
        return {"error": f"NameError: {call['fn']} is not defined"}
    mode = call["mode"]
    try:
        device = _device(call["extra"].get("device"))
        if mode == "value":
            return {"value": _plain(fn(*_to(_clone(call["args"]), device), **_to(_clone(call["kwargs"]), device)))}
        if mode == "value_grad":
            args = list(_to(_clone(call["args"]), device))
            args[0] = args[0].requires_grad_(True)
            value = fn(*args, **_clone(call["kwargs"]))
            out: dict[str, Any] = {"value": _plain(value)}
            if isinstance(value, torch.Tensor) and value.numel() == 1 and value.requires_grad:
                (grad,) = torch.autograd.grad(value.sum(), args[0], allow_unused=True)
                out["grad"] = None if grad is None else grad.detach().cpu().clone()
            return out
        if mode == "fit_linear":
            return {"value": _plain(_fit_linear(fn, call))}
        if mode == "module":
            model = fn(*_clone(call["args"]), **_clone(call["kwargs"]))
            if not isinstance(model, torch.nn.Module):
                raise TypeError(f"returned a {type(model).__name__}, expected a torch.nn.Module")
            model.eval()
            with torch.no_grad():
                X_eval = call["extra"]["X_eval"]
                with contextlib.suppress(StopIteration):
                    X_eval = X_eval.to(next(model.parameters()).device)
                return {"value": _plain(model(X_eval))}
        return {"error": f"ValueError: unknown mode {mode!r}"}
    except Exception as e:  # the student's code may raise anything; it is their outcome
        return {"error": _error(e)}


def collect_calls(calls: dict[str, list[dict[str, Any]]], namespace: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Run every call (test id -> calls) against the functions in ``namespace``.

    Warnings are ignored and anything written to stdout or stderr is swallowed: a stray
    warning must not cost a correct student the points.
    """
    outcomes: dict[str, list[dict[str, Any]]] = {}
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
        warnings.simplefilter("ignore")
        for test_id, test_calls in calls.items():
            outcomes[test_id] = [_one(c, namespace) for c in test_calls]
    return outcomes


def collect_file(in_path: str, out_path: str, namespace: dict[str, Any]) -> None:
    """:func:`collect_calls` on the calls saved at ``in_path``; the outcomes go to ``out_path``."""
    calls = torch.load(in_path, weights_only=True)
    torch.save(collect_calls(calls, namespace), out_path)
