"""``lossprep quiz``: arguments only. The work is imported when a command runs.

``lossprep/cli.py`` imports this module to build its parser, so it must stay light: argparse
and nothing else at import time.

Commands::

    lossprep quiz [--db PATH] [--chapter NAME] [--minutes N] [--new N]   a review session
    lossprep quiz stats [--plot FILE.png]                                retention, forecast
    lossprep quiz optimize                                               fit FSRS to your history
    lossprep quiz export-anki FILE.apkg [--force]                        the bank as an Anki deck
    lossprep quiz plan [--start DATE]                                    the day 0/3/7/14/21 plan

Output to a closed pipe (``lossprep quiz plan | head -1``) ends quietly with status 141, as
the shell's own tools do, instead of a ``BrokenPipeError`` traceback.
"""

from __future__ import annotations

import argparse
import os
import sys

__all__ = ["add_arguments", "run"]


def _common(p: argparse.ArgumentParser, *, sub: bool) -> None:
    """Options shared by the session and every subcommand (accepted before or after it)."""
    d = {"default": argparse.SUPPRESS} if sub else {}
    p.add_argument(
        "--db",
        metavar="PATH",
        help="quiz database (default: $LOSSPREP_QUIZ_DB, else quiz.sqlite3 in the user data directory)",
        **d,
    )
    p.add_argument("--chapter", metavar="NAME", action="append", help="only this chapter's cards (repeatable)", **d)
    p.add_argument("--cards", metavar="DIR", help="card bank folder (default: $LOSSPREP_CARDS, else book/cards)", **d)
    p.add_argument(
        "--now",
        metavar="ISO",
        help="pretend the time is this instant, with its zone: 2026-01-05T09:00:00Z, 2026-01-05T10:00+01:00 or 2026-12-04Z (default: $LOSSPREP_QUIZ_NOW, else the clock)",
        **d,
    )
    p.add_argument(
        "--day-start",
        metavar="HOUR",
        help="local hour at which your study day starts, 0-23 (default: the hour a session last saved, else 4, as in Anki); a session remembers it",
        **d,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Spaced-repetition review of the course's cards, scheduled by FSRS."
    _common(parser, sub=False)
    parser.add_argument(
        "--minutes", type=float, default=None, metavar="N", help="time box: show no further card after N minutes"
    )
    parser.add_argument("--new", type=int, default=10, metavar="N", help="new cards per day (default 10)")
    parser.add_argument(
        "--seed", type=int, default=None, metavar="N", help="seed for numeric cards' parameters and choice order"
    )
    sub = parser.add_subparsers(dest="quiz_command", metavar="{stats,optimize,export-anki,plan}")
    st = sub.add_parser(
        "stats",
        help="retention, reviews over time, cards by state, forecast",
        description="Retention, reviews over time, cards by state and a forecast of due cards.",
    )
    _common(st, sub=True)
    st.add_argument("--days", type=int, default=14, metavar="N", help="days of history and of forecast (default 14)")
    st.add_argument("--plot", metavar="FILE.png", help="also write a matplotlib figure")
    op = sub.add_parser(
        "optimize",
        help="fit the FSRS parameters to your review history (Anki's Optimize)",
        description="Fit the 21 FSRS parameters to your own review history with fsrs's optimizer, show the log loss "
        "before and after, and store the new parameters in the database for later sessions.",
    )
    _common(op, sub=True)
    ex = sub.add_parser(
        "export-anki",
        help="write the card bank as an Anki package",
        description="Write the card bank as an Anki .apkg (stable note ids: re-importing updates).",
    )
    _common(ex, sub=True)
    ex.add_argument("file", metavar="FILE.apkg", help="output file")
    ex.add_argument("--force", action="store_true", help="replace FILE.apkg if it exists")
    pl = sub.add_parser(
        "plan",
        help="the day 0/3/7/14/21 study plan and today's tasks",
        description="The day 0/3/7/14/21 study plan, alongside the FSRS cards.",
    )
    _common(pl, sub=True)
    pl.add_argument(
        "--start",
        metavar="DATE",
        help="plan start date (YYYY-MM-DD, a local study day; saved in the database); default: the saved one, else the day of your first review, else today",
    )


def run(args: argparse.Namespace) -> int:
    try:
        code = _dispatch(args)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        # The reader of our output went away (plan | head -1): stop quietly. Point stdout at
        # /dev/null so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _dispatch(args: argparse.Namespace) -> int:
    import sqlite3

    from lossprep.quiz.cards import CardError
    from lossprep.quiz.store import StoreError

    command = getattr(args, "quiz_command", None)
    try:
        if command == "stats":
            from lossprep.quiz.stats import run_stats

            return run_stats(args)
        if command == "optimize":
            from lossprep.quiz.optimize import run_optimize

            return run_optimize(args)
        if command == "export-anki":
            from lossprep.quiz.anki import run_export

            return run_export(args)
        if command == "plan":
            from lossprep.quiz.plan import run_plan

            return run_plan(args)
        from lossprep.quiz.session import run_session

        return run_session(args)
    except (CardError, StoreError, ValueError) as exc:
        print(f"lossprep quiz: {exc}", file=sys.stderr)
        return 2
    except sqlite3.Error as exc:
        print(f"lossprep quiz: database error: {exc}", file=sys.stderr)
        return 2
