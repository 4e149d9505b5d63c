"""The interactive review session of ``lossprep quiz``.

Order: cards already due (oldest due first), then new cards in bank order up to the daily
limit. Each card is shown once per session; its review is written to the store as soon as it
is graded or rated, so quitting (``q``, Ctrl-D, Ctrl-C) or a crash loses at most the card on
screen. Multiple choice and numeric cards are graded automatically (right: Good, wrong:
Again); recall and cloze cards ask the reader for Again / Hard / Good / Easy.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TextIO

from lossprep.quiz.cards import Card, cloze_answers, cloze_blanks
from lossprep.quiz.common import bank_from, now_from, store_from
from lossprep.quiz.numeric import draw, is_close
from lossprep.quiz.render import to_terminal
from lossprep.quiz.scheduler import Rating
from lossprep.quiz.store import Store

__all__ = ["Quit", "SessionResult", "due_queue", "streak_days", "run_session", "Session"]

RATING_KEYS = {"1": Rating.Again, "2": Rating.Hard, "3": Rating.Good, "4": Rating.Easy}


class Quit(Exception):
    """The reader asked to stop (``q`` or end of input)."""


@dataclass
class SessionResult:
    reviewed: int = 0
    correct: int = 0
    ratings: dict[str, int] = field(default_factory=dict)
    stopped: str = ""


def due_queue(cards: list[Card], store: Store, now: datetime, *, new_per_day: int) -> tuple[list[Card], list[Card]]:
    """``(due, new)``: stored cards due by ``now`` (oldest first) and today's new cards."""
    states = store.cards()
    due = sorted(
        (c for c in cards if c.id in states and states[c.id].due <= now), key=lambda c: (states[c.id].due, c.id)
    )
    left = max(0, new_per_day - store.first_reviews_on(now))
    new = [c for c in cards if c.id not in states][:left]
    return due, new


def streak_days(store: Store, now: datetime) -> int:
    """Consecutive UTC days with at least one review, ending today (or yesterday)."""
    days = {r.reviewed_at.date() for r in store.reviews()}
    day = now.date()
    if day not in days:
        day -= timedelta(days=1)
    n = 0
    while day in days:
        n += 1
        day -= timedelta(days=1)
    return n


def _when(due: datetime, now: datetime) -> str:
    delta = due - now
    secs = delta.total_seconds()
    if secs < 60:
        return "now"
    if secs < 3600:
        return f"in {round(secs / 60)} min"
    if secs < 86400:
        return f"in {round(secs / 3600)} h"
    return f"on {due.strftime('%Y-%m-%d')} (in {round(secs / 86400)} days)"


def _fmt_num(x: float) -> str:
    return f"{x:.4g}" if abs(x) < 1e5 else f"{x:,.0f}"


class Session:
    """One run of the quiz: ``input_fn`` and ``out`` are injectable for tests."""

    def __init__(
        self,
        store: Store,
        cards: list[Card],
        *,
        fixed_now: datetime | None,
        new_per_day: int,
        minutes: float | None,
        rng: random.Random,
        out: TextIO = sys.stdout,
        input_fn: Callable[[str], str] = input,
    ) -> None:
        self.store, self.cards, self.fixed_now = store, cards, fixed_now
        self.new_per_day, self.minutes, self.rng = new_per_day, minutes, rng
        self.out, self.input_fn = out, input_fn
        self.width = min(100, max(40, shutil.get_terminal_size((80, 24)).columns - 2))
        self.result = SessionResult()

    def now(self) -> datetime:
        return self.fixed_now if self.fixed_now is not None else datetime.now(UTC)

    def say(self, text: str = "", indent: str = "") -> None:
        for para in to_terminal(text).split("\n"):
            lines = textwrap.wrap(
                para,
                self.width,
                initial_indent=indent,
                subsequent_indent=indent,
                break_on_hyphens=False,
                break_long_words=False,
            ) or [""]
            print("\n".join(lines), file=self.out)
        self.out.flush()

    def ask(self, prompt: str) -> str:
        self.out.flush()
        try:
            answer = self.input_fn(prompt)
        except EOFError:
            raise Quit from None
        answer = answer.strip()
        if answer.lower() in ("q", "quit", ":q"):
            raise Quit
        return answer

    def ask_rating(self) -> Rating:
        while True:
            a = self.ask("Rate 1 Again, 2 Hard, 3 Good, 4 Easy (q quits): ")
            if a in RATING_KEYS:
                return RATING_KEYS[a]
            self.say("Please type 1, 2, 3 or 4.")

    # -- one card of each kind ---------------------------------------------------------------

    def show(self, card: Card) -> tuple[Rating, bool | None]:
        if card.kind == "mcq":
            return self._mcq(card)
        if card.kind == "numeric":
            return self._numeric(card)
        if card.kind == "cloze":
            self.say(cloze_blanks(card.front))
            self.ask("[Enter] show the answer, q quits: ")
            self.say("Answer: " + "; ".join(cloze_answers(card.front)))
            self.say(cloze_blanks(card.front, reveal=True), indent="  ")
            if card.back:
                self.say(card.back, indent="  ")
            return self.ask_rating(), None
        self.say(card.front)
        self.ask("[Enter] show the answer, q quits: ")
        self.say("Answer:")
        self.say(card.back, indent="  ")
        return self.ask_rating(), None

    def _mcq(self, card: Card) -> tuple[Rating, bool]:
        order = list(range(len(card.choices)))
        self.rng.shuffle(order)
        letters = "abcdef"[: len(order)]
        self.say(card.front)
        for letter, idx in zip(letters, order, strict=False):
            self.say(f"{letter}) {card.choices[idx]}", indent="  ")
        while True:
            a = self.ask(f"Your answer ({letters[0]}-{letters[-1]}, q quits): ").lower()
            if len(a) == 1 and a in letters:
                break
            self.say(f"Please type one letter, {letters[0]} to {letters[-1]}.")
        right_letter = letters[order.index(card.answer or 0)]
        ok = order[letters.index(a)] == card.answer
        self.say("Correct." if ok else f"Wrong: the answer is {right_letter}) {card.choices[card.answer or 0]}")
        if card.back:
            self.say(card.back, indent="  ")
        return (Rating.Good if ok else Rating.Again), ok

    def _numeric(self, card: Card) -> tuple[Rating, bool]:
        assert card.generator is not None
        inst = draw(card.generator, self.rng)
        self.say(card.front.format_map(inst.params))
        while True:
            a = self.ask("Your answer (a number, q quits): ")
            try:
                given = float(a.replace(",", ""))
                break
            except ValueError:
                self.say("Please type a number, e.g. 0.25.")
        ok = is_close(given, inst.answer, rel=card.tolerance)
        self.say(
            ("Correct: " if ok else "Wrong: the answer is ")
            + _fmt_num(inst.answer)
            + (f"  ({inst.steps})" if inst.steps else "")
        )
        if card.back:
            self.say(card.back, indent="  ")
        return (Rating.Good if ok else Rating.Again), ok

    # -- the loop ----------------------------------------------------------------------------

    def run(self) -> SessionResult:
        start = time.monotonic()
        due, new = due_queue(self.cards, self.store, self.now(), new_per_day=self.new_per_day)
        queue = due + new
        if not queue:
            self.say("Nothing to review now.")
            return self.result
        self.say(f"{len(due)} due, {len(new)} new. Type q at any prompt to stop; every answered card is saved at once.")
        for i, card in enumerate(queue, 1):
            if self.minutes is not None and time.monotonic() - start >= self.minutes * 60:
                self.result.stopped = "time box reached"
                break
            self.say("")
            self.say(f"[{i}/{len(queue)}] {card.chapter} · {card.kind} · {card.id}")
            shown = time.monotonic()
            rating, ok = self.show(card)
            duration = int((time.monotonic() - shown) * 1000)
            state = self.store.record_review(
                card.id, rating, self.now(), duration_ms=duration, kind=card.kind, correct=ok
            )
            self.result.reviewed += 1
            self.result.correct += int(ok if ok is not None else rating >= Rating.Hard)
            self.result.ratings[rating.name] = self.result.ratings.get(rating.name, 0) + 1
            self.say(f"Saved ({rating.name}); next review {_when(state.due, self.now())}. Re-read: {card.section}")
        return self.result

    def summary(self) -> None:
        now = self.now()
        r = self.result
        states = self.store.cards()
        ids = {c.id for c in self.cards}
        upcoming = sorted(s.due for cid, s in states.items() if cid in ids)
        unseen = sum(1 for c in self.cards if c.id not in states)
        self.say("")
        self.say("Session summary" + (f" ({r.stopped})" if r.stopped else ""))
        self.say(f"reviewed: {r.reviewed}", indent="  ")
        self.say(
            f"correct: {r.correct} of {r.reviewed}"
            + (f"  ({', '.join(f'{k} {v}' for k, v in r.ratings.items())})" if r.ratings else ""),
            indent="  ",
        )
        nxt = next((d for d in upcoming if d > now), None)
        due_now = sum(1 for d in upcoming if d <= now)
        self.say(
            "next due: "
            + (f"{nxt.strftime('%Y-%m-%d %H:%M')} UTC ({_when(nxt, now)})" if nxt else "none scheduled")
            + (f"; {due_now} due now" if due_now else "")
            + (f"; {unseen} cards not yet seen" if unseen else ""),
            indent="  ",
        )
        streak = streak_days(self.store, now)
        self.say(f"streak: {streak} day{'s' if streak != 1 else ''}", indent="  ")


def run_session(args: argparse.Namespace) -> int:
    """Entry point of ``lossprep quiz`` (no subcommand)."""
    if args.new is not None and args.new < 0:
        raise ValueError(f"Expected --new >= 0, got {args.new}")
    if args.minutes is not None and args.minutes <= 0:
        raise ValueError(f"Expected --minutes > 0, got {args.minutes}")
    fixed_now = now_from(args)
    bank = bank_from(args)
    rng = random.Random(args.seed)
    with store_from(args) as store:
        session = Session(
            store, list(bank.cards), fixed_now=fixed_now, new_per_day=args.new, minutes=args.minutes, rng=rng
        )
        code = 0
        try:
            session.run()
        except Quit:
            session.result.stopped = "stopped by you; the card on screen was not saved"
        except KeyboardInterrupt:
            session.result.stopped = "interrupted; the card on screen was not saved"
            code = 130
        session.summary()
        return code
