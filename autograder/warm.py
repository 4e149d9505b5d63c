"""Warm workers: sandboxed children forked from a process that imported torch once.

A cold child (:class:`autograder.sandbox.Sandbox`) starts an interpreter and imports torch,
IPython and the course library for every submission: about two seconds before the first cell,
more when a cell's first optimizer step imports ``torch._dynamo``. :class:`Warm` is the same
:class:`~autograder.sandbox.Sandbox` (the engine runs it unchanged) whose children come from a
*warm worker*: one process in the same sandbox (bubblewrap: the same mounts, namespaces and
scratch folders) that has imported all of that, never runs a student's code, and forks one child
per run (``autograder.runner.serve``). The child applies the same limits, becomes the same
unprivileged user and runs the same harness as a cold child; its grader's channels are new pipes,
handed over on the worker's control socket with a pidfd to kill it.

Nothing leaks from one submission into the next:

- memory: each child is a fresh fork of the worker as it was before its first child (a global
  set or a torch function patched by one submission exists only in that child's copy);
- processes: after each child the worker kills every process of the sandbox but init and itself
  (as the children's user, where they ran as another one);
- files: it empties the folders a child could write (``/scratch``, ``/tmp``, ``/dev/shm``);
- System V IPC objects are removed; POSIX message queues cannot be made (``RLIMIT_MSGQUEUE`` 0);
- the worker itself is out of reach: not dumpable (no ptrace, no ``/proc/PID/mem``), and, when
  grading runs as root, of another user than the children.

A worker that reports anything left over, does not answer, or whose child had to be killed is
stopped; the next run starts a fresh one (:attr:`Warm.started` counts them).
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import functools
import io
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

from autograder import runner
from autograder.sandbox import RUNNER_SOURCE, Bubblewrap, Child, Limits, Sandbox, sandbox_uid

__all__ = ["Warm", "preload"]

ANSWER_SECONDS = 30.0  # how long the worker may take to clean up after a child and answer


@functools.cache
def preload() -> tuple[str, ...]:
    """What a warm worker imports before its first child: every module the locked cells of the
    assignments import (``lossprep.data``, ...), and ``torch._dynamo``, which torch.optim's first
    optimizer step imports (seconds, in every notebook that trains with an optimizer)."""
    from autograder import assignment

    found = {"torch._dynamo"}
    for name in assignment.names():
        for cell in assignment.cells(name).locked.values():  # not load(): no torch before the worker starts
            if not cell.runs:
                continue
            with contextlib.suppress(SyntaxError):
                for node in ast.walk(ast.parse(cell.released)):
                    if isinstance(node, ast.Import):
                        found |= {a.name for a in node.names}
                    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                        found.add(node.module)
    return tuple(sorted(found))


_LIVE: set[_Worker] = set()  # every worker still running, stopped when this process exits


@atexit.register
def _stop_all() -> None:
    for worker in list(_LIVE):
        worker.stop()


class _Worker:
    """One warm worker process and its control socket."""

    def __init__(self, sandbox: Warm, limits: Limits, *, wait: bool = True) -> None:
        base = sandbox.base
        ctrl, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        source_r, source_w = os.pipe()
        argv, env, cwd = base.command(sandbox.home, limits)
        argv = [*argv, "-I", "-c", runner.WARM_BOOTSTRAP, str(source_r), str(theirs.fileno())]
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(source_r, theirs.fileno()),
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except BaseException:
            ctrl.close()
            os.close(source_w)
            raise
        finally:
            os.close(source_r)
            theirs.close()
        self.ctrl = ctrl
        _LIVE.add(self)
        self.head = bytearray()
        self.drain = threading.Thread(target=self._drain, daemon=True)
        self.drain.start()
        with os.fdopen(source_w, "wb") as f, contextlib.suppress(OSError):
            f.write(len(RUNNER_SOURCE).to_bytes(4, "big") + RUNNER_SOURCE)
        first = {
            "preload": list(sandbox.preload),
            "uid": sandbox.settings(limits, sandbox.home).get("uid"),
            "wipe": sandbox.wipe,
            "scope": "namespace" if isinstance(base, Bubblewrap) else "session",
        }
        self.ready = self.cuda = False
        self.answered = False  # whether the worker's first answer (ready or not) was read
        try:
            self.ctrl.send(json.dumps(first).encode())
        except OSError:
            self.answered = True
            return
        if wait:
            self.wait_ready(limits.startup_seconds)

    def wait_ready(self, seconds: float) -> bool:
        """Wait for the worker's first answer (once); whether it is ready for children."""
        if not self.answered:
            self.answered = True
            try:
                answer = self._answer(seconds)
                self.ready, self.cuda = "ready" in answer, bool(answer.get("cuda"))
            except (OSError, TimeoutError, ValueError):
                self.ready = False
        return self.ready

    def _drain(self) -> None:
        assert self.proc.stdout is not None
        with contextlib.suppress(OSError, ValueError):
            while chunk := self.proc.stdout.read1(1 << 16):
                if len(self.head) < 4000:
                    self.head += chunk[: 4000 - len(self.head)]

    def _answer(self, seconds: float, fds: int = 0) -> dict[str, Any]:
        """The worker's next message (``fds``: with up to that many file descriptors, in
        ``"fds"``); TimeoutError when it does not answer in time, ValueError when it is gone."""
        self.ctrl.settimeout(seconds)
        try:
            if fds:
                data, received, _, _ = socket.recv_fds(self.ctrl, 1 << 16, fds)
            else:
                data, received = self.ctrl.recv(1 << 16), []
        except TimeoutError:
            raise
        except OSError as e:
            raise ValueError(f"the warm worker's channel broke ({e})") from None
        if not data:
            for fd in received:
                os.close(fd)
            raise ValueError("the warm worker ended")
        message = json.loads(data)
        if fds:
            message["fds"] = received
        return message

    def spawn(self) -> tuple[int, list[int]]:
        """A new child: its process id (in the sandbox) and the grader's four descriptors."""
        self.ctrl.send(b'{"spawn": 1}')
        message = self._answer(ANSWER_SECONDS, fds=4)
        fds = message.pop("fds")
        if "child" not in message or len(fds) != 4:
            for fd in fds:
                os.close(fd)
            raise ValueError("the warm worker did not hand over a child")
        return int(message["child"]), fds

    def stop(self) -> None:
        _LIVE.discard(self)
        with contextlib.suppress(OSError):
            self.ctrl.close()
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            self.proc.kill()
        self.proc.wait()
        self.drain.join(timeout=5)
        with contextlib.suppress(Exception):
            self.proc.stdout.close()  # type: ignore[union-attr]


class Warm(Sandbox):
    """A :class:`Sandbox` whose children are forked from a warm worker in the sandbox of
    ``base`` (:class:`~autograder.sandbox.Bubblewrap` or, unsafely,
    :class:`~autograder.sandbox.Unsandboxed`). Same name, isolation and settings as ``base``;
    one run at a time; :meth:`close` stops the worker (a later run starts another)."""

    def __init__(self, base: Sandbox, modules: tuple[str, ...] | None = None) -> None:
        self.base = base
        self.name = base.name
        self.isolated = base.isolated
        if hasattr(base, "reason"):
            self.reason = base.reason
        self.preload = preload() if modules is None else modules
        self._home = None if isinstance(base, Bubblewrap) else tempfile.TemporaryDirectory(prefix="lossprep-warm-")
        self.home = Path(self._home.name) if self._home is not None else Path("/scratch")
        self.wipe = ["/scratch", "/tmp", "/dev/shm"] if isinstance(base, Bubblewrap) else [str(self.home)]
        # One user id for this worker's children (a base that draws one per run, as root, would
        # give each child another: the worker's clean-up, run as that id, must reach them all);
        # another Warm, another id, so that one process limit is not shared by two workers.
        self.uid = sandbox_uid()
        self.started = 0  # warm workers started so far
        self.cold = False  # True once a worker initialised CUDA before forking: children start afresh
        self._worker: _Worker | None = None
        self._lock = threading.Lock()

    def settings(self, limits: Limits, scratch: Path) -> dict[str, Any]:
        settings = self.base.settings(limits, self.home)
        if settings.get("uid") is not None:
            settings["uid"] = self.uid
        return settings

    def command(self, scratch: Path, limits: Limits) -> tuple[list[str], dict[str, str] | None, str | None]:
        return self.base.command(self.home, limits)

    def run(self, job, parts, limits, scratch):  # type: ignore[no-untyped-def]
        with self._lock:
            return super().run(job, parts, limits, scratch)

    def prestart(self, limits: Limits | None = None) -> None:
        """Start the warm worker now, without waiting for it: it imports torch while this
        process does something else; the first run waits for it to be ready."""
        with self._lock, contextlib.suppress(OSError):  # it cannot start: the first run says why
            if self._worker is None and not self.cold:
                self._worker = _Worker(self, limits or Limits(), wait=False)
                self.started += 1

    def start(self, scratch: Path, limits: Limits) -> Child:
        if self.cold:
            return self.base.start(scratch, limits)
        for _ in range(2):  # a worker that died since the last run is replaced once
            if self._worker is None:
                try:
                    self._worker = _Worker(self, limits, wait=False)
                except OSError as e:  # bubblewrap itself would not run
                    return self._failed(str(e), "the warm worker did not start")
                self.started += 1
            if not self._worker.answered:  # a new worker, or one started ahead: its first answer
                if not self._worker.wait_ready(limits.startup_seconds):
                    return self._failed(self._retire(), "the warm worker did not start")
                if self._worker.cuda:  # its children could not use the GPU: cold children from now on
                    self._retire()
                    self.cold = True
                    return self.base.start(scratch, limits)
            elif not self._worker.ready:  # its start failed before it could answer
                return self._failed(self._retire(), "the warm worker did not start")
            try:
                pid, (to_child, events, stream, pidfd) = self._worker.spawn()
            except (OSError, TimeoutError, ValueError):
                self._retire()
                continue
            return self._child(pid, to_child, events, stream, pidfd)
        return self._failed("", "the warm worker did not start a child")

    def _child(self, pid: int, to_child: int, events: int, stream: int, pidfd: int) -> Child:
        worker = self._worker
        assert worker is not None
        state: dict[str, Any] = {"status": None}

        def kill() -> None:
            if state["status"] is None:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)

        def wait(timeout: float | None = None) -> int:
            if state["status"] is not None:
                return int(state["status"])
            try:
                message = worker._answer(ANSWER_SECONDS if timeout is None else timeout)
            except TimeoutError:
                if timeout is not None:
                    raise subprocess.TimeoutExpired("warm child", timeout) from None
                message = {}
            except ValueError:
                message = {}
            with contextlib.suppress(OSError):
                os.close(pidfd)
            if message.get("ended") != pid:  # no answer, or not the expected one: retire it
                self._retire(worker)
                state["status"] = -signal.SIGKILL
            else:
                state["status"] = int(message["status"])
                if not message.get("clean"):  # something of the child is left: start afresh
                    self._retire(worker)
            return int(state["status"])

        return Child(
            to_child=to_child,
            events=events,
            stream=os.fdopen(stream, "rb"),
            kill=kill,
            wait=wait,
            ending=self.ending,
            needs_source=False,
        )

    def _failed(self, head: str, why: str) -> Child:
        """A child that never starts: the engine reports the sandbox's start-up failure."""
        r, w = os.pipe()
        os.close(w)
        devnull = os.open(os.devnull, os.O_WRONLY)
        return Child(
            to_child=devnull,
            events=r,
            stream=io.BytesIO(f"{why}: {head.strip()[-300:] or 'no output'}".encode()),
            kill=lambda: None,
            wait=lambda timeout=None: 1,
            ending=self.ending,
            needs_source=False,
        )

    def _retire(self, worker: _Worker | None = None) -> str:
        """Stop the worker (``worker``: only if it is still the current one); its output's head."""
        worker = worker or self._worker
        if worker is None:
            return ""
        if worker is self._worker:
            self._worker = None
        worker.stop()
        return worker.head.decode("utf-8", "replace")

    def close(self) -> None:
        """Stop the warm worker (the next run starts a new one)."""
        with self._lock:
            self._retire()
