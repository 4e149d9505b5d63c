"""Pure scheduling on ``fsrs``: no storage, no clock, no I/O.

The course does not invent a scheduler: FSRS (the algorithm Anki ships) decides every due
date. This module only fixes the course's settings and maps our string card ids to the
integer ids ``fsrs`` wants. Fuzzing is off so that a history replays to the same due dates
(the tests rely on it); with a bank of a few hundred cards the clustering it prevents is
harmless.

Example::

    >>> from datetime import datetime, timezone
    >>> from fsrs import Rating
    >>> t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    >>> card, log = review(new_card("lik-recipe", t0), Rating.Good, t0)
    >>> card.due > t0
    True
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from fsrs import Card, Rating, ReviewLog, Scheduler, State

__all__ = [
    "Card",
    "Rating",
    "ReviewLog",
    "State",
    "SCHEDULER",
    "make_scheduler",
    "fsrs_id",
    "new_card",
    "review",
    "require_utc",
    "retrievability",
]


def make_scheduler() -> Scheduler:
    """The course's FSRS scheduler: default parameters, 90% desired retention, no fuzz."""
    return Scheduler(desired_retention=0.9, enable_fuzzing=False)


SCHEDULER: Scheduler = make_scheduler()


def require_utc(when: datetime) -> datetime:
    """Return ``when`` if it is timezone-aware UTC; refuse anything else (as ``fsrs`` does)."""
    if when.tzinfo is None or when.utcoffset() != UTC.utcoffset(None):
        raise ValueError(f"Expected a timezone-aware UTC datetime, got {when!r}")
    return when.astimezone(UTC)


def fsrs_id(card_id: str) -> int:
    """A stable positive 63-bit integer for a card id (``fsrs`` and Anki need integers)."""
    return int.from_bytes(hashlib.sha256(card_id.encode()).digest()[:8], "big") >> 1


def new_card(card_id: str, now: datetime) -> Card:
    """A never-reviewed ``fsrs`` card for ``card_id``, due at ``now``."""
    return Card(card_id=fsrs_id(card_id), due=require_utc(now))


def review(
    card: Card, rating: Rating, now: datetime, *, duration_ms: int | None = None, scheduler: Scheduler = SCHEDULER
) -> tuple[Card, ReviewLog]:
    """Review ``card`` at ``now`` with ``rating``: returns the new card and its log (pure)."""
    return scheduler.review_card(card, Rating(rating), require_utc(now), duration_ms)


def retrievability(card: Card, now: datetime, *, scheduler: Scheduler = SCHEDULER) -> float:
    """Predicted probability of recalling ``card`` at ``now`` (0 for a card never reviewed)."""
    return float(scheduler.get_card_retrievability(card, require_utc(now)))
