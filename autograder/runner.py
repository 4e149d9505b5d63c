"""The sandboxed child: runs a student's notebook cells, calls their functions on the hidden
inputs, and sends back plain tensors, numbers and strings.

It runs inside the student's process, so nothing it reports is trusted: the grader judges every
value in its own process and decides every flag from what it observed (see
``autograder/engine.py``). This module imports nothing from ``autograder`` (the package is not
mounted in the sandbox): the grader sends its source to the child on standard input and the
child runs :func:`main`. The grader also imports it, for :func:`fit_linear` (the training recipe
of ``fit_linear`` parts, one implementation for both sides) and for in-process test runs of
:class:`Session`.

Protocol (both directions): frames of a 4-byte big-endian length and a :func:`torch.save`
payload that :func:`torch.load` reads with ``weights_only=True`` (dicts, lists, strings,
numbers, plain tensors). The grader sends ``{"settings", "cells"}``, then ``{"parts"}``; the
child answers with events (``ready``, ``start``, ``cell``, ``incident``, ``names``, ``part``,
``done``) on the file descriptor given as its first argument.
"""

from __future__ import annotations

import contextlib
import io
import json
import linecache
import os
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from typing import Any

__all__ = [
    "INCIDENTS",
    "Session",
    "fit_linear",
    "linear_parameters",
    "read_frame",
    "write_frame",
    "main",
    "serve",
]

MAX_FRAME = 64 << 20  # bytes: more is a broken or hostile stream
OUTPUT_KEEP = 2000  # characters of a cell's output kept for the report
ERROR_KEEP = 300  # characters of an error message

# What the child may report, by kind (the grader maps each to a flag in one place).
INCIDENTS = (
    "monkeypatch",  # a cell or a call replaced a function of torch, numpy, builtins or the harness
    "tensor-subclass",  # a call returned a tensor subclass (refused: only plain tensors come back)
    "forbidden-import",  # an import of the grading package was attempted
    "denied-read",  # a read of the grader's files was attempted
    "denied-write",  # a write outside the scratch folder was attempted
    "network",  # a network connection or name lookup was attempted
    "memory",  # an allocation failed at the memory limit
    "timeout",  # a cell or a part ran past its time limit and was stopped
    "output-limit",  # a cell or a call printed more than the limit
    "processes",  # processes the notebook left running were stopped
)


class Stopped(BaseException):
    """The time limit of the running cell or part ran out (a BaseException, so that a
    student's ``except Exception`` does not swallow it)."""


_CELL_PREFIX = "<ipython-input-"  # how IPython names the code of a cell


def _stop_student_code(frame: Any, event: str, arg: Any) -> Any:
    """The trace function after a time limit: any line of a cell's code raises Stopped."""
    if frame.f_code.co_filename.startswith(_CELL_PREFIX):
        raise Stopped()
    return None


# ---------------------------------------------------------------- protocol


def write_frame(fd: int, obj: Any, *, tag: bytes = b"T") -> None:
    """Send one frame: ``tag`` (``b"J"`` JSON, ``b"T"`` :func:`torch.save`), a 4-byte
    big-endian length, the payload. SIGALRM is held back so that a time limit never cuts a
    frame in two."""
    if tag == b"J":
        data = json.dumps(obj).encode("utf-8")
    else:
        import torch

        buf = io.BytesIO()
        torch.save(obj, buf)
        data = buf.getvalue()
    frame = tag + len(data).to_bytes(4, "big") + data
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
    try:
        view = memoryview(frame)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def read_frame(stream: Any) -> Any:
    """The next frame of a binary stream, or ``None`` at its end; ``ValueError`` for anything
    that is not a frame. Torch frames are read with ``weights_only=True``: plain containers,
    strings, numbers and plain tensors only."""
    header = stream.read(5)
    if not header:
        return None
    if len(header) < 5 or header[:1] not in (b"J", b"T"):
        raise ValueError("not a frame")
    size = int.from_bytes(header[1:], "big")
    if size > MAX_FRAME:
        raise ValueError(f"a frame of {size} bytes")
    data = stream.read(size)
    if len(data) < size:
        raise ValueError("a truncated frame")
    if header[:1] == b"J":
        return json.loads(data.decode("utf-8"))
    import torch

    return torch.load(io.BytesIO(data), weights_only=True)


# ---------------------------------------------------------------- the training recipe


def fit_linear(loss_fn: Callable[..., Any], X: Any, args: Any, kwargs: dict[str, Any], recipe: dict[str, Any]) -> Any:
    """Train a ``torch.nn.Linear(d, 1)`` scorer, full batch: the graded training recipe.
    ``loss_fn(model(X).squeeze(-1), *args, **kwargs)`` is minimised for ``recipe["epochs"]``
    steps of Adam at ``recipe["lr"]`` after ``torch.manual_seed(recipe["seed"])``. Returns the
    trained model.

    Adam (torch.optim.Adam's defaults and update, step for step) is written out here because
    ``torch.optim`` imports ``torch._dynamo`` on its first step: seconds of start-up on every
    check, for a 10-line update."""
    import torch

    torch.manual_seed(int(recipe.get("seed", 0)))
    model = torch.nn.Linear(X.shape[-1], 1).to(X.dtype)
    params = list(model.parameters())
    lr, beta1, beta2, eps = float(recipe.get("lr", 0.05)), 0.9, 0.999, 1e-8
    exp_avg = [torch.zeros_like(p) for p in params]
    exp_avg_sq = [torch.zeros_like(p) for p in params]
    with torch.enable_grad():
        for step in range(1, int(recipe.get("epochs", 300)) + 1):
            for p in params:
                p.grad = None
            loss = loss_fn(model(X).squeeze(-1), *args, **kwargs)
            if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
                raise TypeError("the loss must return a scalar tensor")
            if not bool(torch.isfinite(loss)):
                raise FloatingPointError("the loss became nan or inf during training")
            loss.backward()
            with torch.no_grad():
                for p, m, v in zip(params, exp_avg, exp_avg_sq, strict=True):
                    if p.grad is None:
                        continue
                    m.lerp_(p.grad, 1 - beta1)
                    v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                    denom = (v.sqrt() / (1 - beta2**step) ** 0.5).add_(eps)
                    p.addcdiv_(m, denom, value=-lr / (1 - beta1**step))
    return model


def linear_parameters(model: Any) -> Any:
    """A trained ``Linear(d, 1)`` as one plain vector: the ``d`` weights, then the bias."""
    import torch

    with torch.no_grad():
        return torch.cat([model.weight.reshape(-1), model.bias.reshape(-1)]).detach().clone()


# ---------------------------------------------------------------- what runs in the child


class _Capture(io.TextIOBase):
    """A bounded stand-in for sys.stdout / sys.stderr: keeps the first characters, counts all."""

    def __init__(self) -> None:
        self.kept: list[str] = []
        self.size = 0
        self.total = 0

    def write(self, s: str) -> int:
        if not isinstance(s, str):
            s = str(s)
        self.total += len(s)
        if self.size < OUTPUT_KEEP:
            self.kept.append(s[: OUTPUT_KEEP - self.size])
            self.size += len(self.kept[-1])
        return len(s)

    def text(self) -> str:
        return "".join(self.kept)

    def isatty(self) -> bool:
        return False

    @property
    def encoding(self) -> str:
        return "utf-8"


def _error_text(e: BaseException) -> str:
    if isinstance(e, SyntaxError):
        where = f" (line {e.lineno})" if e.lineno else ""
        return f"{type(e).__name__}: {e.msg}{where}"[:ERROR_KEEP]
    return f"{type(e).__name__}: {e}"[:ERROR_KEEP]


def _is_memory_error(e: BaseException) -> bool:
    """Whether an allocation failed. PyTorch's CPU allocator raises a plain RuntimeError (no
    subclass, no errno), so its own wording is recognised here, once, at the boundary where the
    exception becomes a typed incident."""
    import torch

    if isinstance(e, MemoryError | torch.OutOfMemoryError):
        return True
    return isinstance(e, RuntimeError) and "DefaultCPUAllocator: can't allocate memory" in str(e)


class _Watch:
    """What the student's code must not replace: attributes of torch, numpy, builtins, the
    IPython shell and this harness, taken before any student code runs. :meth:`changed` lists
    the replaced ones (and, on classes, the added ones: they shadow what the class inherits) and
    puts the originals back, so a patch never reaches the hidden calls. (Code in the same
    process can always defeat this with enough effort; it only says who tried. The grade never
    depends on it: every value is judged in the grader.)"""

    def __init__(self, targets: list[tuple[str, Any, tuple[str, ...] | None]]) -> None:
        self.saved = []
        for label, obj, names in targets:
            d = obj if isinstance(obj, dict) else vars(obj)
            keep = list(d) if names is None else [n for n in names if n in d]
            self.saved.append((label, obj, {n: d[n] for n in keep if n != "_"}, isinstance(obj, type)))

    def changed(self) -> list[str]:
        names = []
        for label, obj, before, is_class in self.saved:
            now = obj if isinstance(obj, dict) else vars(obj)
            for name, value in before.items():
                new = now.get(name, _MISSING)
                if new is value:
                    continue
                if (label, name) in _LIBRARY_PATCHES and getattr(new, "__wrapped__", None) is value:
                    before[name] = new  # torch decorating its own function on first use
                    continue
                names.append(f"{label}.{name}")
                with contextlib.suppress(Exception):
                    if isinstance(obj, dict):
                        obj[name] = value
                    else:
                        setattr(obj, name, value)
            for name in [n for n in now if n not in before and n not in _CACHES] if is_class else []:
                names.append(f"{label}.{name}")
                with contextlib.suppress(Exception):
                    delattr(obj, name)
        return names


_MISSING = object()
_CACHES = {"__slotnames__"}  # what Python adds to a class by itself (copyreg, when pickling)


def _living_others(spare: Iterable[int] = ()) -> list[int]:
    """The processes of this process namespace but init, this one and ``spare`` (a warm
    worker's parent), zombies left out."""
    me, living = os.getpid(), []
    keep = {1, me, *spare}
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in keep:
            with contextlib.suppress(OSError), open(f"/proc/{name}/stat", "rb") as f:
                if f.read().rpartition(b")")[2].split()[0] != b"Z":
                    living.append(int(name))
    return living


# torch wraps these itself, on first use (functools.wraps: the wrapper's __wrapped__ is the
# original): importing torch._dynamo wraps manual_seed; an optimizer's first instance hooks the
# step of its class.
_LIBRARY_PATCHES = {("torch", "manual_seed"), ("torch.optim.Adam", "step"), ("torch.optim.Optimizer", "step")}


class Session:
    """One student notebook in one process: :meth:`run_cell` for each of its cells, then
    :meth:`run_part` for each graded part. Every observation goes to ``emit`` as an event dict.

    ``settings``: ``audit`` (install the audit hook that reports attempts outside the sandbox's
    bounds: it cannot be removed, so in-process test runs leave it off), ``reap`` (stop stray
    processes after each cell and part: only inside the sandbox's own process namespace),
    ``protected`` (paths whose reading is an incident), ``writable`` (folders where writing is
    allowed), ``forbidden`` (top-level packages whose import is an incident), ``threads``.
    """

    def __init__(self, emit: Callable[[dict[str, Any]], None], settings: dict[str, Any]) -> None:
        import torch

        self.emit = emit
        self.settings = settings
        torch.set_num_threads(int(settings.get("threads", 1)))
        self.shell = _shell()
        if not settings.get("fresh_shell"):  # a shell made by a warm worker has never run anything
            self.shell.reset(new_session=False)
        self.shell.showtraceback = lambda *a, **k: None  # errors are reported as events instead
        self.shell.showsyntaxerror = lambda *a, **k: None
        self.shell.displayhook.write_output_prompt = lambda: None
        self.where = "startup"
        self.stray = 0  # processes stopped when a time limit ran out, not yet reported
        self.stopped_at: tuple[str, str] | None = None  # (file, function) running when it ran out
        self.cell_of_file: dict[str, int] = {}  # the file name IPython compiled a cell as -> its index
        import numpy
        import torch.nn.functional
        import torch.optim

        self.watch = _Watch(
            [
                ("builtins", __import__("builtins"), None),
                ("torch", torch, None),
                ("torch.nn", torch.nn, None),
                ("torch.nn.functional", torch.nn.functional, None),
                ("torch.autograd", torch.autograd, None),
                ("torch.optim", torch.optim, None),
                ("torch.special", torch.special, None),
                ("torch.linalg", torch.linalg, None),
                ("torch.Tensor", torch.Tensor, None),
                ("torch._C.TensorBase", torch._C.TensorBase, None),
                ("torch.nn.Module", torch.nn.Module, None),
                ("torch.nn.Linear", torch.nn.Linear, None),
                ("torch.optim.Adam", torch.optim.Adam, None),
                ("torch.optim.Optimizer", torch.optim.Optimizer, None),
                ("numpy", numpy, None),
                ("math", __import__("math"), None),
                ("sys", sys, ("excepthook", "addaudithook", "audit", "settrace", "setprofile", "unraisablehook")),
                ("harness", globals(), None),
                ("harness.Session", Session, None),
                ("shell", self.shell, ("showtraceback", "showsyntaxerror", "run_cell", "run_code", "displayhook")),
            ]
        )
        if settings.get("audit"):
            self._install_audit_hook()

    # ------------------------------------------------------------ incidents

    def incident(self, kind: str, detail: str) -> None:
        self.emit({"event": "incident", "kind": kind, "where": self.where, "detail": detail[:ERROR_KEEP]})

    def _install_audit_hook(self) -> None:
        """Report attempts outside the bounds as they happen (the sandbox refuses them anyway;
        this says who tried what, even when the notebook catches the error quietly)."""
        import socket

        protected = tuple(self.settings.get("protected", ()))
        writable = tuple(self.settings.get("writable", ()))
        forbidden = frozenset(self.settings.get("forbidden", ()))
        realpath, fsdecode = os.path.realpath, os.fsdecode
        write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
        inet = (socket.AF_INET, socket.AF_INET6)
        busy = [False]
        incident = self.incident

        def under(path: str, roots: tuple[str, ...]) -> bool:
            return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)

        def hook(event: str, args: tuple[Any, ...]) -> None:
            if busy[0]:
                return
            busy[0] = True
            try:
                if event == "open" and not isinstance(args[0], int):
                    path = realpath(fsdecode(args[0]))
                    mode, flags = args[1], args[2]
                    writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                        isinstance(flags, int) and flags & write_flags
                    )
                    if under(path, protected):
                        incident("denied-read", path)
                    elif writing and not under(path, writable):
                        incident("denied-write", path)
                elif event in ("os.listdir", "os.scandir", "glob.glob") and args and args[0] not in (None, -1):
                    path = realpath(fsdecode(args[0])) if not isinstance(args[0], int) else ""
                    if path and under(path, protected):
                        incident("denied-read", path)
                elif event in ("socket.connect", "socket.sendto", "socket.bind") and args[0].family in inet:
                    incident("network", f"{event} {args[1]!r}")
                elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex"):
                    incident("network", f"{event} {args[0]!r}")
            except Exception:
                pass
            finally:
                busy[0] = False

        sys.addaudithook(hook)

        class ReportForbidden:
            """First on sys.meta_path: reports an import of the grading package (it is not
            mounted, so the import then fails as usual)."""

            @staticmethod
            def find_spec(name: str, path: Any = None, target: Any = None) -> None:
                if name.partition(".")[0] in forbidden:
                    incident("forbidden-import", name)

        sys.meta_path.insert(0, ReportForbidden)

    def _after(self) -> list[str]:
        """After a cell or a call: replaced functions are put back (and reported), stray
        processes stopped."""
        patched = self.watch.changed()
        if patched:
            self.incident("monkeypatch", ", ".join(sorted(patched)[:12]))
        if self.settings.get("reap"):
            self._reap()
        return patched

    def _reap(self) -> None:
        """Stop every other process of the sandbox (it has its own process namespace: its init
        is 1, and this process the only other one it needs); say how many there were."""
        spare = self.settings.get("spare", ())
        others = max(len(_living_others(spare)), self.stray)
        self.stray = 0
        if not others:
            return
        self._kill_others()
        deadline = time.monotonic() + 2
        while _living_others(spare) and time.monotonic() < deadline:
            self._kill_others()
            with contextlib.suppress(ChildProcessError):
                while os.waitpid(-1, os.WNOHANG)[0]:
                    pass
            time.sleep(0.01)
        self.incident("processes", f"{others} process(es) left running were stopped")

    def _kill_others(self) -> None:
        """SIGKILL every other process of the sandbox. ``kill(-1)`` reaches every process this
        user may signal; a warm worker's parent (``spare``) is spared: it is out of reach when
        this process left root for another user, else each other process is killed by id."""
        spare = self.settings.get("spare", ())
        if not spare or self.settings.get("uid") is not None:
            with contextlib.suppress(OSError):
                os.kill(-1, signal.SIGKILL)
            return
        for pid in _living_others(spare):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    @contextlib.contextmanager
    def _limited(self, seconds: float) -> Iterator[None]:
        """Stop the block after ``seconds``: Stopped is raised in it then, and again at the next
        line of the student's code (a trace function), so an exception swallowed where Python
        only reports it (an at-fork hook, a ``__del__``) does not keep the code going; the
        signal repeats every second too. Code that still runs on (it catches BaseException, or
        silences the signal, or loops in C) is killed by the grader after a grace."""

        def stop(signum: int, frame: Any) -> None:
            if self.settings.get("reap"):  # free the CPU first: processes it started die with it
                self.stray = max(self.stray, len(_living_others(self.settings.get("spare", ()))))
                self._kill_others()
            students = []
            while frame is not None:
                if frame.f_code.co_filename.startswith(_CELL_PREFIX):
                    students.append(frame)
                frame = frame.f_back
            if not students:  # the harness or IPython, not the student's code: let it finish
                return
            if self.stopped_at is None:  # where the time went: the innermost student function
                self.stopped_at = (students[0].f_code.co_filename, students[0].f_code.co_name)
            sys.settrace(_stop_student_code)
            for frame in students:
                frame.f_trace, frame.f_trace_lines = _stop_student_code, True
            raise Stopped()

        self.stopped_at = None
        old = signal.signal(signal.SIGALRM, stop)
        signal.setitimer(signal.ITIMER_REAL, max(float(seconds), 0.001), 1.0)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, old)
            sys.settrace(None)

    def _slow_place(self) -> str:
        """Where a stopped run spent its time: the innermost function of a student's cell
        when the limit ran out."""
        if self.stopped_at is None:
            return ""
        filename, name = self.stopped_at
        cell = self.cell_of_file.get(filename)
        if cell is None:
            return ""
        return f"{'at the top level' if name == '<module>' else f'in {name}'} of cell {cell}"

    # ------------------------------------------------------------ cells

    def run_cell(self, index: int, source: str, seconds: float) -> None:
        """Run one cell with its own time limit; emit its status, error and (bounded) output."""
        self.where = f"cell {index}"
        self.emit({"event": "start", "cell": index})
        compiled = set(linecache.cache)
        capture = _Capture()
        started = time.monotonic()
        error: BaseException | None = None
        try:
            with (
                contextlib.redirect_stdout(capture),
                contextlib.redirect_stderr(capture),
                warnings.catch_warnings(),  # a cell's warning filters end with it
                self._limited(seconds),
            ):
                # no history: IPython would format every error's traceback for it (slow)
                result = self.shell.run_cell(source, store_history=False)
                error = result.error_before_exec or result.error_in_exec
        except Stopped as e:  # the limit ran out in the shell's own code
            error = e
        self.cell_of_file.update(dict.fromkeys(set(linecache.cache) - compiled, index))
        status, text = "ok", None
        if isinstance(error, Stopped):
            status, text = "timeout", self._slow_place()
            self.incident("timeout", f"ran longer than {seconds:g} s {text}".strip())
        elif error is not None:
            status, text = "error", _error_text(error)
            if _is_memory_error(error):
                self.incident("memory", text)
        if capture.total > int(self.settings.get("output_chars", 1 << 20)):
            self.incident("output-limit", f"printed {capture.total} characters")
        self._after()
        self.emit(
            {
                "event": "cell",
                "index": index,
                "status": status,
                "error": text,
                "output": capture.text(),
                "output_chars": capture.total,
                "seconds": time.monotonic() - started,
            }
        )

    def report_names(self) -> None:
        """The functions the notebook defined (for "did you rename it?" hints)."""
        import types

        ns = self.shell.user_ns
        names = [
            k
            for k, v in list(ns.items())
            if isinstance(v, types.FunctionType) and v.__module__ == "__main__" and not k.startswith("_")
        ]
        self.emit({"event": "names", "functions": sorted(names)[:200]})

    # ------------------------------------------------------------ hidden calls

    def run_part(self, part: dict[str, Any]) -> None:
        """Call the student's functions on one part's hidden inputs (``part["calls"]``: test id
        -> calls) within the part's own time limit; emit the outcomes."""
        gid = part["id"]
        self.where = f"part {gid}"
        self.emit({"event": "start", "part": gid})
        started = time.monotonic()
        outcomes: dict[str, list[dict[str, Any]]] = {}
        stopped = ""
        capture = _Capture()
        try:
            with (
                contextlib.redirect_stdout(capture),
                contextlib.redirect_stderr(capture),
                warnings.catch_warnings(),
                self._limited(float(part["seconds"])),
            ):
                warnings.simplefilter("ignore")
                for test_id, calls in part["calls"].items():
                    outcomes[test_id] = []
                    for call in calls:
                        outcomes[test_id].append(self._one(call))
        except Stopped:
            stopped = self._slow_place() or "in the harness"
            self.incident("timeout", f"the hidden tests ran longer than {float(part['seconds']):g} s, {stopped}")
        if capture.total > int(self.settings.get("output_chars", 1 << 20)):
            self.incident("output-limit", f"printed {capture.total} characters")
        self._after()
        self.emit(
            {
                "event": "part",
                "id": gid,
                "outcomes": outcomes,
                "stopped": stopped,
                "seconds": time.monotonic() - started,
            }
        )

    def _one(self, call: dict[str, Any]) -> dict[str, Any]:
        fn = self.shell.user_ns.get(call["fn"])
        if not callable(fn):
            return {"error": f"NameError: {call['fn']} is not defined"}
        try:
            out = self._call(fn, call)
        except Stopped:
            raise
        except BaseException as e:  # the student's code may raise anything (SystemExit too)
            if _is_memory_error(e):
                self.incident("memory", _error_text(e))
            out = {"error": _error_text(e)}
        patched = self.watch.changed()
        if patched:
            self.incident("monkeypatch", ", ".join(sorted(patched)[:12]))
            out = {"error": "monkeypatch", "patched": sorted(patched)[:12]}
        return out

    def _plain(self, value: Any) -> Any:
        """What may travel back to the grader: plain CPU tensors and plain numbers only."""
        import torch

        if type(value) in (torch.Tensor, torch.nn.Parameter):
            if value.layout != torch.strided or value.device.type == "meta":
                raise TypeError(f"returned a {value.layout} tensor on {value.device.type}, expected a dense tensor")
            return torch.Tensor.detach(value).to("cpu", copy=True)
        if isinstance(value, torch.Tensor):
            self.incident("tensor-subclass", type(value).__name__)
            raise TypeError(f"returned a {type(value).__name__} (a tensor subclass), expected a plain torch.Tensor")
        if type(value) in (bool, int, float):
            return value
        raise TypeError(f"returned a {type(value).__name__}, expected a tensor")

    def _call(self, fn: Callable[..., Any], call: dict[str, Any]) -> dict[str, Any]:
        import torch

        mode, extra = call["mode"], call["extra"]
        device = _device(extra.get("device"))
        args, kwargs = _to(_clone(call["args"]), device), _to(_clone(call["kwargs"]), device)
        if mode == "value":
            return {"value": self._plain(fn(*args, **kwargs))}
        if mode == "value_grad":
            args = list(args)
            args[0] = args[0].requires_grad_(True)
            value = fn(*args, **kwargs)
            out: dict[str, Any] = {"value": self._plain(value)}
            if isinstance(value, torch.Tensor) and value.numel() == 1 and value.requires_grad:
                (grad,) = torch.autograd.grad(value.sum(), args[0], allow_unused=True)
                out["grad"] = None if grad is None else self._plain(grad)
            return out
        if mode == "fit_linear":
            model = fit_linear(fn, extra["X"], args, kwargs, extra)
            return {"value": linear_parameters(model)}
        if mode == "module":
            model = fn(*args, **kwargs)
            if not isinstance(model, torch.nn.Module):
                raise TypeError(f"returned a {type(model).__name__}, expected a torch.nn.Module")
            model.eval()
            with torch.no_grad():
                X_eval = extra["X_eval"]
                with contextlib.suppress(StopIteration):
                    X_eval = X_eval.to(next(model.parameters()).device)
                return {"value": self._plain(model(X_eval))}
        raise ValueError(f"unknown mode {mode!r}")


def _clone(x: Any) -> Any:
    """A private copy of an input, so a function that edits its inputs harms no other call."""
    import torch

    if isinstance(x, torch.Tensor):
        return x.detach().clone()
    if isinstance(x, list | tuple):
        return type(x)(_clone(v) for v in x)
    if isinstance(x, dict):
        return {k: _clone(v) for k, v in x.items()}
    return x


def _device(name: str | None) -> Any:
    """``"accelerator"``: CUDA, else MPS, else the CPU (a test checks that the student's
    function follows its inputs to a GPU wherever grading has one)."""
    import torch

    if name is None:
        return None
    if name == "accelerator":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def _to(x: Any, device: Any) -> Any:
    import torch

    if device is None:
        return x
    if isinstance(x, torch.Tensor):
        return x.to(device)
    if isinstance(x, list | tuple):
        return type(x)(_to(v, device) for v in x)
    if isinstance(x, dict):
        return {k: _to(v, device) for k, v in x.items()}
    return x


# ---------------------------------------------------------------- the child's main


def _limit(settings: dict[str, Any]) -> None:
    """Leave root (when the sandbox started as root: only so that the process limit applies),
    then set the resource limits; neither can be undone from here on."""
    import resource

    uid = settings.get("uid")
    if uid is not None and os.getuid() == 0:
        os.setgroups([])
        os.setgid(int(uid))
        os.setuid(int(uid))
    for name, key in (
        ("RLIMIT_DATA", "memory_bytes"),
        ("RLIMIT_NPROC", "processes"),
        ("RLIMIT_CPU", "cpu_seconds"),
        ("RLIMIT_FSIZE", "file_bytes"),
    ):
        value = settings.get(key)
        if value is not None:
            resource.setrlimit(getattr(resource, name), (int(value), int(value)))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_MSGQUEUE, (0, 0))  # no POSIX message queue outlives the child


def _shell() -> Any:
    """The IPython shell that runs the cells (one per process: made once, by a warm worker
    before it forks, or by the child)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False
    return InteractiveShell.instance(config=config)


def main(stream: Any, out: int | None = None, extra: dict[str, Any] | None = None) -> None:
    """The child's entry point (``python -I -c BOOTSTRAP IN OUT``): the bootstrap read this
    source from ``stream`` (file descriptor IN) and calls this; events go to OUT. The first
    frame (JSON) carries the limits and the cells, so they apply before torch is imported.
    A warm worker's child (:func:`serve`) calls it with its own ``out`` and ``extra`` settings."""
    out = int(sys.argv[2]) if out is None else out
    job = read_frame(stream)
    settings = {**job["settings"], **(extra or {})}
    _limit(settings)

    me = os.getpid()

    def emit(event: dict[str, Any]) -> None:
        if os.getpid() != me:  # a process the student's code forked came back into the harness
            os._exit(0)
        write_frame(out, event)

    import torch  # noqa: F401  (imported once, before the student's code and its time limits)

    session = Session(emit, settings)
    emit({"event": "ready"})
    for cell in job["cells"]:
        session.run_cell(cell["index"], cell["source"], cell["seconds"])
    session.report_names()
    session.where = "between parts"
    frame = read_frame(stream)
    for part in (frame or {}).get("parts", []):
        session.run_part(part)
    session.where = "done"
    emit({"event": "done"})
    os._exit(0)  # no interpreter teardown: a student's atexit hook or thread cannot run after this


# ---------------------------------------------------------------- the warm worker


def serve(control: int) -> None:
    """A warm worker (``python -I -c WARM_BOOTSTRAP CONTROL``), in the sandbox: it imports torch
    and the rest once, then forks one child per submission; it never runs a student's code.

    On the control socket (``AF_UNIX``, ``SOCK_SEQPACKET``, one JSON object per message) the
    grader sends ``{"preload", "uid", "wipe", "scope"}`` first; the worker answers
    ``{"ready"}``. Then, for each ``{"spawn"}``: the worker forks a child with three new pipes
    (the grader's frames in, the events out, the child's stdout and stderr), answers
    ``{"child"}`` with the grader's ends of the pipes and a pidfd of the child (to kill it),
    waits for the child, cleans up after it (:func:`_clean`) and answers ``{"ended", "status",
    "clean"}``. Every child starts from this process's memory as it was before the first child:
    nothing one submission does in its process reaches the next."""
    import gc
    import socket

    ctrl = socket.socket(fileno=control)
    first = json.loads(ctrl.recv(1 << 16))
    _prctl(4, 0)  # PR_SET_DUMPABLE 0: a child running as the same user cannot ptrace this process
    _prctl(36, 1)  # PR_SET_CHILD_SUBREAPER: what a child leaves behind is reparented here, and killed
    import importlib

    os.environ["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"  # is_available() without initialising CUDA (fork-safe)
    import torch

    torch.set_num_threads(1)
    for name in ["numpy", "torch.nn.functional", "torch.optim", "torch.special", *first.get("preload", [])]:
        with contextlib.suppress(Exception):  # a module that will not import is the child's to report
            importlib.import_module(name)
    _shell()
    _wipe(first["wipe"])  # what the imports wrote (caches, the shell's profile): the children start empty
    gc.collect()
    gc.freeze()  # the children's collections skip what was here before them (and leave its pages shared)
    # CUDA initialised before a fork does not work in the child: say so, the grader then starts
    # each child afresh instead
    ctrl.send(json.dumps({"ready": os.getpid(), "cuda": bool(torch.cuda.is_initialized())}).encode())
    while True:
        message = ctrl.recv(1 << 16)
        if not message:  # the grader is gone
            os._exit(0)
        if json.loads(message).get("spawn"):
            _spawn(ctrl, first)


def _close_fds_but(*keep: int) -> None:
    for fd in map(int, os.listdir("/proc/self/fd")):
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _prctl(option: int, value: int) -> None:
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _spawn(ctrl: Any, first: dict[str, Any]) -> None:
    """Fork one child for one submission, hand its pipes to the grader, wait, clean up."""
    import socket

    job_r, job_w = os.pipe()
    events_r, events_w = os.pipe()
    stream_r, stream_w = os.pipe()
    me = os.getpid()
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()  # its own session: what it starts is told apart from this process
            os.dup2(stream_w, 1)
            os.dup2(stream_w, 2)
            _close_fds_but(0, 1, 2, job_r, events_w)  # the control socket above all
            main(os.fdopen(job_r, "rb"), events_w, {"spare": [me], "fresh_shell": True})
        finally:
            os._exit(70)
    for fd in (job_r, events_w, stream_w):
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    mine = [job_w, events_r, stream_r, pidfd]
    try:
        socket.send_fds(ctrl, [json.dumps({"child": pid}).encode()], mine)
    finally:
        for fd in mine:
            os.close(fd)
    _, status = os.waitpid(pid, 0)
    clean = _clean(first, pid)
    message = {"ended": pid, "status": os.waitstatus_to_exitcode(status), "clean": clean}
    ctrl.send(json.dumps(message).encode())


def _clean(first: dict[str, Any], child: int) -> bool:
    """After a child: kill every process it left, empty the folders it could write, remove the
    System V IPC objects it made. Inside bubblewrap (``scope`` "namespace") that is every process
    of the sandbox but init and this one; without it ("session"), those of the child's session.
    Where the children ran as another user (``uid``), a helper process of that user does it
    (this process may not signal them or delete their files). True when nothing is left."""
    uid = first.get("uid")
    me = os.getpid()
    if uid is not None and os.getuid() == 0:
        helper = os.fork()
        if helper == 0:
            code = 1
            try:
                _close_fds_but(0, 1, 2)
                os.setgroups([])
                os.setgid(int(uid))
                os.setuid(int(uid))
                for _ in range(200):  # kill(-1): every process of that user in this namespace
                    if not _living_others([me]):
                        break
                    with contextlib.suppress(OSError):
                        os.kill(-1, signal.SIGKILL)
                    time.sleep(0.005)
                _wipe(first["wipe"])
                _remove_ipc()
                code = 0
            finally:
                os._exit(code)
        os.waitpid(helper, 0)
    else:
        for _ in range(200):
            left = _left_by(child, first.get("scope", "namespace"))
            if not left:
                break
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            _reap_zombies()
            time.sleep(0.005)
        _wipe(first["wipe"])
        _remove_ipc()
    _reap_zombies()
    left_files = any(os.listdir(d) for d in first["wipe"] if os.path.isdir(d))
    return not (_left_by(child, first.get("scope", "namespace")) or left_files or _ipc_objects())


def _left_by(child: int, scope: str) -> list[int]:
    """The living processes a child may have left: in the sandbox's namespace every one but
    init and this process; without a namespace, those of the child's session."""
    if scope == "namespace":
        return _living_others()
    left = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            with contextlib.suppress(OSError), open(f"/proc/{name}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
                if fields[0] != b"Z" and int(fields[4]) == child:  # state, ..., session id
                    left.append(int(name))
    return left


def _reap_zombies() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _wipe(folders: list[str]) -> None:
    """Empty each folder (made writable first: a child may have locked its own folders)."""
    import shutil
    import stat

    def unlock(func: Any, path: str, exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            os.chmod(path, stat.S_IRWXU)
            func(path)

    for folder in folders:
        with contextlib.suppress(OSError):
            for entry in os.scandir(folder):
                if entry.is_dir(follow_symlinks=False):
                    with contextlib.suppress(OSError):
                        os.chmod(entry.path, stat.S_IRWXU)
                    shutil.rmtree(entry.path, onerror=unlock)
                else:
                    with contextlib.suppress(OSError):
                        os.unlink(entry.path)


def _ipc_objects() -> list[tuple[str, int]]:
    """The System V shared memory segments, semaphore sets and message queues of this IPC
    namespace (the sandbox has its own): (kind, id)."""
    found = []
    for kind in ("shm", "sem", "msg"):
        with contextlib.suppress(OSError), open(f"/proc/sysvipc/{kind}") as f:
            for line in f.read().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 1:
                    found.append((kind, int(fields[1])))
    return found


def _remove_ipc() -> None:
    """Remove the System V IPC objects this process may remove (IPC_RMID = 0)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for kind, ident in _ipc_objects():
        if kind == "shm":
            libc.shmctl(ident, 0, None)
        elif kind == "sem":
            libc.semctl(ident, 0, 0)
        else:
            libc.msgctl(ident, 0, None)


# The program the child runs first: read this module's source from file descriptor IN, run it,
# call main() with the same stream (the grader's frames follow the source on it).
BOOTSTRAP = (
    "import sys\n"
    "stream = open(int(sys.argv[1]), 'rb')\n"
    "n = int.from_bytes(stream.read(4), 'big')\n"
    "source = stream.read(n).decode('utf-8')\n"
    "namespace = {'__name__': 'lossprep_runner', '__builtins__': __builtins__}\n"
    "exec(compile(source, 'lossprep-runner', 'exec'), namespace)\n"
    "namespace['main'](stream)\n"
)

# The program a warm worker runs: the same, then serve() on the control socket CONTROL.
WARM_BOOTSTRAP = (
    "import sys\n"
    "stream = open(int(sys.argv[1]), 'rb')\n"
    "n = int.from_bytes(stream.read(4), 'big')\n"
    "source = stream.read(n).decode('utf-8')\n"
    "stream.close()\n"
    "namespace = {'__name__': 'lossprep_runner', '__builtins__': __builtins__}\n"
    "exec(compile(source, 'lossprep-runner', 'exec'), namespace)\n"
    "namespace['serve'](int(sys.argv[2]))\n"
)
