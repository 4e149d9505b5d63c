"""The quiz's SQLite store and its FSRS scheduling: persistence, refusal, concurrency."""

from __future__ import annotations

import json
import os
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
ROOT = Path(__file__).resolve().parents[1]


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


# --- undo, migration, personal parameters -----------------------------------------------------


def test_undo_restores_the_state_before_the_review(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    with Store.open(path) as store:
        first, id1 = store.record("c", Rating.Good, T0)
        _, id2 = store.record("c", Rating.Again, T0 + timedelta(minutes=12))
        store.record("other", Rating.Good, T0)
        restored = store.undo_review(id2)
        assert restored is not None and restored.to_dict() == first.to_dict()
    with Store.open(path) as store:  # what was undone is gone from the file, not just from memory
        assert [r.id for r in store.reviews("c")] == [id1]
        assert store.card("c").to_dict() == first.to_dict()
        with pytest.raises(StoreError, match="already undone"):
            store.undo_review(id2)
        assert store.undo_review(id1) is None  # the card's first review: it is new again
        assert store.card("c") is None and store.reviews("c") == []
        assert [r.card_id for r in store.reviews()] == ["other"]


def test_undo_refuses_a_review_that_is_not_the_cards_latest(tmp_path: Path) -> None:
    with Store.open(tmp_path / "q.sqlite3") as store:
        _, old = store.record("c", Rating.Good, T0)
        store.record("c", Rating.Good, T0 + timedelta(minutes=15))  # another session, say
        with pytest.raises(StoreError, match="reviewed again since"):
            store.undo_review(old)
        assert len(store.reviews("c")) == 2


V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE cards (card_id TEXT PRIMARY KEY, fsrs TEXT NOT NULL, state INTEGER NOT NULL, due TEXT NOT NULL,
                    updated_at TEXT NOT NULL);
CREATE TABLE reviews (id INTEGER PRIMARY KEY AUTOINCREMENT, card_id TEXT NOT NULL,
                      rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4), reviewed_at TEXT NOT NULL,
                      duration_ms INTEGER, kind TEXT, correct INTEGER, due_after TEXT NOT NULL);
"""


def test_a_version_1_database_is_read_as_is_and_upgraded_by_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(V1_SCHEMA)
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [("application", "lossprep-quiz"), ("schema_version", "1")])
    card, _ = review(new_card("c", T0), Rating.Good, T0)
    conn.execute(
        "INSERT INTO cards VALUES (?, ?, ?, ?, ?)",
        ("c", json.dumps(card.to_dict()), int(card.state), fmt_time(card.due), fmt_time(T0)),
    )
    conn.execute(
        "INSERT INTO reviews(card_id, rating, reviewed_at, due_after) VALUES (?, ?, ?, ?)",
        ("c", 3, fmt_time(T0), fmt_time(card.due)),
    )
    conn.commit()
    conn.close()
    with Store.open(path, readonly=True) as store:  # a reader does not change the file
        assert [r.card_id for r in store.reviews()] == ["c"]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 1
    with Store.open(path) as store:
        store.record("c", Rating.Good, T0 + timedelta(minutes=20))
        assert len(store.reviews("c")) == 2
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    assert "state_before" in {row[1] for row in conn.execute("PRAGMA table_info(reviews)")}
    conn.close()


def test_personal_parameters_schedule_later_reviews(tmp_path: Path) -> None:
    path = tmp_path / "q.sqlite3"
    params = list(Scheduler().parameters)
    params[2] = 5.0  # initial stability after Good: 5 days instead of 2.3
    with Store.open(path) as store:
        assert store.parameters() is None
        store.set_parameters(params, fitted_at="now")
        with pytest.raises(ValueError, match="out of bounds"):
            store.set_parameters([*params[:20], 99.0])
    with Store.open(path) as store:
        assert store.parameters() == params
        after = store.record_review("c", Rating.Good, T0)
        after = store.record_review("c", Rating.Good, T0 + timedelta(minutes=10))
    mine = Scheduler(parameters=params, enable_fuzzing=False)
    card = FsrsCard(card_id=1, due=T0)
    for when in (T0, T0 + timedelta(minutes=10)):
        card, _ = mine.review_card(card, Rating.Good, when)
    assert after.due == card.due != fsrs_replay("c", [(Rating.Good, T0), (Rating.Good, T0 + timedelta(minutes=10))]).due


# --- read-only files, and readers that create nothing ------------------------------------------


def read_only_run(args: list[str], protect: Path, *, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``lossprep quiz ARGS`` with ``protect`` (a file or a folder) write-protected.

    An ordinary user gets ``chmod a-w``; root ignores permissions, so for root the path is bound
    read-only with bubblewrap (a read-only mount: what a write-protected file is to root)."""
    cmd = [sys.executable, "-m", "lossprep.cli", "quiz", *args]
    if os.geteuid() == 0:
        cmd = ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(protect), str(protect), *cmd]
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    mode = protect.stat().st_mode
    protect.chmod(mode & ~0o222)
    try:
        return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
    finally:
        protect.chmod(mode)


@pytest.fixture
def history(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    path = folder / "q.sqlite3"
    with Store.open(path) as store:
        store.record_review("lik-recipe", Rating.Good, T0)
        store.record_review("lik-recipe", Rating.Good, T0 + timedelta(minutes=10))
    return path


@pytest.mark.parametrize("what", ["file", "folder"])
def test_a_read_only_database_is_refused_at_once_but_still_read(history: Path, what: str) -> None:
    protect = history if what == "file" else history.parent
    before = history.read_bytes()
    now = ["--now", "2026-03-20T09:00:00Z"]
    proc = read_only_run(["--db", str(history), *now], protect)
    assert proc.returncode == 2, proc
    assert proc.stdout == "" and "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
    assert f"{history} is read-only" in proc.stderr and "a session could not save your answers" in proc.stderr
    assert "`lossprep quiz stats` and `lossprep quiz plan` can still read it" in proc.stderr
    assert "corrupt" not in proc.stderr
    for sub in (["stats"], ["plan"]):
        proc = read_only_run([*sub, "--db", str(history), *now], protect)
        assert proc.returncode == 0, proc
        assert "Traceback" not in proc.stderr
    assert "Reviews: 2 in all" in read_only_run(["stats", "--db", str(history), *now], protect).stdout
    assert history.read_bytes() == before
    # at most SQLite's own shared-memory files beside it (a reader in a writable folder makes them)
    assert {p.name for p in history.parent.iterdir()} <= {"q.sqlite3", "q.sqlite3-wal", "q.sqlite3-shm"}


def test_reading_commands_never_create_a_database(tmp_path: Path) -> None:
    typo = tmp_path / "a" / "typo" / "path.sqlite3"
    for sub in ("stats", "plan", "optimize"):
        proc = subprocess.run(
            [sys.executable, "-m", "lossprep.cli", "quiz", sub, "--db", str(typo)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc
        assert f"no quiz database at {typo}" in proc.stderr and proc.stderr.count("\n") == 1
    assert not (tmp_path / "a").exists()
    # The default path before the first session: an empty history, said plainly; nothing made.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOSSPREP_QUIZ")}
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    for sub in ("stats", "plan"):
        proc = subprocess.run(
            [sys.executable, "-m", "lossprep.cli", "quiz", sub],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert proc.returncode == 0, proc
        assert proc.stdout.startswith("No reviews yet: ") and "does not exist" in proc.stdout
    assert not (tmp_path / "xdg").exists()
