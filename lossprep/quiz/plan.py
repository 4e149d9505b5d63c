"""``lossprep quiz plan``: the day 0 / 3 / 7 / 14 / 21 study plan, alongside FSRS.

The plan is fixed checkpoints for a reader who starts the course (read, derive, explain,
apply, mock interview); FSRS keeps scheduling the individual cards in between. Each
checkpoint lists the chapters and exercises it uses, limited to those that exist in the
repository, so the plan grows with the book; the cards' due counts and the sections of cards
you forgot come from the quiz database. Days are the reader's local study days; the plan only
reads the database (``--start`` saves the start date, and so writes).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from lossprep.book import toc
from lossprep.quiz.cards import Card
from lossprep.quiz.clock import Clock
from lossprep.quiz.common import bank_from, clock_from, reader_from, store_from
from lossprep.quiz.scheduler import Rating, available_at
from lossprep.quiz.store import Store

__all__ = ["Checkpoint", "PLAN", "exercises", "checkpoint_for", "format_plan", "run_plan"]


@dataclass(frozen=True)
class Checkpoint:
    day: int
    title: str
    tasks: tuple[str, ...]
    read: bool = False  # read every chapter of the book
    exercises: bool = False  # do the released exercises
    timed: bool = False  # exercises under time pressure


PLAN: tuple[Checkpoint, ...] = (
    Checkpoint(
        0,
        "Learn",
        (
            "Read each chapter top to bottom and run its cells; finish with its self-check.",
            "Derive binary cross-entropy from the Bernoulli likelihood on paper, then compare with the chapter.",
            "Start the cards: lossprep quiz (new cards are limited per day).",
        ),
        read=True,
    ),
    Checkpoint(
        3,
        "First recall",
        (
            "Without notes, write down every loss of the chapters with its formula, its gradient and when to use it.",
            "Explain out loud why MSE is Gaussian maximum likelihood and MAE Laplace maximum likelihood.",
            "Give each chapter's 60-second answer out loud, timed.",
        ),
    ),
    Checkpoint(
        7,
        "Connections",
        (
            "Explain how a loss connects to its gradient (what moves the fit), to the noise model, and to the evaluation metric.",
            "Do the exercises below without looking at the hints.",
        ),
        exercises=True,
    ),
    Checkpoint(
        14,
        "Application",
        (
            "Do the exercises below again, timed (about 5 minutes per graded part).",
            "Re-read the sections of the cards you forgot (listed below) and re-derive those losses.",
        ),
        exercises=True,
        timed=True,
    ),
    Checkpoint(
        21,
        "Mock interview",
        (
            "Answer, timed at 90 seconds: when would you not use the default loss for this task?",
            "Design a loss for a problem of your choice out loud in 5 minutes: assumption, formula, gradient, how you validate it.",
            "Every exercise under timed conditions, then a full quiz session.",
        ),
        exercises=True,
        timed=True,
    ),
)


def exercises(root: Path = toc.ROOT) -> list[str]:
    """Released exercise names (folders of ``exercises/`` holding a notebook)."""
    folder = root / "exercises"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def checkpoint_for(start: date, today: date) -> tuple[Checkpoint | None, Checkpoint | None]:
    """``(current, next)``: the latest checkpoint reached by ``today`` and the one after."""
    day = (today - start).days
    reached = [c for c in PLAN if c.day <= day]
    ahead = [c for c in PLAN if c.day > day]
    return (reached[-1] if reached else None), (ahead[0] if ahead else None)


def _lapsed_sections(store: Store, cards: list[Card]) -> list[str]:
    by_id = {c.id: c for c in cards}
    last: dict[str, Rating] = {}
    for r in store.reviews():
        last[r.card_id] = r.rating
    return sorted({by_id[cid].section for cid, rating in last.items() if rating == Rating.Again and cid in by_id})


def format_plan(
    start: date,
    today: date,
    *,
    chapters: list[str],
    exercise_names: list[str],
    due_now: int,
    unseen: int,
    lapsed: list[str],
) -> str:
    day = (today - start).days
    current, nxt = checkpoint_for(start, today)
    out = [f"Study plan started {start.isoformat()}; today is day {day}.", ""]
    for c in PLAN:
        when = start + timedelta(days=c.day)
        mark = ">>" if c is current else "  "
        out.append(f"{mark} day {c.day:>2} ({when.isoformat()}): {c.title}")
        for t in c.tasks:
            out.append(f"       - {t}")
        if c.read:
            out.append("       chapters: " + (", ".join(f"book/{n}" for n in chapters) or "none yet"))
        if c.exercises:
            label = "exercises (timed)" if c.timed else "exercises"
            out.append(
                f"       {label}: "
                + (", ".join(exercise_names) or "none released yet")
                + "  (grade with: lossprep check NOTEBOOK)"
            )
        if c.day == 14 and lapsed:
            out.append("       sections to re-read: " + ", ".join(lapsed))
    out.append("")
    out.append(f"FSRS cards: {due_now} due now, {unseen} not yet seen. Review them with: lossprep quiz")
    if nxt is not None:
        out.append(f"Next checkpoint: day {nxt.day}, {nxt.title}, on {(start + timedelta(days=nxt.day)).isoformat()}.")
    else:
        out.append("The plan is complete; keep the daily FSRS reviews going.")
    return "\n".join(out)


def _plan_start(store: Store, clock: Clock) -> date:
    """The saved start date, else the local day of the first review, else today."""
    saved = store.get_meta("plan_start")
    if saved:
        return date.fromisoformat(saved)
    reviews = store.reviews()
    return clock.day_of(reviews[0].reviewed_at) if reviews else clock.today()


def run_plan(args: argparse.Namespace) -> int:
    bank = bank_from(args)
    cards = list(bank.cards)
    note = None
    if getattr(args, "start", None):
        try:
            start = date.fromisoformat(args.start)
        except ValueError:
            raise ValueError(f"Expected --start as YYYY-MM-DD, got {args.start!r}") from None
        store = store_from(args)
        with store:
            store.set_meta("plan_start", start.isoformat())
    store, note = reader_from(args)
    with store:
        clock = clock_from(args, store)
        start = _plan_start(store, clock)
        now = clock.now()
        states = store.cards()
        ids = {c.id for c in cards}
        due_now = sum(1 for cid, s in states.items() if cid in ids and available_at(s, clock) <= now)
        unseen = sum(1 for c in cards if c.id not in states)
        lapsed = _lapsed_sections(store, cards)
    if note:
        print(note)
    print(
        format_plan(
            start,
            clock.today(),
            chapters=toc.chapters(),
            exercise_names=exercises(),
            due_now=due_now,
            unseen=unseen,
            lapsed=lapsed,
        )
    )
    return 0
