"""``lossprep quiz`` driven through a pseudo-terminal, as a reader uses it.

The children run with ``TZ=UTC`` unless a test sets another zone: printed times and study days
follow the local zone (``test_a_week_of_days_follows_local_time`` proves it with New York)."""

from __future__ import annotations

import io
import math
import os
import random
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pexpect
import pytest
from fsrs import Card as FsrsCard
from fsrs import Rating, Scheduler, State
from quiz_helpers import quiz_env, run_quiz

from lossprep.quiz.cards import load_bank
from lossprep.quiz.clock import Clock
from lossprep.quiz.session import Quit, Session
from lossprep.quiz.store import Store

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

BANK = """\
chapter: demo
cards:
  - id: demo-recall
    kind: recall
    section: demo#one
    front: What does MSE estimate?
    back: The conditional mean.
  - id: demo-mcq
    kind: mcq
    section: demo#two
    front: Which noise gives MAE?
    choices: [Gaussian, Laplace, Poisson, Uniform]
    answer: 1
  - id: demo-numeric
    kind: numeric
    section: demo#three
    generator: bce_positive
    front: BCE for y = 1 and p = {p}?
  - id: demo-cloze
    kind: cloze
    section: demo#four
    front: "Huber is quadratic for |e| below {{c1::delta}}."
"""


def iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def bank(tmp_path: Path) -> Path:
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "demo.yml").write_text(BANK)
    return folder


def spawn(db: Path, cards: Path, now: datetime, *extra: str, tz: str = "UTC") -> pexpect.spawn:
    args = [
        "-m",
        "lossprep.cli",
        "quiz",
        "--db",
        str(db),
        "--cards",
        str(cards),
        "--now",
        iso(now),
        "--seed",
        "7",
        *extra,
    ]
    return pexpect.spawn(
        sys.executable, args, cwd=str(ROOT), env=quiz_env(tz), encoding="utf-8", timeout=30, dimensions=(50, 200)
    )


PREVIEW = r"1 Again [\d.]+(m|h|d|mo|y) · 2 Hard [\d.]+(m|h|d|mo|y) · 3 Good [\d.]+(m|h|d|mo|y) · 4 Easy [\d.]+(m|h|d|mo|y)\r\n"
HEADER = r"\[\d+/\d+\] demo · (\w+) · ([\w-]+)( · again)?\r\n"


def answer_card(child: pexpect.spawn, *, recall_rating: str = "3", header: bool = True) -> tuple[str, Rating]:
    """Answer the card on screen correctly; return its id and the rating the session gives."""
    if header:
        child.expect(HEADER)
    kind, cid = child.match.group(1), child.match.group(2)
    if kind in ("recall", "cloze"):
        child.expect("shows the answer")
        child.sendline("")
        child.expect(PREVIEW)
        child.expect("Rate 1-4")
        child.sendline(recall_rating)
        rating = Rating(int(recall_rating))
    elif kind == "mcq":
        child.expect(r"Your answer \(a-d")
        letter = re.search(r"([a-d])\) Laplace", child.before).group(1)
        child.sendline(letter)
        child.expect("Correct.")
        rating = Rating.Good
    else:
        child.expect(r"Your answer \(a number")
        p = float(re.search(r"p = ([0-9.]+)\?", child.before).group(1))
        child.sendline(f"{-math.log(p):.5f}")
        child.expect("Correct: ")
        rating = Rating.Good
    child.expect(r"Saved \((\w+)\)")
    assert child.match.group(1) == rating.name
    return cid, rating


def decline_learn_ahead(child: pexpect.spawn) -> None:
    """The session offers the learning cards due within 20 minutes; end it instead."""
    child.expect("review them, n ends the session")
    child.sendline("n")


def fsrs_due(history: list[tuple[Rating, datetime]]) -> datetime:
    sched = Scheduler(enable_fuzzing=False)
    card = FsrsCard(card_id=1, due=history[0][1])
    for rating, when in history:
        card, _ = sched.review_card(card, rating, when)
    return card.due


def check_store(db: Path, expected: dict[str, list[tuple[Rating, datetime]]]) -> None:
    with Store.open(db) as store:
        cards = store.cards()
        assert set(cards) == set(expected)
        for cid, history in expected.items():
            rows = store.reviews(cid)
            assert [(r.rating, r.reviewed_at) for r in rows] == history, cid
            assert cards[cid].due == fsrs_due(history), cid


def test_session_quit_restart_history_and_fsrs_due_dates(tmp_path: Path, bank: Path) -> None:
    db = tmp_path / "q.sqlite3"
    expected: dict[str, list[tuple[Rating, datetime]]] = {}

    # Session 1: two cards answered, quit on the third.
    child = spawn(db, bank, T0)
    child.expect("0 due, 4 new")
    for _ in range(2):
        cid, rating = answer_card(child)
        expected.setdefault(cid, []).append((rating, T0))
    child.expect(r"\[3/4\]")
    child.expect(r"(shows the answer|Your answer)")
    child.sendline("q")
    child.expect("Session summary \\(stopped by you")
    child.expect("reviewed: 2")
    child.expect("correct: 2 of 2")
    child.expect("streak: 1 day")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert list(expected) == ["demo-recall", "demo-mcq"]
    check_store(db, expected)

    # Session 2, 5 minutes later: the two reviewed cards are not due yet (10 min step), the
    # two remaining new cards are shown.
    t1 = T0 + timedelta(minutes=5)
    child = spawn(db, bank, t1)
    child.expect(r"0 due, 2 new \(2 cards in learning later\)")
    for _ in range(2):
        cid, rating = answer_card(child, recall_rating="4")
        expected.setdefault(cid, []).append((rating, t1))
    decline_learn_ahead(child)  # the first two cards' 10-minute step is 5 minutes away
    child.expect("reviewed: 2")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    check_store(db, expected)

    # Session 3, ten days later: all four are due; rate the self-rated ones Hard.
    t2 = T0 + timedelta(days=10)
    child = spawn(db, bank, t2)
    child.expect("4 due, 0 new")
    for _ in range(4):
        cid, rating = answer_card(child, recall_rating="2")
        expected[cid].append((rating, t2))
    decline_learn_ahead(child)  # demo-recall, rated Hard in its learning step, is back in 10 minutes
    child.expect("reviewed: 4")
    child.expect(r"next due: (\S+ \S+) UTC")
    nxt = datetime.strptime(child.match.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    child.expect("streak: 1 day")  # days 0 and 10: the streak restarted
    child.expect(pexpect.EOF)
    child.close()
    check_store(db, expected)
    assert nxt == min(fsrs_due(h) for h in expected.values()).replace(second=0, microsecond=0)


def test_new_cards_are_limited_per_day(tmp_path: Path, bank: Path) -> None:
    db = tmp_path / "q.sqlite3"
    child = spawn(db, bank, T0, "--new", "1")
    child.expect("0 due, 1 new")
    answer_card(child)
    decline_learn_ahead(child)
    child.expect(r"new cards: 3 not yet seen; today's 1 are done\.\s+1 more from\s+2026-03-03 04:00 UTC,\s+or 1 more")
    child.expect(r"now\s+with:\s+lossprep quiz --new 2\r\n")
    child.expect(pexpect.EOF)
    child = spawn(db, bank, T0 + timedelta(hours=1), "--new", "1")
    child.expect("1 due, 0 new")  # today's one new card is used up; the learning card is due
    child.sendline("q")
    child.expect(pexpect.EOF)
    child = spawn(db, bank, T0 + timedelta(days=1), "--new", "1")
    child.expect("1 due, 1 new")
    child.sendline("q")
    child.expect(pexpect.EOF)


def test_sigkill_loses_at_most_the_card_on_screen(tmp_path: Path, bank: Path) -> None:
    db = tmp_path / "q.sqlite3"
    child = spawn(db, bank, T0)
    first, _ = answer_card(child)
    second, _ = answer_card(child)
    child.expect(r"\[3/4\]")
    child.expect(r"(shows the answer|Your answer)")
    os.kill(child.pid, signal.SIGKILL)
    child.expect(pexpect.EOF)
    child.close()
    assert child.signalstatus == signal.SIGKILL
    with Store.open(db) as store:
        assert [r.card_id for r in store.reviews()] == [first, second]
    # The next session picks up where the killed one stopped.
    child = spawn(db, bank, T0)
    child.expect("0 due, 2 new")
    child.expect(r"\[1/2\] demo · \w+ · demo-numeric")
    child.sendline("q")
    child.expect(pexpect.EOF)


def test_ctrl_c_and_end_of_input_keep_answered_cards(tmp_path: Path, bank: Path) -> None:
    db = tmp_path / "q.sqlite3"
    child = spawn(db, bank, T0)
    answer_card(child)
    child.expect(r"\[2/4\]")
    child.expect("Your answer")
    child.sendintr()
    child.expect("interrupted; the card on screen was not saved")
    child.expect("reviewed: 1")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 130
    child = spawn(db, bank, T0)
    child.expect("0 due, 3 new")
    child.sendeof()
    child.expect("reviewed: 0")
    child.expect(pexpect.EOF)
    with Store.open(db) as store:
        assert len(store.reviews()) == 1


def test_wrong_answers_are_graded_again(tmp_path: Path, bank: Path) -> None:
    db = tmp_path / "q.sqlite3"
    child = spawn(db, bank, T0)
    answer_card(child)
    child.expect(r"Your answer \(a-d")
    wrong = re.search(r"([a-d])\) Gaussian", child.before).group(1)
    child.sendline("z")
    child.expect("Please type one letter")
    child.sendline(wrong)
    child.expect(r"Wrong: the answer is [a-d]\) Laplace")
    child.expect(r"Saved \(Again\)")
    child.expect(r"Your answer \(a number")
    child.sendline("not a number")
    child.expect("'not a number' is not a number")
    child.sendline("nan")
    child.expect("nan is not a finite number")
    child.sendline("-inf")
    child.expect("-inf is not a finite number")
    child.sendline("4,667")
    child.expect("4,667 has a comma, which could be a decimal or a thousands separator")
    child.sendline("123")
    child.expect(r"Wrong: the answer is \d")
    child.expect(r"Worked: -ln p = -ln\((0\.\d+)\) = ")  # the drawn p, not the generic formula
    child.expect(r"Saved \(Again\)")
    child.sendline("q")
    child.expect("correct: 1 of 3")
    child.expect(pexpect.EOF)


def test_corrupt_database_gives_a_clear_error(tmp_path: Path, bank: Path) -> None:
    db = tmp_path / "q.sqlite3"
    db.write_bytes(b"\x00garbage" * 512)
    for sub in ([], ["stats"], ["plan"]):
        proc = run_quiz(*sub, "--db", str(db), "--cards", str(bank), "--now", iso(T0))
        assert proc.returncode == 2, proc
        assert "Traceback" not in proc.stderr and proc.stdout == ""
        assert proc.stderr.count("\n") == 1 and "not a lossprep quiz database" in proc.stderr and str(db) in proc.stderr
    assert db.read_bytes() == b"\x00garbage" * 512


def test_malformed_card_file_gives_a_clear_error(tmp_path: Path, bank: Path) -> None:
    (bank / "demo.yml").write_text(BANK.replace("answer: 1", "answer: 9"))
    for sub in ([], ["stats"], ["export-anki", str(tmp_path / "x.apkg")]):
        proc = run_quiz(*sub, "--db", str(tmp_path / "q.sqlite3"), "--cards", str(bank))
        assert proc.returncode == 2, proc
        assert "Traceback" not in proc.stderr
        assert proc.stderr.count("\n") == 1
        assert str(bank / "demo.yml") in proc.stderr and "'demo-mcq'" in proc.stderr and "field 'answer'" in proc.stderr


def test_bad_options_give_clear_errors(tmp_path: Path, bank: Path) -> None:
    for args, message in [
        (["--now", "2026-03-02T09:00:00"], "UTC offset"),
        (["--now", "yesterday"], "Expected an ISO 8601 time with its zone"),
        (["--day-start", "25"], "Expected --day-start as an hour from 0 to 23"),
        (["--new", "-1"], "Expected --new >= 0"),
        (["--chapter", "nope"], "no card file for chapter(s) nope"),
    ]:
        proc = run_quiz("--db", str(tmp_path / "q.sqlite3"), "--cards", str(bank), *args)
        assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc


NO_HEAVY = """
import sys
import lossprep.cli as cli
code = cli.main(sys.argv[1:])
heavy = sorted(m for m in ("torch", "matplotlib", "sympy", "numpy", "nbformat") if m in sys.modules)
print("HEAVY:", ",".join(heavy))
"""


def test_quiz_imports_neither_torch_nor_matplotlib(tmp_path: Path) -> None:
    """The real bank (numeric cards included), one card answered, end of input."""
    db = tmp_path / "q.sqlite3"
    proc = subprocess.run(
        [sys.executable, "-c", NO_HEAVY, "quiz", "--db", str(db), "--now", iso(T0)],
        cwd=ROOT,
        env=quiz_env(),
        input="\n3\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "reviewed: 1" in proc.stdout
    assert proc.stdout.strip().endswith("HEAVY:"), proc.stdout[-300:]
    for sub in (["stats"], ["plan"], ["optimize"], ["export-anki", str(tmp_path / "deck.apkg")]):
        proc = subprocess.run(
            [sys.executable, "-c", NO_HEAVY, "quiz", *sub, "--db", str(db), "--now", iso(T0)],
            cwd=ROOT,
            env=quiz_env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip().endswith("HEAVY:"), (sub, proc.stdout[-300:])


def test_stats_and_plot(tmp_path: Path, bank: Path) -> None:
    db = tmp_path / "q.sqlite3"
    with Store.open(db) as store:
        store.record_review("demo-recall", Rating.Good, T0 - timedelta(days=3))
        store.record_review("demo-recall", Rating.Good, T0 - timedelta(days=2))
        store.record_review("demo-mcq", Rating.Again, T0 - timedelta(days=2))
        store.record_review("demo-mcq", Rating.Good, T0 - timedelta(days=1))
        store.record_review("elsewhere", Rating.Again, T0)  # not in this bank: ignored
    plot = tmp_path / "stats.png"
    proc = run_quiz(
        "stats", "--db", str(db), "--cards", str(bank), "--now", iso(T0), "--days", "5", "--plot", str(plot)
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert re.search(r"New\s+2\b", out) and re.search(r"Learning\s+1\b", out) and re.search(r"Review\s+1\b", out)
    assert "Reviews: 4 in all; retention over the last 5 days: 75%" in out
    assert re.search(r"2026-02-28\s+2\s+50%", out) and re.search(r"2026-02-27\s+1\s+100%", out)
    forecast = out.split("Forecast")[1]
    assert re.search(r"2026-03-02\s+1\b", forecast)  # the overdue learning card counts today
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    proc = run_quiz("stats", "--db", str(db), "--cards", str(bank), "--plot", str(tmp_path / "x.pdf"))
    assert proc.returncode == 2 and "Expected --plot FILE.png" in proc.stderr


def test_plan_follows_day_0_3_7_14_21(tmp_path: Path, bank: Path) -> None:
    db = tmp_path / "q.sqlite3"
    with Store.open(db) as store:
        store.record_review("demo-mcq", Rating.Again, T0)
    proc = run_quiz("plan", "--db", str(db), "--cards", str(bank), "--now", iso(T0 + timedelta(days=15)))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Study plan started 2026-03-02; today is day 15." in out
    assert [int(d) for d in re.findall(r"day\s+(\d+) \(", out)] == [0, 3, 7, 14, 21]
    assert re.search(r">> day 14 \(2026-03-16\): Application", out)
    assert "book/likelihoods" in out and "sections to re-read: demo#two" in out
    assert "Next checkpoint: day 21, Mock interview, on 2026-03-23." in out
    assert "FSRS cards: 1 due now, 3 not yet seen" in out
    proc = run_quiz("plan", "--db", str(db), "--cards", str(bank), "--now", iso(T0), "--start", "2026-02-01")
    assert "today is day 29" in proc.stdout and "The plan is complete" in proc.stdout


def test_startup_benchmark_reaches_the_first_card(tmp_path: Path) -> None:
    """The benchmark (benchmarks/quiz_startup.py) measures a real session up to the first
    card. Its numbers are reported from benchmarks/, not asserted here: timings on a shared
    machine are noise, so this only checks that the measurement works."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from quiz_startup import time_to_first_card
    finally:
        sys.path.pop(0)
    seconds = time_to_first_card(tmp_path / "q.sqlite3")
    assert 0.0 < seconds < 60.0
    assert (tmp_path / "q.sqlite3").is_file()


def test_time_box_and_chapter_filter(tmp_path: Path, bank: Path) -> None:
    (bank / "other.yml").write_text(BANK.replace("chapter: demo", "chapter: other").replace("id: demo-", "id: other-"))
    db = tmp_path / "q.sqlite3"
    child = spawn(db, bank, T0, "--chapter", "other", "--minutes", "0.002")  # 0.12 s
    child.expect("0 due, 4 new")
    child.expect(r"\[1/4\] other · recall · other-recall")
    child.expect("shows the answer")
    child.sendline("")
    child.expect("Rate 1-4")
    time.sleep(0.5)  # past the 0.12 s box for sure, however fast this machine answers
    child.sendline("3")
    child.expect(r"Session summary \(time box reached\)")
    child.expect("reviewed: 1")
    child.expect("new cards: 3 not yet seen")  # of chapter "other" only
    child.expect(pexpect.EOF)
    with Store.open(db) as store:
        assert [r.card_id for r in store.reviews()] == ["other-recall"]


# --- learning steps, undo, local days ------------------------------------------------------


def test_a_card_rated_again_comes_back_in_the_same_session(tmp_path: Path, bank: Path) -> None:
    db = tmp_path / "q.sqlite3"
    child = spawn(db, bank, T0, "--new", "2")
    child.expect("0 due, 2 new")
    child.expect(r"\[1/2\] demo · recall · demo-recall\r\n")
    child.expect("shows the answer")
    child.sendline("")
    child.expect(r"1 Again 1m · 2 Hard 6m · 3 Good 10m · 4 Easy \d+d\r\n")  # fsrs's steps, before rating
    child.sendline("1")
    child.expect(r"Saved \(Again\); next review in 1 min \(it comes back in this session\)")
    answer_card(child)  # demo-mcq, right: Good, its 10-minute step
    # nothing else is due: the session offers the learning cards instead of ending
    child.expect(r"2 cards in learning come back within 20 min \(the next in 1 min\)")
    child.sendline("")
    child.expect(HEADER)
    assert child.match.group(0).startswith("[3/4] demo · recall · demo-recall · again")
    answer_card(child, header=False)  # Good: to its 10-minute step
    seen = [answer_card(child)[0] for _ in range(2)]  # both graduate on Good
    assert sorted(seen) == ["demo-mcq", "demo-recall"]
    child.expect(r"reviewed: 5\r\n")
    child.expect(r"correct: 4 of 5  \(Again 1, Good 4\)")
    child.expect(pexpect.EOF)
    with Store.open(db) as store:
        rows = store.reviews("demo-recall")
        assert [r.rating for r in rows] == [Rating.Again, Rating.Good, Rating.Good]
        assert store.card("demo-recall").state == State.Review
        assert store.card("demo-recall").due == fsrs_due([(r.rating, r.reviewed_at) for r in rows])


def test_undo_takes_back_the_last_answer_and_shows_the_card_again(tmp_path: Path, bank: Path) -> None:
    db = tmp_path / "q.sqlite3"
    child = spawn(db, bank, T0)
    child.expect(r"\[1/4\] demo · recall")
    child.expect("shows the answer")
    child.sendline("u")
    child.expect("Nothing to undo yet.")
    child.sendline("")
    child.expect("Rate 1-4")
    child.sendline("3")
    child.expect(r"\[2/4\] demo · mcq · demo-mcq")
    child.expect(r"Your answer \(a-d, u undo")
    child.sendline("u")
    child.expect(r"Undone: demo-recall \(Good\) is out of your history; here it is again\.")
    child.expect(HEADER)
    assert child.match.group(0).startswith("[1/4] demo · recall · demo-recall")
    with Store.open(db) as store:  # the review left the database at once
        assert store.reviews() == [] and store.cards() == {}
    answer_card(child, recall_rating="4", header=False)
    answer_card(child)  # demo-mcq
    child.expect(r"\[3/4\] demo · numeric")
    child.expect(r"Your answer \(a number")
    child.sendline("u")  # an automatically graded card is undone the same way
    child.expect(r"Undone: demo-mcq \(Good\)")
    cid, _ = answer_card(child)
    assert cid == "demo-mcq"
    child.expect(r"\[3/4\] demo · numeric")
    child.sendline("q")
    child.expect(r"reviewed: 2 \(2 answers undone\)")
    child.expect(pexpect.EOF)
    check_store(db, {"demo-recall": [(Rating.Easy, T0)], "demo-mcq": [(Rating.Good, T0)]})


class StepClock(Clock):
    """A clock that moves 30 seconds on at every prompt (a reader answering)."""

    def __init__(self, start: datetime) -> None:
        super().__init__(fixed=start)
        object.__setattr__(self, "ticks", [0])

    def now(self) -> datetime:
        return self.fixed + timedelta(seconds=30 * self.ticks[0])


def test_a_learning_step_falls_due_while_the_session_runs(tmp_path: Path, bank: Path) -> None:
    """In real time (no learn-ahead needed): the recall card rated Again at 1 minute comes back
    before the remaining new cards once its minute has passed."""
    clock = StepClock(T0)
    shown: list[str] = []
    answers = iter(["", "1", "b", "0.5", "", "3", "", "3"])

    def reader(prompt: str) -> str:
        clock.ticks[0] += 1
        answer = next(answers, None)
        if answer is None:
            raise EOFError  # the reader stops: Ctrl-D
        return answer

    out = io.StringIO()
    with Store.open(tmp_path / "q.sqlite3") as store:
        session = Session(
            store,
            list(load_bank(bank).cards),
            clock=clock,
            new_per_day=10,
            minutes=None,
            rng=random.Random(7),
            out=out,
            input_fn=reader,
            width=80,
        )
        with pytest.raises(Quit):
            session.run()
        shown = re.findall(r"\] demo · \w+ · ([\w-]+)", out.getvalue())
        assert shown[:4] == ["demo-recall", "demo-mcq", "demo-numeric", "demo-recall"], out.getvalue()
        assert [r.card_id for r in store.reviews()][:4] == ["demo-recall", "demo-mcq", "demo-numeric", "demo-recall"]


NEW_YORK = ZoneInfo("America/New_York")


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=NEW_YORK).astimezone(UTC)


def run_day(db: Path, cards: Path, when: datetime, *extra: str) -> str:
    """One session in New York at ``when``: answer everything right (Good), learn ahead, and
    return the whole transcript."""
    child = spawn(db, cards, when, "--new", "1", *extra, tz="America/New_York")
    child.logfile_read = transcript = io.StringIO()
    while True:
        i = child.expect([HEADER, "review them, n ends the session", "Session summary"])
        if i == 0:
            answer_card(child, header=False)
        elif i == 1:
            child.sendline("")
        else:
            break
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    return transcript.getvalue().replace("\r\n", "\n")


def test_a_week_of_days_follows_local_time(tmp_path: Path, bank: Path) -> None:
    """A week in New York (UTC-5, then UTC-4 from Sunday 8 March 2026), one new card a day.

    The day starts at 4 am local time, not at midnight UTC: the quota of new cards, what is due
    today and the printed times all follow it."""
    db = tmp_path / "q.sqlite3"
    wed = date(2026, 3, 4)
    log: dict[str, str] = {}

    # Wednesday 18:00 EST (23:00 UTC): the first new card.
    text = run_day(db, bank, local(wed, 18))
    assert "0 due, 1 new" in text
    # 21:30 EST is 02:30 UTC on Thursday: a new UTC day, but the same study day, so no new card.
    child = spawn(db, bank, local(wed, 21, 30), "--new", "1", tz="America/New_York")
    child.expect("Nothing to review now.")
    child.expect(r"today's 1 are done\.\s+1 more from\s+2026-03-05 04:00 EST")
    child.expect(pexpect.EOF)
    # Thursday 03:00 EST is still Wednesday's study day (it starts at 4 am) ...
    child = spawn(db, bank, local(wed + timedelta(days=1), 3), "--new", "1", tz="America/New_York")
    child.expect("Nothing to review now.")
    child.expect(pexpect.EOF)
    # ... and at 04:00 EST Thursday's card comes.
    text = run_day(db, bank, local(wed + timedelta(days=1), 4))
    assert "0 due, 1 new" in text

    # Then one evening session a day, 18:00 local, across the change to daylight saving time.
    for offset in range(2, 7):
        day = wed + timedelta(days=offset)
        log[day.isoformat()] = run_day(db, bank, local(day, 18))

    # Every review card became due on its local due day from 04:00 local: replay the history
    # with fsrs and New York's calendar, independently of the quiz's clock.
    with Store.open(db) as store:
        reviews = store.reviews()
        states = store.cards()
    assert len({r.card_id for r in reviews}) == 4  # one new card per study day while any were left
    first_day = {cid: min(r.reviewed_at for r in reviews if r.card_id == cid) for cid in states}
    assert sorted((t - timedelta(hours=4)).astimezone(NEW_YORK).date() for t in first_day.values()) == [
        wed + timedelta(days=i) for i in range(4)
    ]
    checked = 0
    for r in reviews:
        history = [(x.rating, x.reviewed_at) for x in reviews if x.card_id == r.card_id and x.id < r.id]
        if not history or history[-1][1] == r.reviewed_at:
            continue  # a new card, or a learning step within the session
        due = fsrs_due(history)
        due_day = (due.astimezone(NEW_YORK) - timedelta(hours=4)).date()
        session_day = (r.reviewed_at.astimezone(NEW_YORK) - timedelta(hours=4)).date()
        assert session_day == due_day, (r.card_id, r.reviewed_at, due)  # on its local due day, not later
        checked += 1
    assert checked >= 2, reviews

    # The last summary's "next due" is printed in local time (EDT now) and agrees with a rerun.
    last = log[(wed + timedelta(days=6)).isoformat()]
    m = re.search(r"next due:\s+(\d{4}-\d\d-\d\d \d\d:\d\d) (E[SD]T) \([^)]*\): (\d+) cards?", last)
    assert m, last
    assert m.group(2) == "EDT"
    when = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M").replace(tzinfo=NEW_YORK).astimezone(UTC)
    assert when.astimezone(NEW_YORK).hour == 4  # review cards become due when the study day starts
    child = spawn(db, bank, when, "--new", "0", tz="America/New_York")
    child.expect(rf"{m.group(3)} due, 0 new")
    child.sendline("q")
    child.expect(pexpect.EOF)
    child = spawn(db, bank, when - timedelta(minutes=1), "--new", "0", tz="America/New_York")
    child.expect("Nothing to review now.")
    child.expect(pexpect.EOF)
