"""Hidden tests of the ``ranking_loss`` assignment: input builders and the parts.

Inputs follow the rules the notebook states: ``scores`` and ``relevance`` of shape ``(Q, D)``
with Q, D >= 1, in one float dtype (float32 or float64), grades 0, 1, 2, ... on real documents;
``mask`` a bool tensor or ``None``; ``k`` an integer >= 1. Padded slots hold junk (large scores,
high or fractional grades): a function that does not use the mask gets them wrong. No pair of
the pairwise hinge sits exactly on its kink (``s_i - s_j == margin``), where it has no
derivative.

The graded training part trains a ``torch.nn.Linear(6, 1)`` scorer (full batch, Adam, lr 0.05,
150 steps, seed 0) on ``ranking_queries(200, seed=0)`` with the student's ``lambdarank_loss``
(defaults k=10, sigma=1, with the mask) and measures the mean NDCG@10 on held-out queries drawn
with a seed kept here. It must reach :data:`BARS` ``.bar``, halfway between the reference loss
and MSE on the grades with the same recipe (the notebook states the three numbers;
``tests/test_grading_assignments.py`` recomputes them).
"""

from __future__ import annotations

import torch

from autograder.checks import judge_against
from autograder.recipes import Bars, fit_linear_call, linear_scores, reference_grad, train_linear, trained_output
from autograder.reference import ranking_loss as ref
from autograder.spec import Call, Kind, Outcome, Test, Verdict
from lossprep.data import ranking_queries

TRAIN_SEED = 0
EVAL_SEED = 0x2972193BF29CDFBF  # the held-out queries: not guessable, so not reproducible by a student
N_TRAIN, N_EVAL = 200, 5000
RECIPE = {"epochs": 150, "lr": 0.05, "seed": 0}
BARS = Bars(reference=0.8664, baseline=0.8206)  # measured by measure_bars(); the notebook states them


def _batch(
    gen: torch.Generator,
    *,
    dtype: torch.dtype = torch.float32,
    scale: float = 2.0,
    grades: int = 4,
    ties: bool = False,
    padded: bool = True,
):
    """Scores, grades and a mask (Q, D); every query has at least one real document; padded
    slots hold junk that would change the result if used."""
    Q = int(torch.randint(2, 7, (1,), generator=gen))
    D = int(torch.randint(3, 13, (1,), generator=gen))
    if ties:
        scores = torch.randint(0, 3, (Q, D), generator=gen).to(torch.float64)
    else:
        scores = torch.randn(Q, D, generator=gen, dtype=torch.float64) * scale
    relevance = torch.randint(0, grades, (Q, D), generator=gen).to(torch.float64)
    if padded:
        n_real = torch.randint(1, D + 1, (Q,), generator=gen)
        mask = torch.arange(D) < n_real[:, None]
        mask[0] = torch.rand(D, generator=gen) < 0.6  # holes in the middle too
        mask[0, 0] = True
        junk_scores = 50 + 50 * torch.rand(Q, D, generator=gen, dtype=torch.float64)
        junk_rel = torch.tensor([7.0, 2.5, 3.0], dtype=torch.float64)[torch.randint(0, 3, (Q, D), generator=gen)]
        scores = torch.where(mask, scores, junk_scores)
        relevance = torch.where(mask, relevance, junk_rel)
        kwargs = {"mask": mask}
    else:
        kwargs = {}
    return scores.to(dtype), relevance.to(dtype), kwargs


def _calls(fn: str, kind: str, options: list[dict]):
    """Three calls of ``fn`` on batches of ``kind``, one per option set (cycled)."""
    mode = "value" if fn == "ndcg_at_k" else "value_grad"

    def build(gen: torch.Generator) -> list[Call]:
        calls = []
        for i in range(3):
            dtype = torch.float64 if i == 2 else torch.float32
            if kind == "ties":
                s, r, kw = _batch(gen, dtype=dtype, ties=True)
            elif kind == "equal_grades":  # two grades only: many documents share one (scores untied)
                s, r, kw = _batch(gen, dtype=dtype, grades=2)
            elif kind == "no_padding":
                s, r, kw = _batch(gen, dtype=dtype, padded=False)
            elif kind == "large":
                s, r, kw = _batch(gen, dtype=dtype)
                sign = torch.where(torch.rand(s.shape, generator=gen) < 0.5, -1.0, 1.0).to(dtype)
                s = sign * torch.tensor([1e4, 5e3, 1e3], dtype=dtype)[torch.randint(0, 3, s.shape, generator=gen)]
            elif kind == "no_pairs":
                s, r, kw = _batch(gen, dtype=dtype)
                if i == 0:  # one grade everywhere
                    r = torch.full_like(r, 2.0)
                elif i == 1:  # every slot padded
                    kw = {"mask": torch.zeros(s.shape, dtype=torch.bool)}
                else:  # one real document per query
                    mask = torch.zeros(s.shape, dtype=torch.bool)
                    mask[:, 0] = True
                    kw = {"mask": mask}
            elif kind == "some_without_pairs":  # queries without any pair next to ones with pairs
                s, r, kw = _batch(gen, dtype=dtype)
                r[1:, :] = torch.where(torch.arange(s.shape[0])[1:, None] % 2 == 1, 0.0, r[1:, :]).to(dtype)
                r[0, :2] = torch.tensor([3.0, 0.0], dtype=dtype)
                kw["mask"][0, :2] = True
            elif kind == "no_relevant":  # NDCG of a query with no relevant document is 0
                s, r, kw = _batch(gen, dtype=dtype)
                r[0] = torch.where(kw["mask"][0], 0.0, r[0]).to(dtype)
                kw["mask"][-1] = False  # and an all-padded query
            else:
                s, r, kw = _batch(gen, dtype=dtype)
            calls.append(Call(fn, (s, r), {**kw, **options[i % len(options)]}, mode=mode))
        return calls

    return build


HINTS = {"lambdarank_loss": " (are the |delta NDCG| weights detached?)"}


def _judge(fn: str, where: str, shape: str = "scalar"):
    reference = getattr(ref, fn)
    if fn == "ndcg_at_k":
        return judge_against(reference, where=where, shape=shape, dims=("Q", "D"))
    return judge_against(
        reference,
        where=where,
        shape=shape,
        check_grad=True,
        grad_reference=reference_grad(reference),
        grad_shape="(Q, D)",
        grad_hint=HINTS.get(fn, ""),
        dims=("Q", "D"),
    )


def _tests(fn: str, specs: list[tuple[str, float, str, list[dict], str]]) -> list[Test]:
    shape = "(Q,)" if fn == "ndcg_at_k" else "scalar"
    return [
        Test(f"{fn}:{short}", w, _calls(fn, kind, opts), _judge(fn, where, shape))
        for short, w, kind, opts, where in specs
    ]


# ---------------------------------------------------------------- training


def _data():
    return ranking_queries(N_TRAIN, seed=TRAIN_SEED), ranking_queries(N_EVAL, seed=EVAL_SEED)


def _train_build(gen: torch.Generator) -> list[Call]:
    train, _ = _data()
    return [fit_linear_call("lambdarank_loss", train.X, (train.relevance,), RECIPE, mask=train.mask)]


def held_out_ndcg(scores: torch.Tensor) -> float:
    """Mean NDCG@10 of held-out scores."""
    _, held_out = _data()
    return float(ref.ndcg_at_k(scores.to(torch.float64), held_out.relevance, 10, held_out.mask).mean())


def measure_bars() -> Bars:
    """The reference LambdaRank loss and MSE on the grades, each trained by the recipe."""
    train, held_out = _data()
    got = [
        held_out_ndcg(
            linear_scores(train_linear(loss, train.X, (train.relevance,), RECIPE, mask=train.mask), held_out.X)
        )
        for loss in (ref.lambdarank_loss, ref.mse_loss)
    ]
    return Bars(reference=round(got[0], 4), baseline=round(got[1], 4))


def _train_judge(calls: list[Call], outcomes: list[Outcome]) -> Verdict | None:
    train, held_out = _data()
    params, verdict = trained_output(outcomes, (train.X.shape[-1] + 1,), "scorer")
    if params is None:
        return verdict
    if held_out_ndcg(linear_scores(params, held_out.X)) < BARS.bar:
        return Verdict(
            Kind.TRAINING,
            "trained with your loss, the scorer's held-out NDCG@10 is below the bar the notebook states "
            "(no clear gain over MSE on the grades)",
        )
    return None


PADDING = "when padded slots hold other values"
LARGE = "when |scores| are large"

PARTS: dict[str, list[Test]] = {
    "ranking_loss-test-ndcg_at_k": _tests(
        "ndcg_at_k",
        [
            ("random", 2, "random", [{"k": 3}, {"k": 5}, {}], "on random queries"),
            ("no_mask", 1, "no_padding", [{"k": 4}, {}, {"k": 1}], "without a mask"),
            ("ties", 2, "ties", [{"k": 3}, {"k": 2}, {}], "when scores tie"),
            ("padding", 1, "random", [{}, {"k": 4}], PADDING),
            ("k_larger_than_D", 1, "random", [{"k": 50}], "when k is larger than the number of documents"),
            ("no_relevant", 1, "no_relevant", [{"k": 3}, {}], "for a query with no relevant document"),
        ],
    ),
    "ranking_loss-test-pairwise_hinge_loss": _tests(
        "pairwise_hinge_loss",
        [
            ("random", 2, "random", [{}, {"margin": 0.5}], "on random queries"),
            ("no_mask", 1, "no_padding", [{}, {"margin": 2.0}], "without a mask"),
            ("margin", 1, "random", [{"margin": 0.0}, {"margin": 3.0}], "for other margins"),
            ("equal_grades", 1, "equal_grades", [{}, {"margin": 0.5}], "when many documents share a grade"),
            ("no_pairs", 1, "no_pairs", [{}], "when there is no pair"),
            ("large_scores", 2, "large", [{}], LARGE),
        ],
    ),
    "ranking_loss-test-ranknet_loss": _tests(
        "ranknet_loss",
        [
            ("random", 2, "random", [{}, {"sigma": 0.5}], "on random queries"),
            ("no_mask", 1, "no_padding", [{}], "without a mask"),
            ("sigma", 1, "random", [{"sigma": 2.0}, {"sigma": 0.3}], "for other sigma"),
            ("no_pairs", 2, "no_pairs", [{}], "when there is no pair"),
            ("large_scores", 2, "large", [{}, {"sigma": 2.0}], LARGE),
        ],
    ),
    "ranking_loss-test-lambdarank_loss": _tests(
        "lambdarank_loss",
        [
            ("random", 2, "random", [{}, {"k": 3}], "on random queries"),
            ("no_mask", 1, "no_padding", [{"k": 3}, {}], "without a mask"),
            ("ties", 2, "ties", [{"k": 2}, {}], "when scores tie"),
            ("cutoff", 1, "random", [{"k": 1}, {"k": 2, "sigma": 2.0}], "for a small k"),
            ("normalisation", 1, "some_without_pairs", [{}], "when some queries have no pair"),
            ("no_pairs", 1, "no_pairs", [{}], "when there is no pair"),
            ("large_scores", 2, "large", [{}, {"k": 3}], LARGE),
        ],
    ),
    "ranking_loss-test-training": [
        Test("training:ndcg", 1, _train_build, _train_judge),
    ],
}
