"""The quiz's SQLite store and its FSRS scheduling: persistence, refusal, concurrency."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from fsrs import Card as FsrsCard
from fsrs import Rating, Scheduler

from lossprep.quiz.scheduler import fsrs_id, new_card, require_utc, review
from lossprep.quiz.store import APPLICATION_ID, SCHEMA_VERSION, Store, StoreError, fmt_time, parse_time

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def fsrs_replay(card_id: str, history: list[tuple[Rating, datetime]]) -> FsrsCard:
    """What plain ``fsrs`` computes for these ratings and times (independent of our code)."""
    sched = Scheduler(enable_fuzzing=False)
    card = FsrsCard(card_id=1, due=history[0][1])
    for rating, when in history:
        card, _ = sched.review_card(card, rating, when)
    return card


def test_new_store_has_identity_and_schema(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "q.sqlite3"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert dict(conn.execute("SELECT key, value FROM meta"))["application"] == "lossprep-quiz"
    conn.close()


def test_reviews_persist_and_match_fsrs(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    history = [
        (Rating.Good, T0),
        (Rating.Good, T0 + timedelta(minutes=15)),
        (Rating.Again, T0 + timedelta(days=3)),
        (Rating.Easy, T0 + timedelta(days=3, hours=1)),
    ]
    for rating, when in history:  # reopen for every review: nothing lives in memory
        with Store.open(path) as store:
            store.record_review("c-one", rating, when, kind="recall")
    with Store.open(path) as store:
        got = store.card("c-one")
        rows = store.reviews("c-one")
    want = fsrs_replay("c-one", history)
    assert got is not None
    assert (got.due, got.state, got.stability, got.difficulty) == (
        want.due,
        want.state,
        want.stability,
        want.difficulty,
    )
    assert [(r.rating, r.reviewed_at) for r in rows] == history
    assert rows[-1].due_after == want.due


def test_scheduler_is_pure_and_utc_only() -> None:
    card = new_card("x", T0)
    after, log = review(card, Rating.Good, T0)
    assert card.last_review is None and after.last_review == T0 and log.rating == Rating.Good
    assert fsrs_id("x") == fsrs_id("x") != fsrs_id("y") and fsrs_id("x") > 0
    with pytest.raises(ValueError, match="Expected a timezone-aware UTC datetime"):
        review(card, Rating.Good, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="Expected a timezone-aware UTC datetime"):
        require_utc(datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2))))
    assert parse_time(fmt_time(T0)) == T0 and len(fmt_time(T0)) == len(fmt_time(T0 + timedelta(microseconds=5)))


def test_new_cards_per_day_counts_first_reviews(tmp_path: Path) -> None:
    with Store.open(tmp_path / "q.sqlite3") as store:
        store.record_review("a", 3, T0)
        store.record_review("a", 3, T0 + timedelta(minutes=20))
        store.record_review("b", 1, T0 + timedelta(hours=1))
        store.record_review("c", 3, T0 + timedelta(days=1))
        day = timedelta(days=1)
        assert store.first_reviews_between(T0, T0 + day) == 2
        assert store.first_reviews_between(T0 + day, T0 + 2 * day) == 1
        assert store.first_reviews_between(T0 + timedelta(minutes=1), T0 + day) == 1  # "a" started before


def test_foreign_files_are_refused_and_left_untouched(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_bytes(b"my precious notes\n" * 100)
    foreign = tmp_path / "other.sqlite3"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE cards(x)")
    conn.execute("INSERT INTO cards VALUES (1)")
    conn.commit()
    conn.close()
    for path, message in [(text, "not an SQLite file"), (foreign, "another application")]:
        before = path.read_bytes()
        with pytest.raises(StoreError, match=message) as info:
            Store.open(path)
        assert "left untouched" in str(info.value) and str(path) in str(info.value)
        assert path.read_bytes() == before
        assert not Path(str(path) + "-wal").exists()
    with pytest.raises(StoreError, match="is a directory"):
        Store.open(tmp_path)


def test_corrupt_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with Store.open(path) as store:
        for i in range(300):
            store.record_review(f"card-{i}", 3, T0, kind="recall")
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 4 * page
    data[2 * page : 4 * page] = b"\xde\xad\xbe\xef" * (page // 2)
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="corrupt") as info:
        Store.open(path)
    assert str(path) in str(info.value)
    assert path.read_bytes() == bytes(data)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    Store.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer lossprep"):
        Store.open(path)


WRITER = textwrap.dedent(
    """
    import sys
    from datetime import datetime, timedelta, timezone
    from lossprep.quiz.store import Store
    path, tag, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    t0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    with Store.open(path) as store:
        for i in range(n):
            # both writers hit the same cards, so each review must re-read the other's state
            store.record_review(f"shared-{i % 5}", 3, t0 + timedelta(seconds=i), kind=tag)
    """
)


def test_two_sessions_at_once_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    Store.open(path).close()
    n = 60
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), tag, str(n)], stderr=subprocess.PIPE, text=True)
        for tag in ("a", "b")
    ]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    with Store.open(path) as store:
        rows = store.reviews()
        cards = store.cards()
    assert len(rows) == 2 * n
    assert sorted({r.kind for r in rows}) == ["a", "b"]
    assert sorted(cards) == [f"shared-{i}" for i in range(5)]
