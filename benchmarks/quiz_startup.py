"""Time ``lossprep quiz`` from launch to the first card on screen, through a pseudo-terminal.

Each run starts the console script in a fresh pty (pexpect) against a fresh database and
the real card bank, and stops the clock when the first card's prompt appears; the run is then
ended with ``q``. A second series reuses a database that already holds a history (every card
reviewed once, so the queue comes from the store). Run from the repository root:

    .venv/bin/python benchmarks/quiz_startup.py [--repeat 15] [--baseline DIR]

Prints every run and the medians, and the interpreter's own startup for comparison. With
``--baseline DIR`` (another checkout, e.g. ``git worktree add /tmp/base main``) the same two
series also run that checkout's code, interleaved run by run with this one's so that a loaded
machine slows both alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pexpect

ROOT = Path(__file__).resolve().parents[1]
NOW = "2026-03-02T09:00:00Z"


def child_env() -> dict[str, str]:
    """The environment of a measured run: as a reader's shell has it, byte-code caches included
    (``PYTHONDONTWRITEBYTECODE``, set in some sandboxes, would make every run compile every module)."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "LOSSPREP_QUIZ_DB")}


def time_to_first_card(db: Path, now: str = NOW, *, checkout: Path | None = None) -> float:
    """Seconds from launch to the first card's prompt; ``checkout``: run that tree's code
    (``python -m lossprep.cli`` with it first on ``PYTHONPATH``) instead of the console script."""
    script = Path(sys.executable).with_name("lossprep")
    command, args, env = str(script), ["quiz", "--db", str(db), "--now", now], child_env()
    if checkout is not None:
        command, args = sys.executable, ["-m", "lossprep.cli", *args]
        env = {**env, "PYTHONPATH": str(checkout), "LOSSPREP_CARDS": str(ROOT / "book" / "cards")}
    start = time.perf_counter()
    child = pexpect.spawn(
        command,
        args,
        cwd=str(checkout or ROOT),
        env=env,
        encoding="utf-8",
        timeout=30,
        dimensions=(40, 120),
    )
    child.expect(r"(shows? the answer|Your answer)")
    elapsed = time.perf_counter() - start
    child.sendline("q")
    child.expect(pexpect.EOF)
    child.close()
    return elapsed


def python_startup() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True, env=child_env())
    return time.perf_counter() - start


SEED = """
import sys
from datetime import UTC, datetime, timedelta
from lossprep.quiz.cards import load_bank
from lossprep.quiz.store import Store
t0 = datetime(2026, 2, 1, tzinfo=UTC)
with Store.open(sys.argv[1]) as store:
    for i, card in enumerate(load_bank().cards):
        store.record_review(card.id, 3, t0 + timedelta(minutes=i))
"""


def seeded_db(folder: Path, checkout: Path | None = None) -> Path:
    """A database in which every card of the real bank was reviewed once, written by the code of
    ``checkout`` (default: this one), whose schema that code reads."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "history.sqlite3"
    env = {**child_env(), "LOSSPREP_CARDS": str(ROOT / "book" / "cards")}
    if checkout is not None:
        env["PYTHONPATH"] = str(checkout)
    subprocess.run([sys.executable, "-c", SEED, str(db)], check=True, env=env, cwd=str(checkout or ROOT))
    return db


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15, help="runs per series (default 15)")
    parser.add_argument("--baseline", type=Path, metavar="DIR", help="another checkout to time alongside this one")
    args = parser.parse_args()
    variants: list[tuple[str, Path | None]] = [("this checkout", None)]
    if args.baseline is not None:
        variants = [("this checkout", ROOT), ("baseline", args.baseline.resolve())]
    runs: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for name, tree in variants:
            time_to_first_card(folder / f"warmup-{name[:4]}.sqlite3", checkout=tree)  # page cache, .pyc files
        for i in range(args.repeat):
            for name, tree in variants:
                runs.setdefault(f"{name}, fresh database", []).append(
                    time_to_first_card(folder / f"fresh-{name[:4]}-{i}.sqlite3", checkout=tree)
                )
        # a baseline may not read a newer database: each variant gets a history it wrote
        dbs = {name: seeded_db(folder / name.replace(" ", "-"), tree) for name, tree in variants}
        for _ in range(args.repeat):
            for name, tree in variants:
                runs.setdefault(f"{name}, with history", []).append(time_to_first_card(dbs[name], checkout=tree))
    runs["python -c pass"] = [python_startup() for _ in range(args.repeat)]
    for name, times in runs.items():
        print(f"{name:>30}: " + " ".join(f"{t * 1000:.0f}" for t in times) + " ms")
    print("median time to first card, " + str(args.repeat) + " runs each:")
    for name, times in runs.items():
        print(f"  {name}: {statistics.median(times) * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
