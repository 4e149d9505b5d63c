"""``lossprep quiz stats``: retention and reviews over time, cards by state, a forecast.

:func:`compute_stats` is pure (store and bank in, :class:`Stats` out); :func:`format_stats`
prints it for a terminal and :func:`plot_stats` draws it with matplotlib, which is imported
only there. Days are the reader's local study days (:class:`~lossprep.quiz.clock.Clock`); the
database is opened read-only and never created; ``--plot``'s folder is checked before anything
is printed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import textwrap
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from lossprep.quiz.cards import Card
from lossprep.quiz.clock import Clock
from lossprep.quiz.common import bank_from, clock_from, reader_from
from lossprep.quiz.scheduler import Rating, State, retrievability
from lossprep.quiz.store import Store

__all__ = ["DayStats", "Stats", "compute_stats", "format_stats", "plot_stats", "run_stats"]


@dataclass(frozen=True)
class DayStats:
    day: date
    reviews: int
    recalled: int  # rated Hard, Good or Easy

    @property
    def retention(self) -> float | None:
        return self.recalled / self.reviews if self.reviews else None


@dataclass(frozen=True)
class Stats:
    now: datetime
    clock: Clock
    history: tuple[DayStats, ...]  # the last ``days`` days, oldest first, today last
    by_state: dict[str, int]  # New, Learning, Review, Relearning
    forecast: tuple[tuple[date, int], ...]  # due per day from today (overdue counted today)
    total_reviews: int
    retention: float | None  # over all reviews in ``history``
    mean_retrievability: float | None  # FSRS's predicted recall now, over reviewed cards


def compute_stats(store: Store, cards: list[Card], clock: Clock, *, days: int = 14) -> Stats:
    """Summarise the store for the cards of ``cards`` (reviews of other cards are ignored), by
    the reader's local days."""
    if days < 1:
        raise ValueError(f"Expected days >= 1, got {days}")
    now = clock.now()
    ids = {c.id for c in cards}
    today = clock.day_of(now)
    first = today - timedelta(days=days - 1)
    counts: dict[date, list[int]] = {first + timedelta(days=i): [0, 0] for i in range(days)}
    total = 0
    for r in store.reviews():
        if r.card_id not in ids:
            continue
        total += 1
        d = clock.day_of(r.reviewed_at)
        if d in counts:
            counts[d][0] += 1
            counts[d][1] += int(r.rating >= Rating.Hard)
    history = tuple(DayStats(d, n, k) for d, (n, k) in counts.items())
    states = {cid: c for cid, c in store.cards().items() if cid in ids}
    by_state = {"New": len(ids) - len(states), "Learning": 0, "Review": 0, "Relearning": 0}
    for c in states.values():
        by_state[State(c.state).name] += 1
    forecast_counts = {today + timedelta(days=i): 0 for i in range(days)}
    for c in states.values():
        d = max(clock.day_of(c.due), today)
        if d in forecast_counts:
            forecast_counts[d] += 1
    n = sum(h.reviews for h in history)
    k = sum(h.recalled for h in history)
    rs = [retrievability(c, now) for c in states.values()]
    return Stats(
        now,
        clock,
        history,
        by_state,
        tuple(forecast_counts.items()),
        total,
        k / n if n else None,
        sum(rs) / len(rs) if rs else None,
    )


def _bar(n: int, top: int, width: int = 30) -> str:
    return "█" * (round(width * n / top) if top else 0)


def format_stats(s: Stats, width: int = 100) -> str:
    """The stats as terminal text; sentences wrap at ``width`` columns, tables keep theirs."""
    out = [*textwrap.wrap(f"Quiz statistics at {s.clock.fmt(s.now)} (days start at {s.clock.day_start}:00)", width), ""]
    out.append("Cards by state")
    for name, n in s.by_state.items():
        out.append(f"  {name:<11}{n:>5}")
    out.append("")
    ret = f"{s.retention:.0%}" if s.retention is not None else "n/a"
    pr = f"{s.mean_retrievability:.0%}" if s.mean_retrievability is not None else "n/a"
    out += textwrap.wrap(
        f"Reviews: {s.total_reviews} in all; retention over the last {len(s.history)} days: {ret} (rated Hard or better)",
        width,
    )
    out += textwrap.wrap(f"FSRS predicted recall now, mean over reviewed cards: {pr}", width)
    out.append("")
    out.append("Reviews per day (retention)")
    top = max((h.reviews for h in s.history), default=0)
    for h in s.history:
        r = f"{h.retention:.0%}" if h.retention is not None else "  -"
        out.append(f"  {h.day.isoformat()} {h.reviews:>4} {r:>5} {_bar(h.reviews, top)}")
    out.append("")
    out.append("Forecast: cards due per day (overdue counted today)")
    top = max((n for _, n in s.forecast), default=0)
    for d, n in s.forecast:
        out.append(f"  {d.isoformat()} {n:>4} {_bar(n, top)}")
    return "\n".join(out)


def plot_stats(s: Stats, path: Path) -> Path:
    """Write a three-panel figure (history, forecast, states) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), constrained_layout=True)
    days = [h.day.strftime("%m-%d") for h in s.history]
    ax = axes[0]
    ax.bar(days, [h.reviews for h in s.history], color="tab:blue")
    ax.set_title("Reviews per day")
    ax.set_ylabel("reviews")
    ax.tick_params(axis="x", rotation=60)
    ax2 = ax.twinx()
    ax2.plot(
        days, [h.retention if h.retention is not None else float("nan") for h in s.history], "o-", color="tab:orange"
    )
    ax2.set_ylim(0, 1.05)
    ax2.set_ylabel("retention")
    axes[1].bar([d.strftime("%m-%d") for d, _ in s.forecast], [n for _, n in s.forecast], color="tab:green")
    axes[1].set_title("Forecast: due per day")
    axes[1].tick_params(axis="x", rotation=60)
    axes[2].bar(list(s.by_state), list(s.by_state.values()), color="tab:purple")
    axes[2].set_title("Cards by state")
    fig.suptitle(f"lossprep quiz, {s.clock.day_of(s.now).isoformat()}")
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def check_plot_path(text: str) -> Path:
    """The ``--plot`` file, checked before anything is computed or printed."""
    path = Path(text)
    if path.suffix.lower() != ".png":
        raise ValueError(f"Expected --plot FILE.png, got {text!r}")
    folder = path.parent
    if not folder.is_dir():
        raise ValueError(f"cannot write {text}: the folder {folder} does not exist")
    if path.is_dir() or not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ValueError(f"cannot write {text}: permission denied")
    return path


def run_stats(args: argparse.Namespace) -> int:
    plot = check_plot_path(args.plot) if getattr(args, "plot", None) else None
    bank = bank_from(args)
    store, note = reader_from(args)
    with store:
        s = compute_stats(store, list(bank.cards), clock_from(args, store), days=args.days)
    if note:
        print(note)
    print(format_stats(s, width=min(100, max(40, shutil.get_terminal_size((100, 24)).columns - 1))))
    if plot is not None:
        try:
            path = plot_stats(s, plot)
        except OSError as exc:
            raise ValueError(f"cannot write {plot}: {exc.strerror}") from None
        print(f"\nfigure written to {path}")
    return 0
