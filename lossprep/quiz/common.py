"""What every quiz command needs: the clock, the bank, the store, from the parsed options.

Writers (a session, ``optimize``, ``plan --start``) open the database for writing and are
refused at once when it is read-only. Readers (``stats``, ``plan``) open it read-only and never
create one: a database path given with ``--db`` or ``$LOSSPREP_QUIZ_DB`` that does not exist is
an error (a typo must not look like lost history); the default path before the first session
reads as an empty history, with a line saying so.
"""

from __future__ import annotations

import argparse
import os
from datetime import datetime
from pathlib import Path

from lossprep.quiz.cards import Bank, load_bank
from lossprep.quiz.clock import DEFAULT_DAY_START, ENV_NOW, Clock, parse_day_start, parse_now
from lossprep.quiz.store import ENV_DB, Store, StoreMissing, default_db_path

__all__ = ["DAY_START_KEY", "fixed_now_from", "bank_from", "db_path_from", "store_from", "reader_from", "clock_from"]

DAY_START_KEY = "day_start"


def fixed_now_from(args: argparse.Namespace) -> datetime | None:
    """The fixed time of ``--now`` / ``$LOSSPREP_QUIZ_NOW``, or None for the real clock."""
    text = getattr(args, "now", None) or os.environ.get(ENV_NOW, "").strip()
    return parse_now(text) if text else None


def bank_from(args: argparse.Namespace) -> Bank:
    cards = getattr(args, "cards", None)
    return load_bank(Path(cards) if cards else None, chapters=getattr(args, "chapter", None))


def db_path_from(args: argparse.Namespace) -> tuple[Path, bool]:
    """The database path and whether the reader named it (``--db`` or ``$LOSSPREP_QUIZ_DB``)."""
    db = getattr(args, "db", None)
    if db:
        return Path(db), True
    return default_db_path(), bool(os.environ.get(ENV_DB, "").strip())


def store_from(args: argparse.Namespace) -> Store:
    """The database opened for writing (created if absent); refused at once if read-only."""
    return Store.open(db_path_from(args)[0])


def reader_from(args: argparse.Namespace) -> tuple[Store, str | None]:
    """The database opened read-only, and a note to print first when there is none yet.

    A missing database at a path the reader named is :class:`StoreMissing`; at the default
    path it is an empty history (nothing is created).
    """
    path, named = db_path_from(args)
    try:
        return Store.open(path, readonly=True), None
    except StoreMissing:
        if named:
            raise
        return Store.memory(), f"No reviews yet: {path} does not exist (your first `lossprep quiz` session creates it)."


def clock_from(args: argparse.Namespace, store: Store) -> Clock:
    """The clock: ``--now`` or the system time; the day starts at ``--day-start``, else at the
    hour saved in the database by an earlier session, else at 4 am."""
    given = getattr(args, "day_start", None)
    if given is not None:
        hour = parse_day_start(given)
    else:
        saved = store.get_meta(DAY_START_KEY)
        hour = parse_day_start(saved) if saved is not None else DEFAULT_DAY_START
    return Clock(fixed_now_from(args), hour)
