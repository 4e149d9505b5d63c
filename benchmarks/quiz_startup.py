"""Time ``lossprep quiz`` from launch to the first card on screen, through a pseudo-terminal.

Each run starts the console script in a fresh pty (pexpect) against a fresh database and
the real card bank, and stops the clock when the first card's prompt appears; the run is then
ended with ``q``. A second series reuses a database that already holds a history (every card
reviewed once, so the queue comes from the store). Run from the repository root:

    .venv/bin/python benchmarks/quiz_startup.py [--repeat 15]

Prints every run and the medians, and the interpreter's own startup for comparison.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-03-02T09:00:00Z"


def time_to_first_card(db: Path, now: str = NOW) -> float:
    script = Path(sys.executable).with_name("lossprep")
    start = time.perf_counter()
    child = pexpect.spawn(
        str(script),
        ["quiz", "--db", str(db), "--now", now],
        cwd=str(ROOT),
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 120),
    )
    child.expect(r"(shows the answer|Your answer)")
    elapsed = time.perf_counter() - start
    child.sendline("q")
    child.expect(pexpect.EOF)
    child.close()
    return elapsed


def python_startup() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


def seeded_db(folder: Path) -> Path:
    from lossprep.quiz.cards import load_bank
    from lossprep.quiz.store import Store

    db = folder / "history.sqlite3"
    t0 = datetime(2026, 2, 1, tzinfo=UTC)
    with Store.open(db) as store:
        for i, card in enumerate(load_bank().cards):
            store.record_review(card.id, 3, t0 + timedelta(minutes=i))
    return db


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per series (default 15)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        time_to_first_card(folder / "warmup.sqlite3")  # page cache, .pyc files
        fresh = [time_to_first_card(folder / f"fresh-{i}.sqlite3") for i in range(args.repeat)]
        db = seeded_db(folder)
        history = [time_to_first_card(db) for _ in range(args.repeat)]
    bare = [python_startup() for _ in range(args.repeat)]
    for name, runs in (("fresh database", fresh), ("with history", history), ("python -c pass", bare)):
        print(f"{name:>15}: " + " ".join(f"{t * 1000:.0f}" for t in runs) + " ms")
    print(
        f"median time to first card: fresh database {statistics.median(fresh) * 1000:.0f} ms, "
        f"with history {statistics.median(history) * 1000:.0f} ms "
        f"(bare interpreter {statistics.median(bare) * 1000:.0f} ms), {args.repeat} runs each"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
