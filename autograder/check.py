"""``lossprep check NOTEBOOK [--json]``: grade one exercise notebook, wherever it lies.

A thin front end of :mod:`autograder.engine`. The notebook runs in the bubblewrap sandbox; where
bubblewrap is missing or not permitted, a student's check of their own notebook runs without it
and says so (on stderr and in the report). Where the hidden tests are not (the student edition),
or with ``--visible``, it runs the notebook's visible test cells instead (:mod:`autograder.visible`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from autograder.sandbox import Limits

    parser.add_argument("notebook", type=Path, help="the exercise notebook to grade (any path, any file name)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help=(
            f"seconds for each cell and for each part's hidden tests "
            f"(default {Limits.cell_seconds:g} per cell, {Limits.part_seconds:g} per part)"
        ),
    )
    parser.add_argument(
        "--visible",
        action="store_true",
        help=(
            "run only the notebook's visible test cells, one check each, as the student edition does "
            "(it has no hidden tests); not a grade"
        ),
    )


def run(args: argparse.Namespace) -> int:
    from autograder import visible
    from autograder.engine import CheckError, grade
    from autograder.sandbox import Limits, find_sandbox

    sandbox = find_sandbox(require=False)
    limits = Limits() if args.timeout is None else Limits(cell_seconds=args.timeout, part_seconds=args.timeout)
    try:
        if args.visible or not visible.hidden_tests_here():
            report = visible.check(args.notebook, sandbox=sandbox, limits=limits)
        else:
            report = grade(args.notebook, sandbox=sandbox, limits=limits)
    except CheckError as e:
        print(f"lossprep check: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # no traceback for a user: say what broke, in one line
        print(f"lossprep check: grading failed: {type(e).__name__}: {e}".splitlines()[0], file=sys.stderr)
        return 2
    if not sandbox.isolated:  # said once the notebook ran (a file that is not one gets one line only)
        print(f"lossprep check: ran your notebook without the sandbox: {sandbox.reason}", file=sys.stderr)  # type: ignore[attr-defined]
    try:
        print(json.dumps(report.to_dict()) if args.json else report.table(), flush=True)
    except BrokenPipeError:  # `lossprep check nb.ipynb | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
