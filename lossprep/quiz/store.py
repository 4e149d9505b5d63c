"""The quiz's SQLite store: card states and the full review log, in one file.

Scheduling stays pure (:mod:`lossprep.quiz.scheduler`); this module only keeps what it
returns. Guarantees:

- **One transaction per review.** :meth:`Store.record_review` reads the card's current state,
  schedules it and writes the new state and the log row inside one ``BEGIN IMMEDIATE``
  transaction, so a crash, a ``kill -9`` or Ctrl-C loses at most the card on screen.
- **Two sessions at once lose nothing.** The file is in WAL mode with a busy timeout, and
  because each review re-reads the card inside its transaction, two sessions reviewing the
  same card both land in the log and the later one schedules from the earlier one's state.
- **A foreign or corrupt file is refused, never overwritten.** A new file gets an
  ``application_id`` (``LPQZ``), a ``user_version`` (the schema version) and a ``meta`` table;
  an existing file without them, or failing SQLite's ``quick_check``, raises
  :class:`StoreError` with a one-line message and is left exactly as it was.
- **A read-only file is said so at open.** A session (a writer) checks that the file and its
  folder are writable before the first card and refuses with a one-line message otherwise;
  ``stats`` and ``plan`` open the file read-only (``Store.open(..., readonly=True)``), never
  create one, and work on a write-protected file.
- **Undo.** Each review row keeps the card's state before it, so :meth:`Store.undo_review`
  deletes the row and restores that state in one transaction.
- **Personal parameters.** ``lossprep quiz optimize`` stores the reader's fitted FSRS
  parameters in ``meta``; :meth:`Store.scheduler` schedules with them.
- **UTC only.** Times are stored as ISO 8601 UTC strings of fixed width (they sort as text).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lossprep.quiz.scheduler import Card, Rating, Scheduler, make_scheduler, new_card, require_utc, review

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "ENV_DB",
    "StoreError",
    "StoreMissing",
    "ReviewRow",
    "Store",
    "default_db_path",
    "fmt_time",
    "parse_time",
]

APPLICATION_ID = int.from_bytes(b"LPQZ", "big")
SCHEMA_VERSION = 2
ENV_DB = "LOSSPREP_QUIZ_DB"
_SQLITE_MAGIC = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS cards (
    card_id    TEXT PRIMARY KEY,
    fsrs       TEXT NOT NULL,          -- fsrs.Card.to_dict() as JSON
    state      INTEGER NOT NULL,       -- fsrs.State: 1 learning, 2 review, 3 relearning
    due        TEXT NOT NULL,          -- fixed-width UTC, sorts as text
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS cards_due ON cards(due);
CREATE TABLE IF NOT EXISTS reviews (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    card_id     TEXT NOT NULL,
    rating      INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4),
    reviewed_at TEXT NOT NULL,
    duration_ms INTEGER,
    kind        TEXT,
    correct     INTEGER,                -- 1/0 for graded kinds, NULL for self-rated ones
    due_after   TEXT NOT NULL,
    state_before TEXT                   -- fsrs.Card.to_dict() before this review (NULL: first review)
);
CREATE INDEX IF NOT EXISTS reviews_card ON reviews(card_id, reviewed_at);
CREATE INDEX IF NOT EXISTS reviews_time ON reviews(reviewed_at);
"""


class StoreError(Exception):
    """The database cannot be used; the message says why and what to do."""


class StoreMissing(StoreError):
    """A reading command was pointed at a database that does not exist (nothing is created)."""


_PARAMETERS_KEY = "fsrs_parameters"


def fmt_time(when: datetime) -> str:
    """Fixed-width UTC text: ``2026-01-01T00:00:00.000000Z``."""
    return require_utc(when).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> datetime:
    """Inverse of :func:`fmt_time`."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def default_db_path() -> Path:
    """``$LOSSPREP_QUIZ_DB`` if set, else ``quiz.sqlite3`` in the user data directory."""
    env = os.environ.get(ENV_DB, "").strip()
    if env:
        return Path(env)
    from platformdirs import user_data_dir

    return Path(user_data_dir("lossprep", appauthor=False)) / "quiz.sqlite3"


@dataclass(frozen=True)
class ReviewRow:
    """One line of the review log."""

    id: int
    card_id: str
    rating: Rating
    reviewed_at: datetime
    duration_ms: int | None
    kind: str | None
    correct: bool | None
    due_after: datetime


class Store:
    """An open quiz database. Use :meth:`open`; close with :meth:`close` or ``with``."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, readonly: bool = False) -> None:
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._scheduler: Scheduler | None = None

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path | str, *, readonly: bool = False, timeout_s: float = 30.0) -> Store:
        """Open the quiz database at ``path``; :class:`StoreError` if it cannot be used.

        A writer (the default) creates the file if it is absent and refuses a file it could not
        save to; ``readonly=True`` (``stats``, ``plan``) never creates or changes anything and
        raises :class:`StoreMissing` when there is no file.
        """
        path = Path(path).expanduser()
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not a quiz database; pass a file path with --db")
        exists = path.exists() and path.stat().st_size > 0
        if exists:
            try:
                with path.open("rb") as fh:
                    head = fh.read(len(_SQLITE_MAGIC))
            except OSError as exc:
                raise StoreError(f"cannot read {path}: {exc.strerror}") from None
            if head != _SQLITE_MAGIC:
                raise StoreError(
                    f"{path} is not a lossprep quiz database (not an SQLite file); it was left untouched. Move it away or choose another file with --db"
                )
        elif readonly:
            raise StoreMissing(f"no quiz database at {path} (a first session creates it: lossprep quiz --db {path})")
        if not readonly:
            if exists:
                _check_writable(path)
            else:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    raise StoreError(f"cannot create the folder for {path}: {exc.strerror}") from None
                if not os.access(path.parent, os.W_OK | os.X_OK):
                    raise StoreError(
                        f"cannot create {path}: its folder is write-protected; choose another file with --db"
                    )
        try:
            conn = (
                _connect_readonly(path, timeout_s)
                if readonly
                else sqlite3.connect(str(path), timeout=timeout_s, isolation_level=None)
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from None
        store = cls(conn, path, readonly=readonly)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
            store._check_or_init(path)
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                store._probe_write()
        except StoreError:
            conn.close()
            raise
        except sqlite3.DatabaseError as exc:
            conn.close()
            if "readonly" in str(exc).replace(" ", "") or "read-only" in str(exc):
                raise StoreError(_read_only_message(path, "SQLite cannot write to it")) from None
            raise StoreError(
                f"{path} is corrupt or not a lossprep quiz database ({exc}); it was left untouched. Restore a backup or choose another file with --db"
            ) from None
        return store

    @classmethod
    def memory(cls) -> Store:
        """An empty store in memory: what a reading command shows before the first session."""
        conn = sqlite3.connect(":memory:", isolation_level=None)
        store = cls(conn, Path(":memory:"))
        store._check_or_init(store.path)
        return store

    def _probe_write(self) -> None:
        """Fail now, not at the first answer, if SQLite cannot write (a read-only mount, ...)."""
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            c.execute("UPDATE meta SET value = value WHERE key = 'application'")
        finally:
            c.execute("ROLLBACK")

    def _check_or_init(self, path: Path) -> None:
        c = self._conn
        app_id = c.execute("PRAGMA application_id").fetchone()[0]
        if app_id == 0 and not self.readonly:
            c.execute("BEGIN IMMEDIATE")
            try:
                app_id = c.execute("PRAGMA application_id").fetchone()[0]
                n_objects = c.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
                if app_id == 0 and n_objects == 0:
                    for stmt in _SCHEMA.split(";"):
                        if stmt.strip():
                            c.execute(stmt)
                    c.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                    c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                    c.executemany(
                        "INSERT INTO meta(key, value) VALUES (?, ?)",
                        [
                            ("application", "lossprep-quiz"),
                            ("schema_version", str(SCHEMA_VERSION)),
                            ("created_at", fmt_time(datetime.now(UTC))),
                        ],
                    )
                    app_id = APPLICATION_ID
                c.execute("COMMIT")
            except BaseException:
                c.execute("ROLLBACK")
                raise
        if app_id != APPLICATION_ID:
            raise StoreError(
                f"{path} is an SQLite database of another application, not a lossprep quiz database; it was left untouched. Choose another file with --db"
            )
        version = c.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{path} was written by a newer lossprep (schema {version}, this one reads {SCHEMA_VERSION}); upgrade lossprep"
            )
        try:
            meta = dict(c.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.OperationalError:
            meta = {}
        if meta.get("application") != "lossprep-quiz":
            raise StoreError(
                f"{path} is not a lossprep quiz database (its meta table is missing or wrong); it was left untouched"
            )
        check = c.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise StoreError(
                f"{path} is corrupt (SQLite quick_check: {check}); it was left untouched. Restore a backup or choose another file with --db"
            )
        if version < SCHEMA_VERSION and not self.readonly:
            self._migrate(version)

    def _migrate(self, version: int) -> None:
        """Bring an older schema up to :data:`SCHEMA_VERSION` in one transaction."""
        with self._write() as c:
            if version < 2:  # 2: reviews keep the state before them, for undo
                c.execute("ALTER TABLE reviews ADD COLUMN state_before TEXT")
            c.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            c.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction: committed on success, rolled back otherwise."""
        c = self._conn
        c.execute("BEGIN IMMEDIATE")
        try:
            yield c
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")

    # -- meta -------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._write() as c:
            c.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def parameters(self) -> list[float] | None:
        """The reader's FSRS parameters from ``lossprep quiz optimize``, or None for the defaults."""
        raw = self.get_meta(_PARAMETERS_KEY)
        if raw is None:
            return None
        try:
            values = json.loads(raw)["parameters"]
            make_scheduler(values)  # fsrs validates count and bounds
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"{self.path}: the stored FSRS parameters are unreadable ({exc}); run lossprep quiz optimize again"
            ) from None
        return [float(v) for v in values]

    def set_parameters(self, parameters: list[float], **info: object) -> None:
        """Store fitted FSRS parameters (validated by ``fsrs``); later sessions schedule with them."""
        make_scheduler(parameters)
        self.set_meta(_PARAMETERS_KEY, json.dumps({"parameters": [float(p) for p in parameters], **info}))
        self._scheduler = None

    @property
    def scheduler(self) -> Scheduler:
        """The scheduler for this database: the reader's parameters if optimised, else the defaults."""
        if self._scheduler is None:
            self._scheduler = make_scheduler(self.parameters())
        return self._scheduler

    # -- cards and reviews ------------------------------------------------------------------

    def card(self, card_id: str) -> Card | None:
        """The stored ``fsrs`` card, or None if never reviewed."""
        row = self._conn.execute("SELECT fsrs FROM cards WHERE card_id = ?", (card_id,)).fetchone()
        return Card.from_dict(json.loads(row[0])) if row else None

    def cards(self) -> dict[str, Card]:
        """Every reviewed card's current ``fsrs`` state, by card id."""
        return {
            cid: Card.from_dict(json.loads(js)) for cid, js in self._conn.execute("SELECT card_id, fsrs FROM cards")
        }

    def record(
        self,
        card_id: str,
        rating: Rating | int,
        now: datetime,
        *,
        duration_ms: int | None = None,
        kind: str | None = None,
        correct: bool | None = None,
    ) -> tuple[Card, int]:
        """Schedule and log one review in a single transaction; returns the new state and the
        review's row id (what :meth:`undo_review` takes)."""
        now = require_utc(now)
        rating = Rating(int(rating))
        scheduler = self.scheduler
        with self._write() as c:
            row = c.execute("SELECT fsrs FROM cards WHERE card_id = ?", (card_id,)).fetchone()
            before = Card.from_dict(json.loads(row[0])) if row else new_card(card_id, now)
            after, _log = review(before, rating, now, duration_ms=duration_ms, scheduler=scheduler)
            c.execute(
                "INSERT INTO cards(card_id, fsrs, state, due, updated_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(card_id) DO UPDATE SET fsrs = excluded.fsrs, state = excluded.state, due = excluded.due, updated_at = excluded.updated_at",
                (card_id, json.dumps(after.to_dict()), int(after.state), fmt_time(after.due), fmt_time(now)),
            )
            cur = c.execute(
                "INSERT INTO reviews(card_id, rating, reviewed_at, duration_ms, kind, correct, due_after, state_before) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    card_id,
                    int(rating),
                    fmt_time(now),
                    duration_ms,
                    kind,
                    None if correct is None else int(correct),
                    fmt_time(after.due),
                    row[0] if row else None,
                ),
            )
            review_id = int(cur.lastrowid or 0)
        return after, review_id

    def record_review(
        self,
        card_id: str,
        rating: Rating | int,
        now: datetime,
        *,
        duration_ms: int | None = None,
        kind: str | None = None,
        correct: bool | None = None,
    ) -> Card:
        """Schedule and log one review in a single transaction; returns the new card state."""
        return self.record(card_id, rating, now, duration_ms=duration_ms, kind=kind, correct=correct)[0]

    def undo_review(self, review_id: int) -> Card | None:
        """Delete review ``review_id`` and restore the card's state before it, in one transaction.

        Returns the restored state (None: the card is new again). Only a card's latest review
        can be undone; :class:`StoreError` otherwise (another session reviewed it since).
        """
        with self._write() as c:
            row = c.execute("SELECT card_id, state_before FROM reviews WHERE id = ?", (review_id,)).fetchone()
            if row is None:
                raise StoreError(f"review {review_id} is not in {self.path} (already undone?)")
            card_id, before = row
            latest = c.execute("SELECT max(id) FROM reviews WHERE card_id = ?", (card_id,)).fetchone()[0]
            if latest != review_id:
                raise StoreError(f"cannot undo: card {card_id!r} was reviewed again since (another session?)")
            c.execute("DELETE FROM reviews WHERE id = ?", (review_id,))
            left = c.execute("SELECT count(*) FROM reviews WHERE card_id = ?", (card_id,)).fetchone()[0]
            if before is None:
                if left:
                    raise StoreError(f"cannot undo: review {review_id} predates undo (no saved state)")
                c.execute("DELETE FROM cards WHERE card_id = ?", (card_id,))
                return None
            card = Card.from_dict(json.loads(before))
            c.execute(
                "UPDATE cards SET fsrs = ?, state = ?, due = ?, updated_at = ? WHERE card_id = ?",
                (before, int(card.state), fmt_time(card.due), fmt_time(datetime.now(UTC)), card_id),
            )
            return card

    def reviews(self, card_id: str | None = None) -> list[ReviewRow]:
        """The review log in time order (of one card, or all)."""
        sql = "SELECT id, card_id, rating, reviewed_at, duration_ms, kind, correct, due_after FROM reviews"
        args: tuple[str, ...] = ()
        if card_id is not None:
            sql += " WHERE card_id = ?"
            args = (card_id,)
        rows = self._conn.execute(sql + " ORDER BY reviewed_at, id", args).fetchall()
        return [
            ReviewRow(
                r[0],
                r[1],
                Rating(r[2]),
                parse_time(r[3]),
                r[4],
                r[5],
                None if r[6] is None else bool(r[6]),
                parse_time(r[7]),
            )
            for r in rows
        ]

    def first_reviews_between(self, start: datetime, end: datetime) -> int:
        """How many cards had their first ever review in ``[start, end)`` (new cards that day)."""
        row = self._conn.execute(
            "SELECT count(*) FROM (SELECT card_id, min(reviewed_at) AS first FROM reviews GROUP BY card_id) WHERE first >= ? AND first < ?",
            (fmt_time(start), fmt_time(end)),
        ).fetchone()
        return int(row[0])


def _read_only_message(path: Path, why: str) -> str:
    return (
        f"{path} is read-only ({why}): a session could not save your answers. "
        "`lossprep quiz stats` and `lossprep quiz plan` can still read it; make it writable or choose another file with --db"
    )


def _check_writable(path: Path) -> None:
    """Refuse, before anything is shown, a database that a session could not save to."""
    if not os.access(path, os.W_OK):
        raise StoreError(_read_only_message(path, "the file is write-protected"))
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise StoreError(_read_only_message(path, "its folder is write-protected, and SQLite writes its journal there"))


def _connect_readonly(path: Path, timeout_s: float) -> sqlite3.Connection:
    """A read-only connection that creates nothing; a file in a write-protected folder (where
    SQLite cannot make its shared-memory file) is read as immutable when no journal is pending."""
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=timeout_s, isolation_level=None)
    try:
        conn.execute("PRAGMA schema_version").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        wal = Path(str(path) + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise
    return sqlite3.connect(uri + "?immutable=1", uri=True, timeout=timeout_s, isolation_level=None)
