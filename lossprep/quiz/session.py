"""The interactive review session of ``lossprep quiz``, which reviews as Anki does.

Order: learning cards whose step has come (rated Again a minute ago, say) first, then the
cards due today (oldest first), then new cards in bank order up to the daily limit. A card
rated Again, or still in its learning steps, comes back in the same session when its step
(1 and 10 minutes by default) falls due; when only such cards are left, the session offers to
show them now rather than end (Anki's 20-minute learn-ahead limit).

Every answer is written to the store at once (one transaction), so quitting (``q``, Ctrl-D,
Ctrl-C) or a crash loses at most the card on screen; ``u`` at any prompt undoes the last
answer (its review leaves the database) and shows that card again. Multiple choice and
numeric cards are graded automatically (right: Good, wrong: Again); recall and cloze cards
ask for Again / Hard / Good / Easy, showing what each would schedule
(``1 Again 1m · 2 Hard 6m · 3 Good 10m · 4 Easy 8d``).
"""

from __future__ import annotations

import argparse
import itertools
import random
import shutil
import sys
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TextIO

from lossprep.quiz.cards import Card, cloze_answers, cloze_blanks
from lossprep.quiz.clock import Clock, fmt_duration
from lossprep.quiz.common import DAY_START_KEY, bank_from, clock_from, store_from
from lossprep.quiz.numeric import draw, fmt_number, is_close, parse_answer
from lossprep.quiz.render import NBSP, to_terminal
from lossprep.quiz.scheduler import LEARN_AHEAD, Rating, State, available_at, new_card, preview
from lossprep.quiz.scheduler import Card as FsrsCard
from lossprep.quiz.store import Store, StoreError
from lossprep.quiz.where import locate

__all__ = [
    "Quit",
    "Undo",
    "SessionResult",
    "Queue",
    "due_queue",
    "available_at",
    "streak_days",
    "Session",
    "run_session",
]

RATING_KEYS = {"1": Rating.Again, "2": Rating.Hard, "3": Rating.Good, "4": Rating.Easy}


class Quit(Exception):
    """The reader asked to stop (``q`` or end of input)."""


class Undo(Exception):
    """The reader typed ``u``: take back the last answer."""


@dataclass
class SessionResult:
    reviewed: int = 0
    correct: int = 0
    ratings: dict[str, int] = field(default_factory=dict)
    stopped: str = ""
    undone: int = 0

    def count(self, rating: Rating, ok: bool | None, sign: int = 1) -> None:
        self.reviewed += sign
        self.correct += sign * int(ok if ok is not None else rating >= Rating.Hard)
        self.ratings[rating.name] = self.ratings.get(rating.name, 0) + sign
        if not self.ratings[rating.name]:
            del self.ratings[rating.name]


@dataclass(frozen=True)
class _Answered:
    card: Card
    review_id: int
    rating: Rating
    ok: bool | None


@dataclass
class Queue:
    """What a session starts with: learning cards (due any time), review cards due today and
    today's new cards, and how many new cards today's quota still allows."""

    learning: list[Card]
    reviews: list[Card]
    new: list[Card]
    quota_left: int
    unseen: int


def due_queue(cards: list[Card], store: Store, clock: Clock, *, new_per_day: int) -> Queue:
    """The session's starting queue at ``clock.now()``."""
    now = clock.now()
    states = store.cards()
    learning = sorted(
        (c for c in cards if c.id in states and states[c.id].state != State.Review), key=lambda c: states[c.id].due
    )
    reviews = sorted(
        (
            c
            for c in cards
            if c.id in states and states[c.id].state == State.Review and available_at(states[c.id], clock) <= now
        ),
        key=lambda c: (states[c.id].due, c.id),
    )
    start, end = clock.day_bounds(clock.today())
    quota_left = max(0, new_per_day - store.first_reviews_between(start, end))
    unseen = [c for c in cards if c.id not in states]
    return Queue(learning, reviews, unseen[:quota_left], quota_left, len(unseen))


def streak_days(store: Store, clock: Clock) -> int:
    """Consecutive local days with at least one review, ending today (or yesterday)."""
    days = {clock.day_of(r.reviewed_at) for r in store.reviews()}
    day = clock.today()
    if day not in days:
        day -= timedelta(days=1)
    n = 0
    while day in days:
        n += 1
        day -= timedelta(days=1)
    return n


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class Session:
    """One run of the quiz. ``input_fn``, ``out`` and the clock are injectable for tests."""

    def __init__(
        self,
        store: Store,
        cards: list[Card],
        *,
        clock: Clock,
        new_per_day: int,
        minutes: float | None,
        rng: random.Random,
        out: TextIO = sys.stdout,
        input_fn: Callable[[str], str] = input,
        width: int | None = None,
    ) -> None:
        self.store, self.cards, self.clock = store, cards, clock
        self.new_per_day, self.minutes, self.rng = new_per_day, minutes, rng
        self.out, self.input_fn = out, input_fn
        columns = width if width is not None else shutil.get_terminal_size((80, 24)).columns
        self.width = min(100, max(20, columns - 2))
        self.result = SessionResult()
        ids = {c.id for c in cards}
        self.states: dict[str, FsrsCard] = {cid: s for cid, s in store.cards().items() if cid in ids}
        self.history: list[_Answered] = []
        self.pending: list[Card] = []  # due reviews, then new cards: each shown once
        self.learning: dict[str, Card] = {}  # cards in their (re)learning steps
        self.answered_at: dict[str, int] = {}  # order of answers: breaks ties between equal due times
        self._ticks = itertools.count()
        self.forced: list[Card] = []  # cards an undo brought back, the latest shown first
        self.learn_ahead = False
        self.shown = 0

    def now(self) -> datetime:
        return self.clock.now()

    # -- input and output ---------------------------------------------------------------------

    def say(self, text: str = "", indent: str = "") -> None:
        """Print wrapped to the terminal; formulas and code spans are never split across lines."""
        for para in to_terminal(text, keep_together=True).split("\n"):
            lines = textwrap.wrap(
                para,
                self.width,
                initial_indent=indent,
                subsequent_indent=indent,
                break_on_hyphens=False,
                break_long_words=False,
            ) or [""]
            print("\n".join(lines).replace(NBSP, " "), file=self.out)
        self.out.flush()

    def ask(self, prompt: str) -> str:
        """One answer; ``q`` (or end of input) quits, ``u`` undoes the last answer."""
        while True:
            self.out.flush()
            try:
                answer = self.input_fn(prompt)
            except EOFError:
                raise Quit from None
            answer = answer.strip()
            if answer.lower() in ("q", "quit", ":q"):
                raise Quit
            if answer.lower() == "u":
                if self.history:
                    raise Undo
                self.say("Nothing to undo yet.")
                continue
            return answer

    def preview_line(self, card: Card) -> str:
        """``1 Again 1m · 2 Hard 6m · 3 Good 10m · 4 Easy 8d`` for this card now."""
        now = self.now()
        state = self.states.get(card.id) or new_card(card.id, now)
        intervals = preview(state, now, scheduler=self.store.scheduler)
        return " · ".join(f"{int(r)}{NBSP}{r.name}{NBSP}{fmt_duration(intervals[r])}" for r in Rating)

    def ask_rating(self, card: Card) -> Rating:
        self.say(self.preview_line(card))
        while True:
            a = self.ask("Rate 1-4 (u undo, q quit): ")
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
            self.ask("[Enter] shows the answer (u undo, q quit): ")
            self.say("Answer: " + "; ".join(cloze_answers(card.front)))
            self.say(cloze_blanks(card.front, reveal=True), indent="  ")
            if card.back:
                self.say(card.back, indent="  ")
            return self.ask_rating(card), None
        self.say(card.front)
        self.ask("[Enter] shows the answer (u undo, q quit): ")
        self.say("Answer:")
        self.say(card.back, indent="  ")
        return self.ask_rating(card), None

    def _mcq(self, card: Card) -> tuple[Rating, bool]:
        order = list(range(len(card.choices)))
        self.rng.shuffle(order)
        letters = "abcdef"[: len(order)]
        self.say(card.front)
        for letter, idx in zip(letters, order, strict=False):
            self.say(f"{letter}) {card.choices[idx]}", indent="  ")
        while True:
            a = self.ask(f"Your answer ({letters[0]}-{letters[-1]}, u undo, q quit): ").lower()
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
            a = self.ask("Your answer (a number, u undo, q quit): ")
            try:
                given = parse_answer(a)
                break
            except ValueError as exc:
                self.say(str(exc))
        ok = is_close(given, inst.answer, rel=card.tolerance)
        self.say(("Correct: " if ok else "Wrong: the answer is ") + fmt_number(inst.answer))
        if inst.steps:
            self.say("Worked: " + inst.steps, indent="  ")
        if card.back:
            self.say(card.back, indent="  ")
        return (Rating.Good if ok else Rating.Again), ok

    # -- the queue ------------------------------------------------------------------------------

    def _learning_ready(self, horizon: datetime) -> list[Card]:
        return sorted(
            (c for c in self.learning.values() if self.states[c.id].due <= horizon),
            key=lambda c: (self.states[c.id].due, self.answered_at.get(c.id, -1), c.id),
        )

    def _horizon(self) -> datetime:
        return self.now() + (LEARN_AHEAD if self.learn_ahead else timedelta(0))

    def next_card(self) -> Card | None:
        """The card to show now: a card an undo brought back, a learning card whose step has
        come, else the next due or new card; None when nothing is left for now."""
        if self.forced:
            return self.forced[-1]
        ready = self._learning_ready(self._horizon())
        if ready:
            return ready[0]
        return self.pending[0] if self.pending else None

    def remaining(self) -> int:
        """Cards still to show now, the one on screen included."""
        ids = {c.id for c in self.pending} | {c.id for c in self._learning_ready(self._horizon())}
        ids.update(c.id for c in self.forced)
        return len(ids)

    def offer_learn_ahead(self) -> bool:
        """Nothing is due now but learning cards come back within the learn-ahead limit: offer
        to show them now instead of ending."""
        soon = self._learning_ready(self.now() + LEARN_AHEAD)
        if not soon:
            return False
        wait = self.clock.fmt_relative(self.states[soon[0].id].due)
        self.say("")
        self.say(
            f"{_plural(len(soon), 'card')} in learning come{'s' if len(soon) == 1 else ''} back within "
            f"{int(LEARN_AHEAD.total_seconds() // 60)} min (the next {wait}). "
            "Review them now rather than wait (Anki's learn-ahead)?"
        )
        try:
            a = self.ask("[Enter] review them, n ends the session: ")
        except Quit:
            return False
        except Undo:
            self.undo_last()
            return True
        if a.lower() in ("n", "no"):
            return False
        self.learn_ahead = True
        return True

    # -- the loop ----------------------------------------------------------------------------

    def start(self) -> Queue:
        q = due_queue(self.cards, self.store, self.clock, new_per_day=self.new_per_day)
        self.pending = q.reviews + q.new
        self.learning = {c.id: c for c in q.learning}
        return q

    def run(self) -> SessionResult:
        q = self.start()
        now = self.now()
        due_learning = sum(1 for c in q.learning if self.states[c.id].due <= now)
        n_due = len(q.reviews) + due_learning
        later = len(q.learning) - due_learning
        if not n_due and not q.new and not self._learning_ready(now + LEARN_AHEAD):
            self.say("Nothing to review now.")
            return self.result
        self.say(
            f"{n_due} due, {len(q.new)} new"
            + (f" ({_plural(later, 'card')} in learning later)" if later else "")
            + ". Type q at any prompt to stop and u to undo the last answer; every answer is saved at once."
        )
        start = time.monotonic()
        while True:
            if self.minutes is not None and time.monotonic() - start >= self.minutes * 60:
                self.result.stopped = "time box reached"
                break
            card = self.next_card()
            if card is None:
                if self.offer_learn_ahead():
                    continue
                break
            self.review_one(card)
        return self.result

    def review_one(self, card: Card) -> None:
        """Show one card, save its answer, or take back the previous one on ``u``."""
        again = card.id in self.learning and any(h.card.id == card.id for h in self.history)
        self.say("")
        self.say(
            f"[{self.shown + 1}/{self.shown + self.remaining()}] {card.chapter} · {card.kind} · {card.id}"
            + (" · again" if again else "")
        )
        shown_at = time.monotonic()
        try:
            rating, ok = self.show(card)
        except Undo:
            self.undo_last()
            return
        duration = int((time.monotonic() - shown_at) * 1000)
        now = self.now()
        state, review_id = self.store.record(card.id, rating, now, duration_ms=duration, kind=card.kind, correct=ok)
        self.history.append(_Answered(card, review_id, rating, ok))
        self.states[card.id] = state
        self._place(card, state)
        if self.forced and self.forced[-1].id == card.id:
            self.forced.pop()
        self.shown += 1
        self.result.count(rating, ok)
        self.say(f"Saved ({rating.name}); next review {self._when(state)}.")
        where = locate(card.section)
        self.say(f"Re-read: {where.title}" + (f" {where.url}" if where.url else ""))

    def _place(self, card: Card, state: FsrsCard) -> None:
        self.pending = [c for c in self.pending if c.id != card.id]
        self.answered_at[card.id] = next(self._ticks)
        if state.state == State.Review:
            self.learning.pop(card.id, None)
        else:
            self.learning[card.id] = card

    def _when(self, state: FsrsCard) -> str:
        now = self.now()
        if state.state != State.Review:
            soon = state.due - now <= LEARN_AHEAD
            return self.clock.fmt_relative(state.due) + (" (it comes back in this session)" if soon else "")
        day = self.clock.day_of(state.due)
        days = (day - self.clock.today()).days
        return f"on {day:%a %Y-%m-%d} ({'tomorrow' if days == 1 else f'in {days} days'})"

    def undo_last(self) -> None:
        last = self.history.pop()
        try:
            restored = self.store.undo_review(last.review_id)
        except StoreError as exc:
            self.history.append(last)
            self.say(f"Cannot undo: {exc}")
            return
        if restored is None:
            self.states.pop(last.card.id, None)
            self.learning.pop(last.card.id, None)
        else:
            self.states[last.card.id] = restored
            self._place(last.card, restored)
        self.shown -= 1
        self.result.count(last.rating, last.ok, sign=-1)
        self.result.undone += 1
        self.forced.append(last.card)
        self.say(f"Undone: {last.card.id} ({last.rating.name}) is out of your history; here it is again.")

    # -- the end -----------------------------------------------------------------------------

    def summary(self) -> None:
        clock, r = self.clock, self.result
        self.say("")
        self.say("Session summary" + (f" ({r.stopped})" if r.stopped else ""))
        self.say(
            f"reviewed: {r.reviewed}" + (f" ({_plural(r.undone, 'answer')} undone)" if r.undone else ""), indent="  "
        )
        self.say(
            f"correct: {r.correct} of {r.reviewed}"
            + (f"  ({', '.join(f'{k} {v}' for k, v in r.ratings.items())})" if r.ratings else ""),
            indent="  ",
        )
        for line in next_due_lines(self.store, self.cards, clock, new_per_day=self.new_per_day):
            self.say(line, indent="  ")
        streak = streak_days(self.store, clock)
        self.say(f"streak: {_plural(streak, 'day')}", indent="  ")


def next_due_lines(store: Store, cards: list[Card], clock: Clock, *, new_per_day: int) -> list[str]:
    """What a rerun would show, now and next: the summary's last lines.

    ``next due`` is the first instant at which a rerun finds more due cards, with their number;
    new cards are counted against today's quota, with the ``--new`` hint when it is spent.
    """
    now = clock.now()
    q = due_queue(cards, store, clock, new_per_day=new_per_day)
    states = store.cards()
    ids = {c.id for c in cards}
    at = sorted(available_at(s, clock) for cid, s in states.items() if cid in ids)
    due_now = sum(1 for t in at if t <= now)
    later = [t for t in at if t > now]
    lines: list[str] = []
    if due_now or q.new:
        lines.append(f"left for now: {due_now} due, {len(q.new)} new (rerun `lossprep quiz` to go on)")
    if later:
        first = later[0]
        lines.append(
            f"next due: `{clock.fmt(first)}` ({clock.fmt_relative(first)}): {_plural(later.count(first), 'card')}"
        )
    else:
        lines.append("next due: none scheduled")
    if q.unseen:
        if q.quota_left == 0 and new_per_day > 0:
            tomorrow = clock.day_begins(clock.today() + timedelta(days=1))
            more = min(q.unseen, new_per_day)
            lines.append(
                f"new cards: {q.unseen} not yet seen; today's {new_per_day} are done. "
                f"{more} more from `{clock.fmt(tomorrow)}`, or {more} more now with: `lossprep quiz --new {new_per_day + more}`"
            )
        elif new_per_day == 0:
            lines.append(f"new cards: {q.unseen} not yet seen (--new 0 shows none)")
        else:
            lines.append(f"new cards: {q.unseen} not yet seen")
    return lines


def run_session(args: argparse.Namespace) -> int:
    """Entry point of ``lossprep quiz`` (no subcommand)."""
    if args.new is not None and args.new < 0:
        raise ValueError(f"Expected --new >= 0, got {args.new}")
    if args.minutes is not None and args.minutes <= 0:
        raise ValueError(f"Expected --minutes > 0, got {args.minutes}")
    bank = bank_from(args)
    rng = random.Random(args.seed)
    with store_from(args) as store:
        clock = clock_from(args, store)
        if getattr(args, "day_start", None) is not None and store.get_meta(DAY_START_KEY) != str(clock.day_start):
            store.set_meta(DAY_START_KEY, str(clock.day_start))
        session = Session(store, list(bank.cards), clock=clock, new_per_day=args.new, minutes=args.minutes, rng=rng)
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
