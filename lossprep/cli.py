"""The ``lossprep`` command.

Subcommands live in their own modules and are imported only when run, so ``lossprep quiz``
starts without importing torch. Each module offers ``add_arguments(parser)`` and
``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "device": ("lossprep.device", "show the device the demos run on and the devices available"),
    "check": (
        "autograder.check",
        "grade an exercise notebook in the sandbox against the hidden tests (--json: one JSON object); "
        "in the student edition, or with --visible, run its visible test cells",
    ),
    "grade": (
        "autograder.batch",
        "grade every submission of one or more assignments into nbgrader's gradebook, in parallel, resumable (--scheduler: on Dask)",
    ),
    "notebooks": (
        "lossprep.book.notebooks",
        "write the chapters as Jupyter notebooks for Colab and Binder (--check: only report stale ones)",
    ),
    "quiz": ("lossprep.quiz.cli", "spaced-repetition review of the course's cards (stats, export-anki, plan)"),
    "edition": (
        "lossprep.edition",
        "write the student edition: book, exercises, library, no solutions or hidden tests (--git: a repository)",
    ),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full parser; with ``only``, import just that subcommand's module (the others get
    their name and help but no options), so ``lossprep quiz`` never pays for the autograder's
    torch import."""
    from lossprep import __version__

    parser = argparse.ArgumentParser(
        prog="lossprep",
        description="An interview-prep course on ML loss functions: book, graded exercises, quiz.",
    )
    parser.add_argument("--version", action="version", version=f"lossprep {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        if not _installed(module):  # the student edition leaves the instructor's commands out
            p = sub.add_parser(name, help=f"(not in this copy of the course) {help_text}", add_help=False)
            p.set_defaults(_module=None)
            continue
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(_module=module)
        if only is None or name == only:
            importlib.import_module(module).add_arguments(p)
    return parser


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # its package is missing too
        return False


def main(argv: list[str] | None = None) -> int:
    words = [a for a in (sys.argv[1:] if argv is None else argv) if not a.startswith("-")]
    parser = build_parser(words[0] if words and words[0] in SUBCOMMANDS else None)
    args, rest = parser.parse_known_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args._module is None:
        print(
            f"lossprep {args.command}: not in this copy of the course (the instructor's copy has it)", file=sys.stderr
        )
        return 2
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
