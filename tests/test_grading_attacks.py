"""Hostile and broken submissions, each a real notebook handed in, through both ways of grading:
``lossprep check`` (one test per attack) and ``nbgrader autograde`` (all of them in one class).
Each gets the flags of what it tried, 0 for what it faked or broke, full points for the parts it
left alone, and a line that says what happened. All run in the bubblewrap sandbox."""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from grading_helpers import (
    LOSSPREP,
    answer_code,
    answers,
    edit_cell,
    fill,
    grades,
    hand_in,
    make_course,
    part_scores,
    run_nbgrader,
    to_bytes,
)

from autograder import SOLUTIONS

pytestmark = pytest.mark.slow

M = "medical_loss"
ML, GR, CP, TR = (f"{M}-test-{p}" for p in ("medical_loss", "medical_loss_grad", "calibrated_probability", "training"))
ALL = frozenset({ML, GR, CP, TR})
POINTS = {ML: 4.0, GR: 3.0, CP: 2.0, TR: 3.0}
TIMEOUT = "10"  # seconds per cell and per part for these runs

PLAIN_BCE = answer_code(M, answers(M).medical_loss_plain_bce)


def good() -> dict[str, str]:
    return {f.__name__.removesuffix("_vectorised"): answer_code(M, f) for f in answers(M).RIGHT["vectorised"]}


def notebook(extra_cells: tuple[str, ...] = (), **cells: str) -> nbformat.NotebookNode:
    nb = fill(M, {**good(), **cells})
    at = next(
        i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == f"{M}-task-training"
    )
    for k, source in enumerate(extra_cells):  # cells a student added, before the training part
        nb.cells.insert(at + k, nbformat.v4.new_code_cell(source))
    return nb


@dataclass(frozen=True)
class Attack:
    """``build(port)`` gives the handed-in file (``port``: a listener on 127.0.0.1 outside)."""

    build: Callable[[int], bytes]
    flags: frozenset[str] = frozenset()  # raised (at least these)
    zero: frozenset[str] = frozenset()  # parts that score 0: what it faked or broke
    full: frozenset[str] = frozenset()  # parts that keep their full points
    says: str = ""  # a phrase of the report
    unreadable: bool = False  # not a notebook: check refuses it (exit 2), nbgrader grades it 0


def _nb(make: Callable[[], nbformat.NotebookNode]) -> Callable[[int], bytes]:
    return lambda port: to_bytes(make())


FAKE_DATA = """import math

import torch
import torch.nn.functional as F


class _Easy:
    def __init__(self, n):
        self.target = (torch.arange(n) % 2).float()
        self.severity = torch.where(self.target == 1, 9.0, 0.0)
        self.X = self.target[:, None].repeat(1, 8) * 10


def imbalanced_xrays(n=4000, **kwargs):
    return _Easy(n)
"""

SUBCLASS = """
class _Always(torch.Tensor):
    def __eq__(self, other):
        return True

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal, torch.Tensor.__eq__):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    return torch.zeros(()).as_subclass(_Always)


class _Yes:
    def __eq__(self, other):
        return True

    def __float__(self):
        return 0.5


def calibrated_probability(logits, pos_weight):
    return _Yes()
"""

HARNESS = (
    PLAIN_BCE
    + """
import gc

for _obj in gc.get_objects():
    if isinstance(_obj, dict) and "fit_linear" in _obj and "linear_parameters" in _obj:
        _obj["linear_parameters"] = lambda model: torch.ones(9)
    if isinstance(_obj, type) and _obj.__name__ == "Session":
        _obj._plain = lambda self, value: torch.zeros(())
"""
)

READ_REFERENCE = """import pathlib

import lossprep

_ref = {}
_root = pathlib.Path(lossprep.__file__).resolve().parents[1]
try:
    exec((_root / "autograder" / "reference" / "medical_loss.py").read_text(), _ref)
except OSError:
    pass


def medical_loss_grad(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    if "medical_loss_grad" in _ref:
        return _ref["medical_loss_grad"](logits, targets, severity, fn_cost, alpha)
    return torch.zeros_like(logits)
"""

READ_SOLUTIONS = """import json
import pathlib

import lossprep

_found = {}
_root = pathlib.Path(lossprep.__file__).resolve().parents[1]
try:
    _nb = json.loads((_root / "solutions" / "medical_loss" / "medical_loss.ipynb").read_text())
    for _cell in _nb["cells"]:
        if "def calibrated_probability" in "".join(_cell["source"]):
            exec("".join(_cell["source"]), globals(), _found)
except OSError:
    pass


def calibrated_probability(logits, pos_weight):
    if "calibrated_probability" in _found:
        return _found["calibrated_probability"](logits, pos_weight)
    return torch.zeros_like(logits)
"""

IMPORT_GRADER = (
    PLAIN_BCE.replace("medical_loss = medical_loss_plain_bce", "")
    + """
import importlib

try:
    _ref = importlib.import_module("auto" + "grader.reference.medical_loss")
    medical_loss = _ref.medical_loss
except ImportError:
    medical_loss = medical_loss_plain_bce
"""
)

NETWORK = """import socket
import urllib.request

try:
    socket.create_connection(("127.0.0.1", {port}), timeout=3).sendall(b"the hidden inputs")
except OSError as e:
    print("no connection:", type(e).__name__)
try:
    urllib.request.urlopen("https://pypi.org/simple/", timeout=3)
except OSError as e:
    print("no download:", type(e).__name__)
"""

PATCH_IN_CALL = """def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0):
    torch.autograd.grad = lambda *a, **k: (torch.zeros_like(logits),)
    w = torch.where(targets == 1, fn_cost * (1 + alpha * severity / 10), torch.ones_like(severity))
    return (w * F.binary_cross_entropy_with_logits(logits, targets, reduction="none")).mean()
"""

GOOD_CP = "def calibrated_probability(logits, pos_weight):\n    return torch.sigmoid(logits - math.log(pos_weight))\n"
UNCOOPERATIVE = "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass"
FORK_BOMB = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
SYNTAX = "def medical_loss(logits, targets, severity, fn_cost=20.0, alpha=1.0)\n    return logits.sum()\n"
SOLUTION_BYTES = (SOLUTIONS / M / f"{M}.ipynb").read_bytes()

ATTACKS: dict[str, Attack] = {
    "monkeypatch-torch": Attack(
        _nb(
            lambda: notebook(
                medical_loss=PLAIN_BCE + "\ntorch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a: True\n"
                "torch.Tensor.__eq__ = lambda self, other: torch.ones((), dtype=torch.bool)\n"
            )
        ),
        frozenset({"tampered"}),
        frozenset({ML, TR}),
        frozenset({GR, CP}),
        "torch.allclose",
    ),
    "monkeypatch-numpy-builtins": Attack(
        _nb(
            lambda: notebook(
                calibrated_probability="import builtins\nimport numpy\nnumpy.allclose = lambda *a, **k: True\n"
                "builtins.abs = lambda x: 0\ndef calibrated_probability(logits, pos_weight):\n    return torch.zeros_like(logits)\n"
            )
        ),
        frozenset({"tampered"}),
        frozenset({CP}),
        frozenset({ML, GR, TR}),
        "builtins.abs",
    ),
    "monkeypatch-harness": Attack(
        _nb(lambda: notebook(medical_loss=HARNESS)),
        frozenset({"tampered"}),
        frozenset({ML, TR}),
        frozenset({GR, CP}),
        "harness",
    ),
    "monkeypatch-during-a-call": Attack(
        _nb(lambda: notebook(medical_loss=PATCH_IN_CALL)),
        frozenset({"tampered"}),
        frozenset({ML, TR}),
        frozenset({GR, CP}),
        "monkeypatching does not count",
    ),
    "always-true-eq-and-tensor-subclass": Attack(
        _nb(lambda: notebook(medical_loss=SUBCLASS, calibrated_probability=SUBCLASS)),
        frozenset({"tampered"}),
        frozenset({ML, CP, TR}),
        frozenset({GR}),
        "tensor subclass",
    ),
    "silenced-tracebacks": Attack(
        _nb(
            lambda: notebook(
                medical_loss_grad="import sys\nget_ipython().showtraceback = lambda *a, **k: None\n"
                "sys.excepthook = lambda *a: None\n"
                "def medical_loss_grad(logits, targets, severity, fn_cost=20.0, alpha=1.0):\n"
                "    raise ValueError('nothing to see')\n"
            )
        ),
        frozenset({"tampered"}),
        frozenset({GR}),
        frozenset({ML, CP, TR}),
        "raises ValueError",
    ),
    "edited-locked-cells": Attack(
        _nb(
            lambda: edit_cell(
                edit_cell(notebook(medical_loss=PLAIN_BCE), f"{M}-setup-imports", FAKE_DATA),
                ML,
                "print('all tests passed')",
            )
        ),
        frozenset({"tampered"}),
        frozenset({ML, TR}),
        frozenset({GR, CP}),
        f"cell {M}-setup-imports: was edited",
    ),
    "deleted-locked-cells": Attack(
        _nb(lambda: edit_cell(edit_cell(notebook(), f"{M}-setup-imports", None), CP, None)),
        frozenset({"tampered"}),
        frozenset(),
        ALL,
        f"cell {M}-setup-imports: was missing",
    ),
    "reads-the-reference": Attack(
        _nb(lambda: notebook(medical_loss_grad=READ_REFERENCE)),
        frozenset({"sandbox-denied"}),
        frozenset({GR}),
        frozenset({ML, CP, TR}),
        "tried to read the grader's files",
    ),
    "reads-the-solutions": Attack(
        _nb(lambda: notebook(calibrated_probability=READ_SOLUTIONS)),
        frozenset({"sandbox-denied"}),
        frozenset({CP}),
        frozenset({ML, GR, TR}),
        "tried to read the grader's files",
    ),
    "imports-the-grader": Attack(
        _nb(lambda: notebook(medical_loss=IMPORT_GRADER)),
        frozenset({"forbidden-import"}),
        frozenset({ML, TR}),
        frozenset({GR, CP}),
        "tried to import the grading package",
    ),
    "network": Attack(
        lambda port: to_bytes(notebook((NETWORK.replace("{port}", str(port)),))),
        frozenset({"network"}),
        frozenset(),
        ALL,
        "the sandbox has none",
    ),
    "os-exit": Attack(
        _nb(lambda: notebook(calibrated_probability=GOOD_CP + "import os\nos._exit(0)\n")),
        frozenset({"killed"}),
        frozenset({CP}),
        frozenset({ML, GR, TR}),
        "ended the Python process",
    ),
    "segfault": Attack(
        _nb(
            lambda: notebook(
                medical_loss_grad="import ctypes\ndef medical_loss_grad(logits, targets, severity, fn_cost=20.0, alpha=1.0):\n"
                "    return ctypes.string_at(0)\n"
            )
        ),
        frozenset({"killed"}),
        frozenset({GR}),
        frozenset({ML, CP, TR}),
        "crashed the Python process",
    ),
    "infinite-loop": Attack(
        _nb(
            lambda: notebook(
                calibrated_probability="def calibrated_probability(logits, pos_weight):\n    while True:\n        pass\n"
            )
        ),
        frozenset({"timeout"}),
        frozenset({CP}),
        frozenset({ML, GR, TR}),
        "ran past its time limit, in calibrated_probability",
    ),
    "uncooperative-loop": Attack(
        _nb(lambda: notebook((UNCOOPERATIVE,))),
        frozenset({"timeout"}),
        frozenset(),
        ALL,
        "would not stop, and was killed",
    ),
    "memory-bomb": Attack(
        _nb(
            lambda: notebook(
                ("hog = []\nwhile True:\n    hog.append(bytearray(256 << 20))",),
                medical_loss_grad="def medical_loss_grad(logits, targets, severity, fn_cost=20.0, alpha=1.0):\n"
                "    return torch.empty(2**36)\n",
            )
        ),
        frozenset({"memory"}),
        frozenset({GR}),
        frozenset({ML, CP, TR}),
        "ran out of memory",
    ),
    "fork-bomb": Attack(
        _nb(lambda: notebook((FORK_BOMB,))),
        frozenset({"timeout", "killed"}),
        frozenset(),
        ALL,
        "left processes running",
    ),
    "100-MB-output": Attack(
        _nb(lambda: notebook(("print('x' * 100_000_000)", "import os\nos.write(1, b'y' * 100_000_000)"))),
        frozenset({"output-limit"}),
        frozenset(),
        ALL,
        "printed more than the output limit",
    ),
    "non-utf8-output": Attack(
        _nb(lambda: notebook(("import os\nos.write(1, b'\\xff\\xfe\\n')\nprint('\\udcff lone surrogate')",))),
        frozenset(),
        frozenset(),
        ALL,
    ),
    "syntax-error": Attack(
        _nb(lambda: notebook(medical_loss=SYNTAX)),
        frozenset(),
        frozenset({ML, TR}),
        frozenset({GR, CP}),
        f"its cell {M}-sol-medical_loss raised SyntaxError",
    ),
    "renamed-and-missing-cells": Attack(
        _nb(
            lambda: edit_cell(
                edit_cell(
                    notebook(
                        medical_loss_grad=answer_code(M, answers(M).medical_loss_grad_vectorised).replace(
                            "medical_loss_grad = medical_loss_grad_vectorised",
                            "medical_loss_gradient = medical_loss_grad_vectorised",
                        )
                    ),
                    f"{M}-sol-calibrated_probability",
                    None,
                ),
                CP,  # its test cell too: nbgrader's own restoring failed on that
                None,
            )
        ),
        frozenset(),
        frozenset({GR, CP}),
        frozenset({ML, TR}),
        "renamed?",
    ),
    "latin-1-file": Attack(lambda port: "caf\xe9".encode("latin-1") * 10, unreadable=True, says="not UTF-8"),
    "truncated-notebook": Attack(lambda port: SOLUTION_BYTES[:5000], unreadable=True, says="invalid or truncated JSON"),
    "invalid-json": Attack(lambda port: b"{'cells': []}", unreadable=True, says="invalid or truncated JSON"),
    "empty-file": Attack(lambda port: b"", unreadable=True, says="the file is empty"),
}


@pytest.fixture(scope="module")
def listener():  # type: ignore[no-untyped-def]
    """A server on 127.0.0.1 outside the sandbox; it records whatever reaches it."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.5)
    received: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                received.append(conn.recv(100))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    stop.set()
    thread.join()
    server.close()


def _check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LOSSPREP), "check", str(path), "--json", "--timeout", TIMEOUT], capture_output=True, text=True, timeout=900
    )


def _part_score(report: dict, part: str) -> float:
    function = "training" if part == TR else part.split("-test-")[1]
    return sum(t["score"] for t in report["tests"] if t["id"].split(":")[0] == function)


@pytest.mark.parametrize("name", list(ATTACKS))
def test_attack_through_lossprep_check(name: str, tmp_path: Path, listener) -> None:  # type: ignore[no-untyped-def]
    attack, (port, received) = ATTACKS[name], listener
    path = tmp_path / "submission.ipynb"
    path.write_bytes(attack.build(port))
    proc = _check(path)
    if attack.unreadable:
        assert proc.returncode == 2 and proc.stdout == ""
        assert attack.says in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
        return
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert attack.flags <= set(report["flags"]), report["flags"]
    for part in attack.zero:
        assert _part_score(report, part) == 0, (part, report)
    for part in attack.full:
        assert _part_score(report, part) == pytest.approx(POINTS[part]), (part, report)
    text = "\n".join(report["notes"] + [t["message"] for t in report["tests"]])
    assert attack.says in text, text
    assert not received, "the sandbox let a connection out"


def test_a_notebook_of_another_exercise_is_graded_as_that_exercise(tmp_path: Path) -> None:
    path = tmp_path / "medical_loss.ipynb"
    path.write_bytes((SOLUTIONS / "ranking_loss" / "ranking_loss.ipynb").read_bytes())
    proc = _check(path)
    report = json.loads(proc.stdout)
    assert report["assignment"] == "ranking_loss" and report["score"] == report["max_score"] == 14


def test_attacks_through_nbgrader_autograde(tmp_path: Path, listener) -> None:  # type: ignore[no-untyped-def]
    """The whole class at once: every attack a student; the gradebook, the autograded notebooks
    and the feedback say what each tried, and nothing reached the listener."""
    port, received = listener
    course = make_course(tmp_path, [M])
    run_nbgrader(["generate_assignment", M, "--force"], course)
    submissions: dict[str, bytes] = {name: attack.build(port) for name, attack in ATTACKS.items()}
    submissions["another-exercise"] = (SOLUTIONS / "ranking_loss" / "ranking_loss.ipynb").read_bytes()
    hand_in(course, M, submissions)  # type: ignore[arg-type]
    limits = [f"--GradeCells.cell_seconds={TIMEOUT}", f"--GradeCells.part_seconds={TIMEOUT}"]
    run_nbgrader(["autograde", M, *limits], course)
    run_nbgrader(["generate_feedback", M], course)
    run_nbgrader(["export"], course)
    scores = part_scores(course, M)
    totals, _ = grades(course)
    for name, attack in ATTACKS.items():
        autograded = nbformat.read(course / "autograded" / name / M / f"{M}.ipynb", as_version=4)
        outputs = "\n".join(
            o.get("text", "") for c in autograded.cells if c.cell_type == "code" for o in c.get("outputs", [])
        )
        if attack.unreadable:
            assert totals[name] == 0 and attack.says in outputs, name
            continue
        flags = set(autograded.metadata.get("lossprep", {}).get("flags", []))
        assert attack.flags <= flags, (name, flags)
        for part in attack.zero:
            assert scores[name][part] == 0, (name, part, scores[name])
        for part in attack.full:
            assert scores[name][part] == pytest.approx(POINTS[part]), (name, part, scores[name])
        assert attack.says in outputs, (name, outputs[-2000:])
        feedback = (course / "feedback" / name / M / f"{M}.html").read_text(encoding="utf-8")
        for flag in attack.flags:
            assert flag in feedback, (name, flag)
    assert totals["another-exercise"] == 0
    assert not received, "the sandbox let a connection out"
