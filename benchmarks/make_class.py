"""Generate a class of submissions for the grading benchmarks: an nbgrader course directory with
``submitted/STUDENT/NAME/NAME.ipynb`` for each assignment, correct, partly wrong, broken and
hostile mixed, and ``class.json`` saying which student handed in what. Run from the repository
root:

    .venv/bin/python benchmarks/make_class.py COURSE [--size 30] [--assignments medical_loss ...]

Every 30 submissions of an assignment hold 10 correct ones (each answer style of
``tests/answers/NAME.py`` in turn), 8 partly wrong (one typical mistake, the other functions
right), 6 broken (the untouched release, an empty file, truncated JSON, a syntax error, a
deleted test cell, another exercise's notebook) and 6 hostile (torch's comparisons patched, the
reference read from disk, a cell that kills the process, an infinite loop, the network, a
global and a file left for the next submission); larger classes repeat the mix. The same
arguments give the same class.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the answers files and the notebook helpers of the grading tests

from grading_helpers import BIN, answers, edit_cell, exercise_of, fill, release  # noqa: E402

from autograder import SOLUTIONS, assignment  # noqa: E402

HOSTILE_CELLS = {
    "patches torch": "import torch\ntorch.allclose = lambda *a, **k: True\ntorch.isclose = lambda a, b, *x, **k: a == a\n",
    "reads the reference": (
        "try:\n    print(open({ref!r}).read()[:80])\nexcept OSError as e:\n    print('refused:', type(e).__name__)\n"
    ),
    "kills its process": "import os\nos._exit(1)\n",
    "loops forever": "while True:\n    pass\n",
    "uses the network": (
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 53), timeout=1)\nexcept OSError as e:\n"
        "    print('no network:', type(e).__name__)\n"
    ),
    "leaves a global and a file": "import builtins\nbuiltins.LEFT_BEHIND = 1\nopen('left_behind.txt', 'w').write('x')\n",
}
BROKEN = ["the release", "empty file", "truncated JSON", "syntax error", "deleted test cell", "another exercise"]
MIX = {"correct": 10, "partly wrong": 8, "broken": 6, "hostile": 6}  # per 30 submissions


def _kinds() -> list[str]:
    """The mix in an interleaved order (any prefix of a class is mixed too)."""
    order: list[str] = []
    for i in range(sum(MIX.values())):
        order.append(max(MIX, key=lambda k: MIX[k] * (i + 1) / 30 - order.count(k)))
    return order


KINDS = _kinds()


def _with_cell(nb: nbformat.NotebookNode, name: str, function: str, code: str) -> nbformat.NotebookNode:
    """``nb`` with ``code`` put before the solution of ``function``."""
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == f"{name}-sol-{function}":
            cell.source = code + "\n" + cell.source
            return nb
    raise ValueError(f"no solution cell for {function}")


def submission(name: str, kind: str, k: int) -> tuple[bytes, str]:
    """The k-th submission of ``kind`` for ``name``: its bytes and what it is."""
    a = answers(name)
    styles = list(a.RIGHT.values())
    right = styles[k % len(styles)]
    functions = [gid.split("-", 2)[2] for gid in assignment.load(name).solutions]
    if kind == "correct":
        return _bytes(fill(name, right)), f"correct ({list(a.RIGHT)[k % len(styles)]})"
    if kind == "partly wrong":
        wrong = list(a.WRONG)[k % len(a.WRONG)]
        fn = exercise_of(name, wrong)
        chosen = [wrong if exercise_of(name, r) == fn else r for r in styles[0]]
        return _bytes(fill(name, chosen)), f"partly wrong ({wrong.__name__})"
    if kind == "broken":
        what = BROKEN[k % len(BROKEN)]
        good = _bytes(fill(name, styles[0]))
        if what == "the release":
            return _bytes(release(name)), what
        if what == "empty file":
            return b"", what
        if what == "truncated JSON":
            return good[: len(good) // 2], what
        if what == "syntax error":
            return _bytes(_with_cell(fill(name, styles[0]), name, functions[0], "def oops(:\n    pass")), what
        if what == "deleted test cell":
            nb = fill(name, styles[0])
            return _bytes(edit_cell(nb, f"{name}-test-{functions[-1]}", None)), what
        other = next(n for n in assignment.names() if n != name)
        return _bytes(fill(other, next(iter(answers(other).RIGHT.values())))), what
    what = list(HOSTILE_CELLS)[k % len(HOSTILE_CELLS)]
    code = HOSTILE_CELLS[what].format(ref=str(ROOT / "autograder" / "reference" / f"{name}.py"))
    return _bytes(_with_cell(fill(name, styles[0]), name, functions[k % len(functions)], code)), f"hostile ({what})"


def _bytes(nb: nbformat.NotebookNode) -> bytes:
    return nbformat.writes(nb).encode("utf-8")


def generate(course: Path, name: str) -> None:
    """``nbgrader generate_assignment NAME`` in ``course`` (the release, the gradebook's copy)."""
    env = {"PATH": f"{BIN}:/usr/bin:/bin"}
    cmd = [str(BIN / "nbgrader"), "generate_assignment", name, "--force"]
    subprocess.run(cmd, cwd=course, check=True, capture_output=True, env=env)


def make_class(course: Path, names: list[str], size: int, config: Path | None = None) -> dict[str, Any]:
    """A course directory at ``course`` (created) with ``size`` submissions of each assignment in
    ``names``, graded by the course's ``nbgrader_config.py`` or ``config``; returns the manifest
    (assignment -> student -> what they handed in), also written to ``course/class.json``."""
    course.mkdir(parents=True)
    shutil.copy(config or ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
    manifest: dict[str, dict[str, str]] = {}
    for name in names:
        shutil.copytree(SOLUTIONS / name, course / "solutions" / name)
        generate(course, name)
        counts: dict[str, int] = {}
        manifest[name] = {}
        for i in range(size):
            kind = KINDS[i % len(KINDS)]
            k = counts[kind] = counts.get(kind, -1) + 1
            data, what = submission(name, kind, k)
            student = f"s{i:04d}"
            target = course / "submitted" / student / name / f"{name}.ipynb"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            manifest[name][student] = f"{kind}: {what}" if not what.startswith(kind) else what
    (course / "class.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return manifest


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("course", type=Path, help="the course directory to create (must not exist)")
    parser.add_argument("--size", type=int, default=30, help="submissions per assignment (default 30)")
    parser.add_argument("--assignments", nargs="+", default=list(assignment.names()))
    args = parser.parse_args()
    if args.course.exists():
        print(f"make_class: {args.course} exists", file=sys.stderr)
        return 2
    manifest = make_class(args.course, args.assignments, args.size)
    print(f"{sum(map(len, manifest.values()))} submissions in {args.course}/submitted")
    return 0


if __name__ == "__main__":
    sys.exit(main())
