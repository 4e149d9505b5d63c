"""What every quiz command needs: the time, the bank, the store, from the parsed options."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

from lossprep.quiz.cards import Bank, load_bank
from lossprep.quiz.store import Store, default_db_path

__all__ = ["ENV_NOW", "parse_now", "now_from", "bank_from", "store_from", "db_path_from"]

ENV_NOW = "LOSSPREP_QUIZ_NOW"


def parse_now(text: str) -> datetime:
    """An ISO 8601 instant with an explicit UTC offset (``Z`` or ``+00:00``), as UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"Expected an ISO 8601 UTC time such as 2026-01-05T09:00:00Z, got {text!r}") from None
    if when.tzinfo is None:
        raise ValueError(f"Expected a time with a UTC offset (e.g. 2026-01-05T09:00:00Z), got naive {text!r}")
    return when.astimezone(UTC)


def now_from(args: argparse.Namespace) -> datetime | None:
    """The fixed time of ``--now`` / ``$LOSSPREP_QUIZ_NOW``, or None for the real clock."""
    text = getattr(args, "now", None) or os.environ.get(ENV_NOW, "").strip()
    return parse_now(text) if text else None


def bank_from(args: argparse.Namespace) -> Bank:
    cards = getattr(args, "cards", None)
    return load_bank(Path(cards) if cards else None, chapters=getattr(args, "chapter", None))


def db_path_from(args: argparse.Namespace) -> Path:
    db = getattr(args, "db", None)
    return Path(db) if db else default_db_path()


def store_from(args: argparse.Namespace) -> Store:
    return Store.open(db_path_from(args))
