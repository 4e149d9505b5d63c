"""Where a student's code runs: a child process, sandboxed with bubblewrap.

This is the one small interface between the grading engine and the student's code:
:meth:`Sandbox.run` starts a child (the program in :mod:`autograder.runner`), sends it the
notebook's cells and the hidden calls, watches it, and returns an :class:`Attempt`: the events
it sent and how it ended (a typed :class:`End`, never a message). The engine decides what they
mean. A pool of warm children (forked after importing torch) can implement the same interface.

:class:`Bubblewrap` (``/usr/bin/bwrap``, Debian's ``bubblewrap``): no network (its own network
namespace), its own process and IPC namespaces, a read-only view of the system, the Python
installation, the virtual environment and the course library ``lossprep/``, and nothing else:
the grading package, the solutions, the gradebook and the other submissions are not mounted.
It writes only to its scratch folders (``/scratch``, ``/tmp``, ``/dev/shm``: in memory, of bounded
size). Limits: memory (``RLIMIT_DATA``: writable private memory, which the address space CUDA
reserves on a GPU machine does not count against), processes (``RLIMIT_NPROC``, under its own
user id), CPU time, file size, wall time per cell and per part (the child stops itself; the grader kills it after
a grace period), and output (the child keeps what a cell prints bounded; the grader kills a
child that floods its standard output). Started as root, the sandbox keeps no capability but
``setuid``/``setgid``, which the child uses once to become an unprivileged user of its own (a
fresh user id per run, :func:`sandbox_uid`) before it reads the student's code.

:class:`Unsandboxed`: the same child without bubblewrap (resource limits only), for a
student's self-check on a machine without a usable bubblewrap, or where an instructor passes
the explicit unsafe option. :func:`find_sandbox` picks one.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder import runner

__all__ = [
    "Limits",
    "End",
    "Attempt",
    "Child",
    "Sandbox",
    "Bubblewrap",
    "Unsandboxed",
    "SandboxUnavailable",
    "find_sandbox",
    "EVENTS",
]

RUNNER_SOURCE = Path(runner.__file__).read_bytes()
EVENTS = frozenset({"ready", "start", "cell", "incident", "names", "part", "done"})
SANDBOX_UIDS = range(1_500_000_000, 1_600_000_000)
"""User ids for sandboxed children started as root: each run takes one at random, so the process
limit (``RLIMIT_NPROC`` counts every process and thread of a user id) is a budget of its own. A
shared id such as ``nobody`` would let a fork bomb in one sandbox starve every other sandbox
running beside it (parallel grading), and a busy neighbour make a harmless submission fail."""


def sandbox_uid() -> int:
    """A fresh, unprivileged user id from :data:`SANDBOX_UIDS` (no account needs to exist)."""
    return SANDBOX_UIDS.start + secrets.randbelow(len(SANDBOX_UIDS))


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Time limits are per cell and per graded part, so a slow
    cell or a slow function costs only its own part."""

    cell_seconds: float = 30.0
    part_seconds: float = 60.0
    startup_seconds: float = 120.0  # the interpreter and torch on a loaded machine
    grace_seconds: float = 5.0  # after a time limit, before the process is killed
    memory_bytes: int = 3 << 30  # writable private memory (RLIMIT_DATA)
    processes: int = 64  # processes and threads of the sandbox's user
    output_chars: int = 1 << 20  # what one cell or part may print
    stream_bytes: int = 8 << 20  # what the process may write to its own stdout/stderr
    file_bytes: int = 64 << 20  # the largest file it may write
    scratch_bytes: int = 256 << 20  # its scratch folder (in memory; /tmp and /dev/shm: a quarter each)

    def cpu_seconds(self, cells: int, parts: int) -> int:
        """A CPU-time cap for the whole child: every cell and part at its limit, plus start-up."""
        return int(self.startup_seconds + cells * self.cell_seconds + parts * self.part_seconds) + 1


class End(enum.Enum):
    """How a child ended."""

    FINISHED = "finished"  # it sent "done"
    EXITED = "exited"  # it ended by itself before that (os._exit, an exit status, ...)
    SIGNALED = "signaled"  # a signal killed it (a segfault, SIGXCPU at the CPU limit, ...)
    TIMEOUT = "timeout"  # the grader killed it: a cell or part ran past its limit and grace
    OUTPUT = "output"  # the grader killed it: it wrote more than Limits.stream_bytes itself
    BROKEN = "broken"  # the grader killed it: it sent something that is not the protocol
    STARTUP = "startup"  # it never became ready (the sandbox or the interpreter did not start)


@dataclass
class Attempt:
    """One run of the child: its events in order, how it ended, what was running then
    (``"cell 3"``, ``"part NAME-test-x"`` or ``None``), the exit status or signal, and the
    first characters it wrote to its own stdout/stderr."""

    events: list[dict[str, Any]]
    end: End
    during: str | None = None
    code: int | None = None
    stream_head: str = ""


class SandboxUnavailable(RuntimeError):
    """Bubblewrap is missing or not permitted here (the message says which and what to do)."""


class Sandbox:
    """Runs the child. Subclasses say how it is started and with which settings."""

    name = "none"
    isolated = False

    def settings(self, limits: Limits, scratch: Path) -> dict[str, Any]:
        """What the child applies to itself (user, resource limits, where it may write)."""
        raise NotImplementedError

    def command(self, scratch: Path, limits: Limits) -> tuple[list[str], dict[str, str] | None, str | None]:
        """The argv up to the interpreter, the environment (``None``: the argv sets it), the cwd."""
        raise NotImplementedError

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()

    def ending(self, status: int) -> tuple[End, int]:
        """A premature exit status as (how it ended, exit code or signal number)."""
        return (End.SIGNALED, -status) if status < 0 else (End.EXITED, status)

    def start(self, scratch: Path, limits: Limits) -> Child:
        """A new child process running :mod:`autograder.runner`, ready for the grader's frames
        (the hook a pool of warm children overrides: ``autograder.warm``)."""
        child_in, to_child = os.pipe()
        from_child, child_out = os.pipe()
        argv, env, cwd = self.command(scratch, limits)
        argv = [*argv, "-I", "-c", runner.BOOTSTRAP, str(child_in), str(child_out)]
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(child_in, child_out),
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        except BaseException:
            for fd in (to_child, from_child):
                os.close(fd)
            raise
        finally:
            os.close(child_in)
            os.close(child_out)
        assert proc.stdout is not None
        return Child(
            to_child=to_child,
            events=from_child,
            stream=proc.stdout,
            kill=lambda: self.kill(proc),
            wait=proc.wait,
            ending=self.ending,
            needs_source=True,
        )

    def run(
        self,
        job: dict[str, Any],
        parts: Callable[[], list[dict[str, Any]]],
        limits: Limits,
        scratch: Path,
    ) -> Attempt:
        """Run ``job`` (``{"cells": [{"index", "source", "seconds"}], "settings": {...}}``),
        then the parts ``parts()`` returns (called once the child is starting, so the grader
        builds the hidden calls while the child imports torch). ``scratch``: a host folder for
        this run (the unsandboxed child works in it; bubblewrap gives the child size-limited
        in-memory folders instead)."""
        (scratch / "tmp").mkdir(parents=True, exist_ok=True)
        settings = {**job.get("settings", {}), **self.settings(limits, scratch)}
        settings["cpu_seconds"] = limits.cpu_seconds(len(job["cells"]), 8)
        first = {"settings": settings, "cells": job["cells"]}
        started = time.monotonic()
        child = self.start(scratch, limits)
        watch = _Watcher(child, limits)
        writer = threading.Thread(
            target=_write_all, args=(child.to_child, first, watch.parts_ready, child.needs_source), daemon=True
        )
        writer.start()
        try:
            try:
                built = parts()
            except BaseException:
                watch.parts_ready.put(None)
                raise
            watch.parts_ready.put(built)
            part_seconds = {p["id"]: float(p["seconds"]) for p in built}
            cell_seconds = {int(c["index"]): float(c["seconds"]) for c in job["cells"]}
            return watch.follow(started, cell_seconds, part_seconds)
        finally:
            child.kill()
            child.wait()
            watch.close()
            writer.join(timeout=5)


@dataclass
class Child:
    """A started child, as the grader holds it: the file descriptors of its two channels (the
    grader writes frames to ``to_child`` and reads events from ``events``), its own stdout and
    stderr (``stream``), and how to kill it, wait for it (``wait(timeout)``: its status, or
    :class:`subprocess.TimeoutExpired`) and read its status (``ending``). ``needs_source``: the
    child still has to be sent the runner's source (a warm worker's child already has it)."""

    to_child: int
    events: int
    stream: Any
    kill: Callable[[], None]
    wait: Callable[..., int]
    ending: Callable[[int], tuple[End, int]]
    needs_source: bool = True


def _write_all(fd: int, first: dict[str, Any], parts_ready: queue.Queue[Any], source: bool = True) -> None:
    """The grader's side of the protocol: the runner's source (``source``), the cells, then
    the parts."""
    try:
        with os.fdopen(fd, "wb", buffering=0) as f:
            if source:
                f.write(len(RUNNER_SOURCE).to_bytes(4, "big") + RUNNER_SOURCE)
            runner.write_frame(f.fileno(), first, tag=b"J")
            parts = parts_ready.get()
            if parts is not None:
                runner.write_frame(f.fileno(), {"parts": parts})
    except OSError:
        pass  # the child is gone; the watcher says how it ended


class _Watcher:
    """Reads the child's events and output on two threads; the caller's thread keeps time."""

    def __init__(self, child: Child, limits: Limits) -> None:
        self.child = child
        self.limits = limits
        self.queue: queue.Queue[tuple[str, Any, float]] = queue.Queue()
        self.parts_ready: queue.Queue[Any] = queue.Queue()
        self.head = bytearray()
        self.events_file = os.fdopen(child.events, "rb")
        self.threads = [
            threading.Thread(target=self._read_events, daemon=True),
            threading.Thread(target=self._read_stream, daemon=True),
        ]
        for t in self.threads:
            t.start()

    def _read_events(self) -> None:
        try:
            while True:
                event = runner.read_frame(self.events_file)
                if event is None:
                    break
                if not (isinstance(event, dict) and event.get("event") in EVENTS):
                    raise ValueError("an unknown event")
                self.queue.put(("event", event, time.monotonic()))
        except Exception as e:  # anything the child sends that is not the protocol
            self.queue.put(("broken", f"{type(e).__name__}: {e}"[:200], time.monotonic()))
        self.queue.put(("eof", None, time.monotonic()))

    def _read_stream(self) -> None:
        total, limit = 0, self.limits.stream_bytes
        while chunk := self.child.stream.read1(1 << 16):
            if len(self.head) < 4000:
                self.head += chunk[: 4000 - len(self.head)]
            total += len(chunk)
            if total > limit:
                self.queue.put(("output", total, time.monotonic()))
                limit = 1 << 62  # say it once; keep draining until the process is gone

    def follow(self, started: float, cell_seconds: dict[int, float], part_seconds: dict[str, float]) -> Attempt:
        """Follow the child until it is done, ends, or overruns a limit (then kill it)."""
        events: list[dict[str, Any]] = []
        grace = self.limits.grace_seconds
        deadline = started + self.limits.startup_seconds
        during: str | None = None
        ready = False

        def stop(end: End) -> Attempt:
            self.child.kill()
            return Attempt(events, end, during, None, self.head.decode("utf-8", "replace"))

        while True:
            try:
                kind, item, at = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return stop(End.TIMEOUT if ready else End.STARTUP)
            if kind == "output":
                return stop(End.OUTPUT)
            if kind == "broken":
                return stop(End.BROKEN)
            if kind == "eof":
                return self._ended(events, during, ready)
            events.append(item)
            name = item["event"]
            if name == "start" and "cell" in item:
                during = f"cell {item['cell']}"
                deadline = at + cell_seconds.get(item["cell"], self.limits.cell_seconds) + grace
            elif name == "start" and "part" in item:
                during = f"part {item['part']}"
                deadline = at + part_seconds.get(item["part"], self.limits.part_seconds) + grace
            elif name in ("ready", "cell", "part", "names"):
                ready = True
                during = None
                deadline = at + grace  # the harness itself, between two cells or parts
            elif name == "done":
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.child.wait(timeout=grace)
                return Attempt(events, End.FINISHED, None, 0, self.head.decode("utf-8", "replace"))

    def _ended(self, events: list[dict[str, Any]], during: str | None, ready: bool) -> Attempt:
        """The child closed its end before it was done: collect its exit status."""
        try:
            status = self.child.wait(timeout=self.limits.grace_seconds)
        except subprocess.TimeoutExpired:
            status = None
        head = self.head.decode("utf-8", "replace")
        if not ready:
            return Attempt(events, End.STARTUP, during, status, head)
        if status is None:
            return Attempt(events, End.EXITED, during, None, head)
        end, code = self.child.ending(status)
        return Attempt(events, end, during, code, head)

    def close(self) -> None:
        for t in self.threads:
            t.join(timeout=5)
        for f in (self.events_file, self.child.stream):
            with contextlib.suppress(Exception):
                f.close()  # type: ignore[union-attr]


def _python_env(home: str, tmp: str) -> dict[str, str]:
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": tmp,
        "IPYTHONDIR": f"{home}/.ipython",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "MPLBACKEND": "Agg",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    for name in ("LOSSPREP_DEVICE", "CUDA_VISIBLE_DEVICES"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


class Bubblewrap(Sandbox):
    """The child in a bubblewrap sandbox (see the module's docstring)."""

    name = "bubblewrap"
    isolated = True

    def __init__(self, bwrap: str) -> None:
        self.bwrap = bwrap
        self.as_root = os.geteuid() == 0

    def settings(self, limits: Limits, scratch: Path) -> dict[str, Any]:
        return {
            "uid": sandbox_uid() if self.as_root else None,
            "memory_bytes": limits.memory_bytes,
            "processes": limits.processes,
            "file_bytes": limits.file_bytes,
            "output_chars": limits.output_chars,
            "writable": ["/scratch", "/tmp", "/dev"],  # /dev: /dev/null, /dev/shm
            "reap": True,
            "audit": True,
        }

    def namespaces(self) -> list[str]:
        """Every namespace. As root, without a user namespace (the child then leaves root for
        an unprivileged user, so that the process limit applies); otherwise in one."""
        common = ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try"]
        if self.as_root:
            return [*common, "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        return ["--unshare-user", "--disable-userns", *common]

    def mounts(self, limits: Limits) -> list[str]:
        """What the sandbox sees: system, Python, venv and lossprep read-only; /scratch, /tmp and
        /dev/shm writable, in memory, each of bounded size (a student cannot fill a disk)."""
        binds: list[tuple[str, str, str]] = [("--ro-bind", "/usr", "/usr")]
        links: list[str] = []
        for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
            if os.path.islink(top):
                links += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                binds.append(("--ro-bind", top, top))
        for path in (
            "/etc/ld.so.cache",
            "/etc/ld.so.conf",
            "/etc/ld.so.conf.d",
            "/etc/localtime",
            "/etc/passwd",
            "/etc/group",
            "/etc/nsswitch.conf",
            "/etc/alternatives",
            "/sys/devices/system/cpu",
        ):
            if os.path.exists(path):
                binds.append(("--ro-bind", path, path))
        import lossprep

        library = str(Path(lossprep.__file__).resolve().parent)
        for path in _unique_roots([sys.base_prefix, sys.prefix, library]):
            if not path.startswith("/usr/"):
                binds.append(("--ro-bind", path, path))
        devices = [("--dev-bind", str(d), str(d)) for d in sorted(Path("/dev").glob("nvidia*"))]  # GPUs, if any
        quarter = limits.scratch_bytes // 4

        def scratch(path: str, size: int) -> list[str]:
            return ["--perms", "01777", "--size", str(size), "--tmpfs", path]

        # The scratch folders first: a course or a virtual environment under /tmp (a clone in a
        # temporary folder) is then bound inside the new /tmp instead of hidden by it.
        args = scratch("/scratch", limits.scratch_bytes) + scratch("/tmp", quarter)
        # bubblewrap creates the missing parents of a mount point as 0700: the unprivileged
        # child must be able to walk through them
        parents = sorted({str(p) for _, _, dest in binds for p in Path(dest).parents if str(p) != "/"}, key=len)
        args += [a for p in parents if p not in ("/scratch", "/tmp") for a in ("--perms", "0755", "--dir", p)]
        args += [a for b in binds for a in b] + links + ["--proc", "/proc", "--dev", "/dev"]
        args += [a for b in devices for a in b]
        return args + scratch("/dev/shm", quarter)  # after /dev, which it lies in

    def command(self, scratch: Path, limits: Limits) -> tuple[list[str], dict[str, str] | None, str | None]:
        argv = [self.bwrap, "--die-with-parent", "--new-session", "--clearenv", *self.namespaces()]
        argv += ["--hostname", "sandbox", *self.mounts(limits), "--chdir", "/scratch"]
        for key, value in _python_env("/scratch", "/tmp").items():
            argv += ["--setenv", key, value]
        return [*argv, sys.executable], None, None

    def ending(self, status: int) -> tuple[End, int]:
        # bubblewrap reports a child killed by signal N as its own exit status 128 + N
        return (End.SIGNALED, status - 128) if status > 128 else super().ending(status)

    def probe(self) -> str | None:
        """``None`` when the sandbox starts here, else why not."""
        argv = [self.bwrap, "--die-with-parent", *self.namespaces(), "--ro-bind", "/", "/", "true"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as e:
            return f"{self.bwrap} does not start ({type(e).__name__})"
        if proc.returncode != 0:
            why = (proc.stderr.strip().splitlines() or ["no reason given"])[-1]
            return f"{self.bwrap} is not permitted here ({why})"
        return None


def _unique_roots(paths: list[str]) -> list[str]:
    """The paths (resolved), leaving out every one that lies inside another."""
    real = sorted({os.path.realpath(p) for p in paths})
    return [p for p in real if not any(p != q and p.startswith(q.rstrip("/") + "/") for q in real)]


class Unsandboxed(Sandbox):
    """The child without isolation: resource limits and a process group only. It can read
    whatever the user running it can, and reach the network."""

    name = "none"
    isolated = False

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def settings(self, limits: Limits, scratch: Path) -> dict[str, Any]:
        import tempfile

        return {
            "uid": None,
            "memory_bytes": limits.memory_bytes,
            "processes": None,  # without a namespace of its own it would count all the user's processes
            "file_bytes": limits.file_bytes,
            "output_chars": limits.output_chars,
            "writable": [str(scratch), tempfile.gettempdir(), "/dev"],
            "reap": False,
            "audit": True,
        }

    def command(self, scratch: Path, limits: Limits) -> tuple[list[str], dict[str, str] | None, str | None]:
        return [sys.executable], _python_env(str(scratch), str(scratch / "tmp")), str(scratch)

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)


@functools.cache
def _bubblewrap() -> tuple[Bubblewrap | None, str]:
    path = os.environ.get("LOSSPREP_BWRAP") or shutil.which("bwrap") or "/usr/bin/bwrap"
    if not os.access(path, os.X_OK):
        return None, f"bubblewrap is not installed ({path} not found; Debian: apt install bubblewrap)"
    sandbox = Bubblewrap(path)
    reason = sandbox.probe()
    return (sandbox, "") if reason is None else (None, reason)


def find_sandbox(*, require: bool) -> Sandbox:
    """Bubblewrap when it works here. Otherwise: with ``require``, :class:`SandboxUnavailable`
    (batch grading runs only isolated unless the instructor says otherwise); without,
    :class:`Unsandboxed` (its ``reason`` says why)."""
    sandbox, reason = _bubblewrap()
    if sandbox is not None:
        return sandbox
    if require:
        raise SandboxUnavailable(reason)
    return Unsandboxed(reason)
