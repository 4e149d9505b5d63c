"""Time for the quiz: the instant, the reader's local days, and how times are printed.

Scheduling is in UTC (``fsrs`` refuses anything else) and the store keeps UTC. What a reader
sees follows their local time, as in Anki:

- a **day** starts at a configurable local hour (:data:`DEFAULT_DAY_START`, 4 am, Anki's
  default), so a review at 1 am still counts for the evening before;
- the daily quota of new cards, "due today", the streak, ``stats`` and ``plan`` count local
  days;
- times are printed in local time with the zone's abbreviation.

The local zone is the system's (``$TZ`` where set); :meth:`Clock.local` uses the C library's
rules, daylight saving time included. ``--now`` fixes the instant (tests, demos); the clock
then stands still for the whole command, so what a command prints is reproducible.

Example::

    >>> from datetime import UTC, datetime
    >>> parse_now("2026-12-04Z") == datetime(2026, 12, 4, tzinfo=UTC)
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

__all__ = ["DEFAULT_DAY_START", "ENV_NOW", "Clock", "parse_now", "parse_day_start", "fmt_duration"]

DEFAULT_DAY_START = 4
ENV_NOW = "LOSSPREP_QUIZ_NOW"
_DATE_ZONE = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:?\d{2})$")


def parse_now(text: str) -> datetime:
    """An ISO 8601 instant that names its zone (``Z`` or an offset), converted to UTC.

    Accepts a full time (``2026-01-05T09:00:00Z``, ``2026-01-05T10:00+01:00``) or a date with
    a zone (``2026-12-04Z``: midnight at that offset). A time without a zone is refused: it
    would mean a different instant on every machine.
    """
    raw = text.strip()
    m = _DATE_ZONE.match(raw)
    if m:  # Python reads "2026-12-04+00:00" as a naive midnight and drops the zone
        raw = f"{m.group(1)}T00:00{m.group(2)}"
    try:
        when = datetime.fromisoformat(raw.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"Expected an ISO 8601 time with its zone such as 2026-01-05T09:00:00Z or 2026-01-05Z, got {text!r}"
        ) from None
    if when.tzinfo is None:
        raise ValueError(
            f"Expected a time with a UTC offset (e.g. 2026-01-05T09:00:00Z or 2026-01-05T10:00+01:00), got naive {text!r}"
        )
    return when.astimezone(UTC)


def parse_day_start(value: str | int) -> int:
    """The hour (0 to 23) at which a local day starts."""
    try:
        hour = int(value)
    except (TypeError, ValueError):
        hour = -1
    if not 0 <= hour <= 23 or str(value).strip() not in (str(hour), f"{hour:02d}"):
        raise ValueError(f"Expected --day-start as an hour from 0 to 23, got {value!r}")
    return hour


def fmt_duration(delta: timedelta) -> str:
    """A short interval as Anki writes it on its buttons: ``1m``, ``6m``, ``3h``, ``4d``, ``2.1mo``, ``1.5y``."""
    secs = max(0.0, delta.total_seconds())
    minutes = secs / 60
    if minutes < 59.5:
        return f"{max(1, int(minutes + 0.5))}m"
    hours = minutes / 60
    if hours < 23.5:
        return f"{int(hours + 0.5)}h"
    days = hours / 24
    if days < 30.5:
        return f"{int(days + 0.5)}d"
    if days < 365:
        return f"{days / 30.44:.1f}mo"
    return f"{days / 365.25:.1f}y"


@dataclass(frozen=True)
class Clock:
    """The current instant (fixed by ``--now``, else the system clock) and the local day rules."""

    fixed: datetime | None = None
    day_start: int = DEFAULT_DAY_START

    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""
        return self.fixed if self.fixed is not None else datetime.now(UTC)

    @staticmethod
    def local(when: datetime) -> datetime:
        """``when`` in the system's local zone (daylight saving time applied for that instant)."""
        return when.astimezone()

    def day_of(self, when: datetime) -> date:
        """The local study day of an instant: before ``day_start`` o'clock it is still yesterday."""
        return (self.local(when) - timedelta(hours=self.day_start)).date()

    def today(self) -> date:
        return self.day_of(self.now())

    def day_begins(self, day: date) -> datetime:
        """The UTC instant at which local study day ``day`` begins (``day_start`` o'clock local)."""
        naive = datetime(day.year, day.month, day.day) + timedelta(hours=self.day_start)
        return naive.astimezone().astimezone(UTC)  # a naive datetime's astimezone() reads it as local time

    def day_bounds(self, day: date) -> tuple[datetime, datetime]:
        """``[start, end)`` of local study day ``day`` in UTC (23 or 25 hours long on a DST change)."""
        return self.day_begins(day), self.day_begins(day + timedelta(days=1))

    def fmt(self, when: datetime, *, seconds: bool = False) -> str:
        """``2026-03-02 18:00 JST``: an instant in local time, with the zone's abbreviation."""
        loc = self.local(when)
        return loc.strftime("%Y-%m-%d %H:%M" + (":%S" if seconds else "")) + f" {loc.tzname() or ''}".rstrip()

    def fmt_relative(self, when: datetime) -> str:
        """``now``, ``in 5 min``, ``in 3 h``, ``tomorrow``, ``in 4 days``: relative to :meth:`now`."""
        now = self.now()
        secs = (when - now).total_seconds()
        if secs <= 0:
            return "now"
        if secs < 3600:
            return f"in {max(1, round(secs / 60))} min"
        days = (self.day_of(when) - self.day_of(now)).days
        if days == 0:
            return f"in {round(secs / 3600)} h"
        if days == 1:
            return "tomorrow"
        return f"in {days} days"
