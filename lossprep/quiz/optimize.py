"""``lossprep quiz optimize``: fit the FSRS parameters to the reader's own history (Anki's Optimize).

``fsrs`` ships the optimiser (:class:`fsrs.Optimizer`, which needs torch and pandas, loaded
only by this command). It learns from the reviews FSRS can predict: those made a day or more
after the card's previous review, in the first 64 reviews of each card; with fewer than 512 of
them it returns the default parameters unchanged, so this command says how many more it needs
instead of running.

The fit is judged as ``fsrs`` trains it: the mean log loss (binary cross-entropy) of the
predicted recall probability against what happened (Again: forgotten; Hard, Good, Easy:
recalled) over those reviews. :func:`log_loss` computes it in plain Python, for the current
parameters and for the fitted ones; the fitted parameters are stored (and used by every later
session, through :meth:`lossprep.quiz.store.Store.scheduler`) only when they do not make it
worse. Cards keep their current stability and difficulty; the new parameters shape their next
reviews.
"""

from __future__ import annotations

import argparse
import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from lossprep.quiz.common import db_path_from, store_from
from lossprep.quiz.scheduler import Card, Rating, ReviewLog, fsrs_id, make_scheduler
from lossprep.quiz.store import Store, StoreMissing, fmt_time

__all__ = ["MIN_REVIEWS", "MAX_SEQ", "Fit", "review_logs", "usable_reviews", "log_loss", "fit", "run_optimize"]

MIN_REVIEWS = 512  # fsrs.optimizer's mini-batch size: below it, it returns the defaults
MAX_SEQ = 64  # fsrs.optimizer uses each card's first 64 reviews


def review_logs(store: Store) -> list[ReviewLog]:
    """The store's history as ``fsrs`` review logs (integer card ids, UTC times)."""
    return [ReviewLog(fsrs_id(r.card_id), r.rating, r.reviewed_at, r.duration_ms) for r in store.reviews()]


def _by_card(logs: Iterable[ReviewLog]) -> dict[int, list[ReviewLog]]:
    cards: dict[int, list[ReviewLog]] = {}
    for log in logs:
        cards.setdefault(log.card_id, []).append(log)
    return {cid: sorted(v, key=lambda r: r.review_datetime)[:MAX_SEQ] for cid, v in sorted(cards.items())}


def usable_reviews(logs: Iterable[ReviewLog]) -> int:
    """How many reviews the optimiser learns from: made a day (24 h) or more after the card's
    previous review, within each card's first 64 reviews."""
    return sum(
        1
        for history in _by_card(logs).values()
        for prev, cur in itertools.pairwise(history)
        if (cur.review_datetime - prev.review_datetime).days > 0
    )


def log_loss(logs: Iterable[ReviewLog], parameters: Sequence[float] | None = None) -> float:
    """Mean log loss of FSRS's predicted recall on the usable reviews, with ``parameters``
    (None: the defaults), replaying each card's history as ``fsrs``'s optimiser does."""
    scheduler = make_scheduler(parameters)
    total, n = 0.0, 0
    for card_id, history in _by_card(logs).items():
        card = Card(card_id=card_id, due=history[0].review_datetime)
        for log in history:
            if card.last_review is not None and (log.review_datetime - card.last_review).days > 0:
                p = scheduler.get_card_retrievability(card, log.review_datetime)
                y = 0.0 if log.rating == Rating.Again else 1.0
                # torch's BCELoss (what fsrs trains with) clamps each log at -100; so does this
                log_p = max(math.log(p), -100.0) if p > 0 else -100.0
                log_q = max(math.log1p(-p), -100.0) if p < 1 else -100.0
                total -= y * log_p + (1 - y) * log_q
                n += 1
            card, _ = scheduler.review_card(card, log.rating, log.review_datetime)
    if n == 0:
        raise ValueError("no usable reviews: the log loss needs reviews made a day or more after the previous one")
    return total / n


@dataclass(frozen=True)
class Fit:
    """The outcome of :func:`fit`."""

    parameters: list[float]  # fitted by fsrs
    old_loss: float  # with the parameters in use before
    new_loss: float  # with the fitted ones
    usable: int

    @property
    def better(self) -> bool:
        """The fitted parameters are worth keeping: they do not make the log loss worse."""
        return self.new_loss <= self.old_loss


def fit(logs: Sequence[ReviewLog], current: Sequence[float] | None = None) -> Fit:
    """Run ``fsrs``'s optimiser on ``logs`` and compare with ``current`` (None: the defaults).

    Needs at least :data:`MIN_REVIEWS` usable reviews (``ValueError`` otherwise). Imports torch
    and pandas (``fsrs.Optimizer``).
    """
    usable = usable_reviews(logs)
    if usable < MIN_REVIEWS:
        raise ValueError(f"need {MIN_REVIEWS} usable reviews, have {usable}")
    from fsrs import Optimizer

    try:
        optimizer = Optimizer(list(logs))
    except ImportError:  # fsrs's stand-in when torch or pandas is missing
        raise ValueError(
            "fitting needs fsrs's optimizer and what it imports (torch, pandas): pip install 'fsrs[optimizer]'"
        ) from None
    fitted = optimizer.compute_optimal_parameters()
    if fitted is None:  # fsrs found no epoch with a finite loss
        fitted = list(current) if current is not None else list(make_scheduler().parameters)
    fitted = [float(p) for p in fitted]
    return Fit(fitted, log_loss(logs, current), log_loss(logs, fitted), usable)


def run_optimize(args: argparse.Namespace) -> int:
    path, _named = db_path_from(args)
    if not path.exists():
        raise StoreMissing(f"no quiz database at {path}: there is no history to fit yet (start with: lossprep quiz)")
    with store_from(args) as store:
        logs = review_logs(store)
        usable = usable_reviews(logs)
        n_cards = len({log.card_id for log in logs})
        print(
            f"Your history: {len(logs)} reviews of {n_cards} cards; {usable} of them count for the fit "
            "(made a day or more after the card's previous review)."
        )
        if usable < MIN_REVIEWS:
            print(
                f"Optimizing needs at least {MIN_REVIEWS} such reviews: about {MIN_REVIEWS - usable} more. "
                "Keep reviewing with lossprep quiz; until then FSRS's default parameters serve you well."
            )
            return 0
        current = store.parameters()
        print("Fitting the 21 FSRS parameters to your history (fsrs's optimizer; this takes a moment)...", flush=True)
        result = fit(logs, current)
        which = "your current parameters" if current is not None else "the default parameters"
        print(
            f"Log loss on your history (lower is better): {result.old_loss:.4f} with {which}, "
            f"{result.new_loss:.4f} with the fitted ones."
        )
        if not result.better:
            print("Kept the parameters in use: the fitted ones do not predict your recall better.")
            return 0
        store.set_parameters(
            result.parameters,
            fitted_at=fmt_time(datetime.now(UTC)),
            reviews=len(logs),
            usable=usable,
            log_loss_before=result.old_loss,
            log_loss_after=result.new_loss,
        )
        print("Parameters: " + ", ".join(f"{p:.4g}" for p in result.parameters))
        print(f"Saved in {store.path}: later sessions schedule with them.")
    return 0
