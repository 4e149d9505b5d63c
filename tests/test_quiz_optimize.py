"""``lossprep quiz optimize``: fsrs's optimiser on the reader's history, stored for later sessions."""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fsrs import Card, Rating, Scheduler

from lossprep.quiz.optimize import MIN_REVIEWS, log_loss, review_logs, usable_reviews
from lossprep.quiz.scheduler import fsrs_id
from lossprep.quiz.store import Store

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2025, 1, 1, 9, tzinfo=UTC)


def simulate(store: Store, *, cards: int, days: int, memory: float, seed: int = 1) -> None:
    """A reader whose memory is ``memory`` times as stable as FSRS's default model assumes,
    reviewing every card when the store's scheduler says (plus a few hours), for ``days`` days."""
    rng = random.Random(seed)
    store._conn.execute("PRAGMA synchronous = OFF")  # a made-up history need not survive a power cut
    scheduler = Scheduler(enable_fuzzing=False)
    decay = -scheduler.parameters[20]
    factor = 0.9 ** (1 / decay) - 1
    for i in range(cards):
        cid = f"sim-{i}"
        t = T0 + timedelta(days=i % 30, minutes=i)
        state: Card | None = None
        while t < T0 + timedelta(days=days):
            if state is None or state.last_review is None:
                rating = rng.choice([Rating.Good, Rating.Good, Rating.Again, Rating.Easy])
            else:
                elapsed = (t - state.last_review).total_seconds() / 86400
                recall = (1 + factor * elapsed / (state.stability * memory)) ** decay
                rating = (Rating.Good if rng.random() < 0.8 else Rating.Hard) if rng.random() < recall else Rating.Again
            state = store.record_review(cid, rating, t, duration_ms=4000)
            t = state.due + timedelta(hours=rng.randint(0, 12))


def optimize(db: Path) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("LOSSPREP_QUIZ")}
    return subprocess.run(
        [sys.executable, "-m", "lossprep.cli", "quiz", "optimize", "--db", str(db)],
        cwd=ROOT,
        env=e,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_log_loss_is_fsrs_optimizers_own() -> None:
    """Our plain-Python log loss equals the one fsrs's optimiser minimises (torch, float64)."""
    from fsrs import Optimizer

    logs = []
    rng = random.Random(3)
    sched = Scheduler(enable_fuzzing=False)
    for i in range(20):
        card = Card(card_id=i + 1, due=T0)
        t = T0 + timedelta(hours=i)
        for _ in range(6):
            rating = rng.choice(list(Rating))
            card, log = sched.review_card(card, rating, t)
            logs.append(log)
            t = card.due + timedelta(days=rng.randint(0, 3))
    params = list(Scheduler().parameters)
    params[0] = 0.5
    for p in (None, params):
        want = Optimizer(logs)._compute_batch_loss(parameters=p or list(Scheduler().parameters))
        assert math.isclose(log_loss(logs, p), want, rel_tol=1e-9), (p, want)


def test_too_small_a_history_says_how_many_more_reviews(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite3"
    with Store.open(db) as store:
        simulate(store, cards=12, days=60, memory=1.0)
        n = usable_reviews(review_logs(store))
        total = len(store.reviews())
    assert 0 < n < MIN_REVIEWS
    proc = optimize(db)
    assert proc.returncode == 0, proc.stderr
    assert f"Your history: {total} reviews of 12 cards; {n} of them count for the fit" in proc.stdout
    assert f"Optimizing needs at least {MIN_REVIEWS} such reviews: about {MIN_REVIEWS - n} more." in proc.stdout
    with Store.open(db) as store:
        assert store.parameters() is None
    missing = optimize(tmp_path / "nope.sqlite3")
    assert missing.returncode == 2 and "no quiz database at" in missing.stderr
    assert not (tmp_path / "nope.sqlite3").exists()


def test_optimize_fits_stores_and_later_sessions_use_the_parameters(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite3"
    with Store.open(db) as store:
        simulate(store, cards=110, days=200, memory=3.0)
        logs = review_logs(store)
    assert usable_reviews(logs) >= MIN_REVIEWS
    proc = optimize(db)
    assert proc.returncode == 0, proc.stderr
    m = re.search(
        r"Log loss on your history \(lower is better\): ([\d.]+) with the default parameters, ([\d.]+) with",
        proc.stdout,
    )
    assert m, proc.stdout
    before, after = float(m.group(1)), float(m.group(2))
    assert after <= before
    assert f"Saved in {db}: later sessions schedule with them." in proc.stdout
    with Store.open(db) as store:
        params = store.parameters()
        info = json.loads(store.get_meta("fsrs_parameters"))
    assert params is not None and params != list(Scheduler().parameters)
    assert math.isclose(log_loss(logs, params), after, abs_tol=1e-4) and math.isclose(
        log_loss(logs), before, abs_tol=1e-4
    )
    assert info["reviews"] == len(logs) and info["log_loss_after"] <= info["log_loss_before"]
    # A reader whose memory outlasts the model's: the fit raises the initial stabilities.
    assert sum(params[:4]) > sum(Scheduler().parameters[:4])
    # Later reviews are scheduled with the stored parameters, not the defaults.
    when = T0 + timedelta(days=400)
    with Store.open(db) as store:
        after_card = store.record_review("fresh-card", Rating.Good, when)
    mine = Scheduler(parameters=params, enable_fuzzing=False)
    want, _ = mine.review_card(Card(card_id=fsrs_id("fresh-card"), due=when), Rating.Good, when)
    assert after_card.due == want.due and after_card.stability == pytest.approx(want.stability)
    # A second run starts from the stored parameters and keeps them unless the fit is better.
    again = optimize(db)
    assert again.returncode == 0 and "with your current parameters" in again.stdout, again.stdout
