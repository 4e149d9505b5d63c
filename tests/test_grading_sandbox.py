"""The sandbox itself (autograder/sandbox.py, autograder/runner.py), run for real with
bubblewrap: what a submission's code cannot reach (the grading package and its references, the
solutions, the network, anything outside its scratch folder), the limits (processes, memory,
time, output), and how the child's end is reported when it crashes, exits or floods."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
import torch

from autograder import ROOT
from autograder.sandbox import SANDBOX_UIDS, End, Limits, find_sandbox

pytestmark = pytest.mark.slow

SETTINGS = {"protected": [str(ROOT / "autograder"), str(ROOT / "solutions")], "forbidden": ["autograder"]}


def _run(tmp_path: Path, cells: list[str], limits: Limits | None = None, parts=None):  # type: ignore[no-untyped-def]
    sandbox = find_sandbox(require=True)
    seconds = 10 if limits is None else limits.cell_seconds
    job = {"cells": [{"index": i, "source": s, "seconds": seconds} for i, s in enumerate(cells)], "settings": SETTINGS}
    return sandbox.run(job, parts or list, limits or Limits(grace_seconds=3), tmp_path)


def _cells(attempt) -> dict[int, dict[str, Any]]:  # type: ignore[no-untyped-def]
    return {e["index"]: e for e in attempt.events if e["event"] == "cell"}


def _incidents(attempt) -> set[str]:  # type: ignore[no-untyped-def]
    return {e["kind"] for e in attempt.events if e["event"] == "incident"}


def test_the_sandbox_hides_the_grader_and_allows_writing_only_to_scratch(tmp_path: Path) -> None:
    reference = ROOT / "autograder" / "reference" / "medical_loss.py"
    solution = ROOT / "solutions" / "medical_loss" / "medical_loss.ipynb"
    assert reference.is_file() and solution.is_file()
    probe = ROOT / "sandbox-probe.txt"
    attempt = _run(
        tmp_path,
        [
            f"print(open({str(reference)!r}).read()[:50])",
            f"print(open({str(solution)!r}).read()[:50])",
            f"import os\nprint(sorted(os.listdir({str(ROOT)!r})))",
            "import autograder",
            "import importlib\nimportlib.import_module('auto' + 'grader.reference.medical_loss')",
            "import lossprep.data\nprint('lossprep ok')",
            f"open({str(probe)!r}, 'w').write('x')",
            "open('/etc/probe', 'w').write('x')",
            "open('/scratch/mine.txt', 'w').write('mine')\nopen('/tmp/tmp.txt', 'w').write('tmp')\nprint('scratch ok')",
            "with open('/scratch/big', 'wb') as f:\n    for _ in range(40):\n        f.write(bytes(10 << 20))",
        ],
        Limits(scratch_bytes=64 << 20),
    )
    assert attempt.end is End.FINISHED, attempt
    cells = _cells(attempt)
    assert cells[0]["error"].startswith("FileNotFoundError") and cells[1]["error"].startswith("FileNotFoundError")
    assert set(eval(cells[2]["output"])) <= {".venv", "lossprep"}  # the repository: library and venv only
    assert cells[3]["error"].startswith("ModuleNotFoundError") and cells[4]["error"].startswith("ModuleNotFoundError")
    assert cells[5]["output"] == "lossprep ok\n"
    assert cells[6]["error"].startswith(("PermissionError", "OSError")) and not probe.exists()
    assert cells[7]["error"].startswith(("PermissionError", "OSError"))
    assert cells[8]["output"] == "scratch ok\n"
    assert cells[9]["error"].startswith("OSError: [Errno 28]")  # the scratch folder is bounded: no disk to fill
    assert {"denied-read", "forbidden-import", "denied-write"} <= _incidents(attempt)


def test_the_sandbox_has_no_network(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(1.0)
    port = listener.getsockname()[1]
    accepted: list[Any] = []

    def accept() -> None:
        with contextlib.suppress(OSError):
            accepted.append(listener.accept())

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        attempt = _run(
            tmp_path,
            [
                f"import socket\ns = socket.socket()\ns.settimeout(3)\ntry:\n    s.connect(('127.0.0.1', {port}))\n    print('connected')\nexcept OSError as e:\n    print(type(e).__name__)",
                "import socket\ntry:\n    socket.getaddrinfo('pypi.org', 443)\n    print('resolved')\nexcept OSError as e:\n    print(type(e).__name__)",
            ],
        )
    finally:
        thread.join()
        listener.close()
    cells = _cells(attempt)
    assert "connected" not in cells[0]["output"] and not accepted, "the listener outside the sandbox was reached"
    assert "resolved" not in cells[1]["output"]
    assert "network" in _incidents(attempt)


def _sandbox_processes() -> list[str]:
    """Processes left running under a sandbox's user id (each run takes its own, as root)."""
    proc = subprocess.run(["ps", "-e", "-o", "uid=,pid="], capture_output=True, text=True)
    rows = [line.split() for line in proc.stdout.splitlines() if line.strip()]
    return [pid for uid, pid in rows if int(uid) in SANDBOX_UIDS]


def test_a_fork_bomb_meets_the_process_limit_and_is_stopped(tmp_path: Path) -> None:
    limits = Limits(processes=16, cell_seconds=3)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    attempt = _run(tmp_path, [bomb, "print('still here')"], limits)
    assert attempt.end is End.FINISHED, attempt
    cells = _cells(attempt)
    assert cells[0]["status"] == "timeout" and cells[1]["output"] == "still here\n"
    assert {"timeout", "processes"} <= _incidents(attempt)
    if os.geteuid() == 0:  # the sandbox ran under a user id of its own: nothing of it is left
        assert not _sandbox_processes()


@pytest.mark.skipif(os.geteuid() != 0, reason="as a normal user the sandbox has a user namespace of its own anyway")
def test_a_fork_bomb_does_not_starve_a_sandbox_running_beside_it(tmp_path: Path) -> None:
    """The process limit counts per user id: two sandboxes at once (parallel grading) must not
    share one budget, or a fork bomb in one would stop the other from starting a thread."""
    bomb = "import os, time\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        time.sleep(0.01)"
    neighbour = (
        "import threading, time\ntime.sleep(2)\n"
        "ts = [threading.Thread(target=time.sleep, args=(0.2,)) for _ in range(12)]\n"
        "[t.start() for t in ts]\n[t.join() for t in ts]\nprint('twelve threads')"
    )
    results: dict[str, Any] = {}

    def run(name: str, cell: str) -> None:
        (tmp_path / name).mkdir()
        results[name] = _run(tmp_path / name, [cell], Limits(processes=32, cell_seconds=8))

    threads = [threading.Thread(target=run, args=a) for a in (("bomb", bomb), ("neighbour", neighbour))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "processes" in _incidents(results["bomb"])
    assert _cells(results["neighbour"])[0]["output"] == "twelve threads\n", results["neighbour"]
    assert not _sandbox_processes()


def test_memory_bombs_meet_the_address_space_limit(tmp_path: Path) -> None:
    attempt = _run(
        tmp_path,
        [
            "x = bytearray(8 << 30)",
            "import torch\nx = torch.empty(2**36)",
            "grow = []\nwhile True:\n    grow.append(bytearray(256 << 20))",
            "del grow\nprint('after')",
        ],
        Limits(memory_bytes=3 << 30),
    )
    cells = _cells(attempt)
    assert cells[0]["error"].startswith("MemoryError") and cells[2]["error"].startswith("MemoryError")
    assert cells[1]["error"].startswith("RuntimeError") and cells[3]["output"] == "after\n"
    assert [e["kind"] for e in attempt.events if e["event"] == "incident"].count("memory") == 3


def test_output_is_bounded_and_a_flood_is_killed(tmp_path: Path) -> None:
    attempt = _run(tmp_path, ["print('x' * 100_000_000)", "import os\nos.write(1, b'y' * 50_000_000)"])
    cells = _cells(attempt)
    assert len(cells[0]["output"]) <= 2000 and cells[0]["output_chars"] == 100_000_001
    assert "output-limit" in _incidents(attempt)
    assert attempt.end is End.OUTPUT and attempt.during == "cell 1"


@pytest.mark.parametrize(
    ("code", "end", "status"),
    [
        ("import os\nos._exit(3)", End.EXITED, 3),
        ("import ctypes\nctypes.string_at(0)", End.SIGNALED, 11),
        ("import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass", End.TIMEOUT, None),
        (
            "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
            End.TIMEOUT,
            None,
        ),
    ],
    ids=["os._exit", "segfault", "silenced-time-limit", "loop-that-catches-the-stop"],
)
def test_a_child_that_dies_or_hangs_is_reported_with_the_cell_to_blame(
    tmp_path: Path, code: str, end: End, status
) -> None:
    attempt = _run(tmp_path, ["x = 1", code, "print('never')"], Limits(cell_seconds=2, grace_seconds=2))
    assert attempt.end is end and attempt.during == "cell 1" and attempt.code == status


def test_only_plain_tensors_and_numbers_come_back(tmp_path: Path) -> None:
    cells = [
        "import torch\n"
        "class Always(torch.Tensor):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def sub(x):\n"
        "    return x.as_subclass(Always)\n"
        "class Yes:\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def obj(x):\n"
        "    return Yes()\n"
        "def param(x):\n"
        "    return torch.nn.Parameter(x * 2)\n"
        "def number(x):\n"
        "    return 2.5"
    ]

    def parts() -> list[dict[str, Any]]:
        call = {"args": [torch.ones(3)], "kwargs": {}, "mode": "value", "extra": {}}
        return [
            {
                "id": "p",
                "seconds": 10,
                "calls": {f"{f}:t": [{**call, "fn": f}] for f in ("sub", "obj", "param", "number")},
            }
        ]

    attempt = _run(tmp_path, cells, parts=parts)
    [part] = [e for e in attempt.events if e["event"] == "part"]
    out = {k.split(":")[0]: v[0] for k, v in part["outcomes"].items()}
    assert "tensor subclass" in out["sub"]["error"] and "returned a Yes" in out["obj"]["error"]
    assert type(out["param"]["value"]) is torch.Tensor and torch.equal(out["param"]["value"], torch.full((3,), 2.0))
    assert out["number"]["value"] == 2.5
    assert "tensor-subclass" in _incidents(attempt)
