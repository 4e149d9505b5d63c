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
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from fsrs import Card, Rating, ReviewLog, Scheduler, State

if TYPE_CHECKING:
    from lossprep.quiz.clock import Clock

__all__ = [
    "Card",
    "Rating",
    "ReviewLog",
    "State",
    "SCHEDULER",
    "DESIRED_RETENTION",
    "LEARN_AHEAD",
    "make_scheduler",
    "preview",
    "available_at",
    "fsrs_id",
    "new_card",
    "review",
    "require_utc",
    "retrievability",
]


DESIRED_RETENTION = 0.9
LEARN_AHEAD = timedelta(minutes=20)
"""Anki's learn-ahead limit: when nothing else is left, learning cards due within this long are
shown early rather than making the reader wait for them."""


def make_scheduler(parameters: Sequence[float] | None = None) -> Scheduler:
    """The course's FSRS scheduler: ``fsrs``'s default parameters unless the reader's own (from
    ``lossprep quiz optimize``) are given; 90% desired retention; learning steps 1 and 10
    minutes, relearning step 10 minutes (``fsrs``'s defaults, Anki's too); no fuzz."""
    if parameters is None:
        return Scheduler(desired_retention=DESIRED_RETENTION, enable_fuzzing=False)
    return Scheduler(parameters=tuple(parameters), desired_retention=DESIRED_RETENTION, enable_fuzzing=False)


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


def preview(card: Card, now: datetime, *, scheduler: Scheduler = SCHEDULER) -> dict[Rating, timedelta]:
    """What each rating would schedule for ``card`` reviewed at ``now``: rating -> interval."""
    now = require_utc(now)
    return {r: scheduler.review_card(card, r, now)[0].due - now for r in Rating}


def available_at(card: Card, clock: Clock) -> datetime:
    """When a reviewed card can be studied: a card in its (re)learning steps at its due minute;
    a review card from the start of its due day (the reader's local day, from the day-start
    hour), as in Anki, whose review intervals are whole days."""
    if card.state == State.Review:
        return clock.day_begins(clock.day_of(card.due))
    return card.due


def retrievability(card: Card, now: datetime, *, scheduler: Scheduler = SCHEDULER) -> float:
    """Predicted probability of recalling ``card`` at ``now`` (0 for a card never reviewed)."""
    return float(scheduler.get_card_retrievability(card, require_utc(now)))
