"""autograder/reference/ranking_loss.py: naive loops over pairs and ranks, an independent
NDCG, limiting cases, float64 gradcheck, padding, ties, no pairs, huge scores, bad input; the
ranking data; the hidden inputs keep the notebook's rules (no pair on the hinge's kink);
LambdaRank against MSE across seeds. (Right and wrong answers on the hidden tests:
tests/test_grading_assignments.py.)"""

from __future__ import annotations

import math

import answers.ranking_loss as answers
import naive_references as naive
import numpy as np
import pytest
import torch

from autograder.cases import ranking_loss as cases
from autograder.recipes import linear_scores, train_linear
from autograder.reference.ranking_loss import (
    lambdarank_loss,
    mse_loss,
    ndcg_at_k,
    pairwise_hinge_loss,
    ranknet_loss,
    ranks,
)
from lossprep.data import RankingQueries, ranking_queries

DTYPES = (torch.float32, torch.float64)
LOSSES = (pairwise_hinge_loss, ranknet_loss, lambdarank_loss)


def _batch(
    Q: int = 4, D: int = 7, *, seed: int = 0, dtype: torch.dtype = torch.float64, ties: bool = False, junk: bool = True
):
    g = torch.Generator().manual_seed(seed)
    if ties:
        s = torch.randint(0, 3, (Q, D), generator=g).to(torch.float64)
    else:
        s = torch.randn(Q, D, generator=g, dtype=torch.float64) * 2
    r = torch.randint(0, 4, (Q, D), generator=g).to(torch.float64)
    m = torch.rand(Q, D, generator=g) < 0.75
    m[:, 0] = True
    if junk:  # padded slots hold values that would change every result if used
        s = torch.where(m, s, torch.full_like(s, 77.0))
        r = torch.where(m, r, torch.full_like(r, 6.5))
    return s.to(dtype), r.to(dtype), m


# ------------------------------------------------------------------------------------------
# ranks and ndcg_at_k
# ------------------------------------------------------------------------------------------


def test_ranks_break_ties_by_lower_index_and_put_padding_last():
    s = torch.tensor([[1.0, 3.0, 3.0, 5.0, 3.0]])
    m = torch.tensor([[True, True, True, False, True]])
    assert ranks(s, m).tolist() == [[4, 1, 2, 5, 3]]


def _ndcg_numpy(scores: torch.Tensor, relevance: torch.Tensor, k: int, mask: torch.Tensor) -> np.ndarray:
    """A second, independent NDCG: NumPy lexsort for the order, a vector of discounts."""
    s, r, m = scores.double().numpy(), relevance.double().numpy(), mask.numpy()
    out = []
    for q in range(s.shape[0]):
        idx = np.flatnonzero(m[q])
        order = idx[np.lexsort((idx, -s[q, idx]))]  # last key is primary: score desc, then index
        gains = 2.0 ** r[q, order] - 1
        disc = 1 / np.log2(np.arange(2, len(order) + 2))
        dcg = float((gains * disc)[:k].sum())
        idcg = float((np.sort(gains)[::-1] * disc)[:k].sum())
        out.append(dcg / idcg if idcg > 0 else 0.0)
    return np.array(out)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True])
def test_ndcg_matches_two_independent_computations(dtype, ties):
    for seed in range(4):
        s, r, m = _batch(5, 9, seed=seed, dtype=dtype, ties=ties)
        for k in (1, 3, 10, 50):
            got = ndcg_at_k(s, r, k, m)
            assert got.shape == (5,) and got.dtype == dtype
            np.testing.assert_allclose(got.double().numpy(), naive.ndcg_loop(s, r, k, m), rtol=1e-6, atol=1e-7)
            np.testing.assert_allclose(got.double().numpy(), _ndcg_numpy(s, r, k, m), rtol=1e-6, atol=1e-7)


def test_ndcg_limiting_cases():
    r = torch.tensor([[3.0, 2.0, 0.0, 1.0]])
    assert ndcg_at_k(r.clone(), r).item() == pytest.approx(1.0)  # scores in the ideal order
    # descending scores put doc 3 (gain 1) first, then doc 2 (0), doc 1 (3), doc 0 (7)
    s_worst = torch.tensor([[0.0, 1.0, 2.0, 3.0]])
    idcg = 7 / math.log2(2) + 3 / math.log2(3) + 1 / math.log2(4)
    dcg = 1 / math.log2(2) + 0 / math.log2(3) + 3 / math.log2(4) + 7 / math.log2(5)
    assert ndcg_at_k(s_worst, r, k=10).item() == pytest.approx(dcg / idcg)
    assert ndcg_at_k(s_worst, r, k=1).item() == pytest.approx(1 / 7)
    # k larger than D is the full list; a query with no relevant document scores 0, not nan
    torch.testing.assert_close(ndcg_at_k(s_worst, r, k=4), ndcg_at_k(s_worst, r, k=400))
    assert ndcg_at_k(torch.randn(2, 5), torch.zeros(2, 5)).tolist() == [0.0, 0.0]
    # only the order matters: a monotone map of the scores changes nothing
    s = torch.randn(3, 6, dtype=torch.float64)
    rr = torch.randint(0, 4, (3, 6)).double()
    torch.testing.assert_close(ndcg_at_k(s, rr, 4), ndcg_at_k(torch.exp(s) * 3 - 1, rr, 4))


def test_ndcg_ignores_padding_and_handles_all_padded_queries():
    s, r, m = _batch(3, 6, seed=5)
    m[2] = False
    got = ndcg_at_k(s, r, 3, m)
    assert got[2].item() == 0.0 and torch.isfinite(got).all()
    # the same queries with the padded slots removed
    for q in range(2):
        keep = m[q]
        alone = ndcg_at_k(s[q, keep][None], r[q, keep][None], 3)
        assert got[q].item() == pytest.approx(alone.item())
    # changing padded values changes nothing
    s2 = torch.where(m, s, -s - 1e3)
    r2 = torch.where(m, r, torch.full_like(r, 3.0))
    torch.testing.assert_close(ndcg_at_k(s2, r2, 3, m), got)


def test_ndcg_ties_lower_index_first():
    # both documents score the same: the one with the lower index is ranked first
    r = torch.tensor([[0.0, 2.0]])
    s = torch.zeros(1, 2)
    assert ndcg_at_k(s, r, k=1).item() == 0.0
    assert ndcg_at_k(s, r.flip(1), k=1).item() == 1.0


def test_ndcg_at_huge_scores():
    s = torch.tensor([[1e4, -1e4, 5e3]])
    r = torch.tensor([[1.0, 3.0, 0.0]])
    assert ndcg_at_k(s, r).item() == pytest.approx(naive.ndcg_loop(s, r)[0])


# ------------------------------------------------------------------------------------------
# the pairwise losses: naive loops, limiting cases, gradcheck
# ------------------------------------------------------------------------------------------

NAIVE = {
    pairwise_hinge_loss: naive.hinge_loop,
    ranknet_loss: naive.ranknet_loop,
    lambdarank_loss: naive.lambdarank_loop,
}
OPTIONS = {
    pairwise_hinge_loss: ({}, {"margin": 0.0}, {"margin": 2.5}),
    ranknet_loss: ({}, {"sigma": 0.3}, {"sigma": 3.0}),
    lambdarank_loss: ({}, {"k": 1}, {"k": 3, "sigma": 2.0}, {"k": 100}),
}


@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("ties", [False, True])
def test_pairwise_losses_match_naive_loops(loss, dtype, ties):
    for seed in range(3):
        s, r, m = _batch(4, 8, seed=seed, dtype=dtype, ties=ties)
        for opts in OPTIONS[loss]:
            got = loss(s, r, mask=m, **opts)
            assert got.shape == () and got.dtype == dtype
            want = NAIVE[loss](s, r, mask=m, **opts)
            assert got.item() == pytest.approx(want, rel=1e-5 if dtype == torch.float32 else 1e-10, abs=1e-7)
    s, r, _ = _batch(3, 5, seed=9, dtype=dtype, junk=False)
    assert loss(s, r).item() == pytest.approx(NAIVE[loss](s, r), rel=1e-5)  # mask=None: all real


@pytest.mark.parametrize("ties", [False, True])
def test_lambdarank_gradient_is_the_lambdas_with_constant_weights(ties):
    for seed in range(3):
        s, r, m = _batch(4, 8, seed=seed, ties=ties)
        for opts in ({}, {"k": 2, "sigma": 1.7}):
            x = s.clone().requires_grad_(True)
            lambdarank_loss(x, r, mask=m, **opts).backward()
            np.testing.assert_allclose(
                x.grad.numpy(), naive.lambdarank_grad_loop(s, r, mask=m, **opts), rtol=1e-10, atol=1e-12
            )
            assert (x.grad[~m] == 0).all()


def test_pairwise_limiting_cases():
    s = torch.tensor([[2.0, 0.5, -1.0]])
    r = torch.tensor([[2.0, 1.0, 0.0]])
    # well separated, margin 1: pair gaps 1.5, 3 and 1.5 all clear the margin
    assert pairwise_hinge_loss(s, r).item() == 0.0
    # margin 2: the two gaps of 1.5 cost 0.5 each, over 3 pairs
    assert pairwise_hinge_loss(s, r, margin=2.0).item() == pytest.approx(1 / 3)
    # margin 0 on the reversed order: the mean size of the inversions
    assert pairwise_hinge_loss(-s, r, margin=0.0).item() == pytest.approx((1.5 + 3 + 1.5) / 3)
    # RankNet at equal scores: log 2 per pair; for large sigma it is sigma times the margin-0 hinge
    assert ranknet_loss(torch.zeros(1, 3), r).item() == pytest.approx(math.log(2))
    assert ranknet_loss(-s, r, sigma=200.0).item() / 200.0 == pytest.approx(
        pairwise_hinge_loss(-s, r, margin=0.0).item(), rel=1e-6
    )
    # LambdaRank, one pair, both in the top k: |dNDCG| * RankNet
    s2, r2 = torch.tensor([[0.3, 0.1]]), torch.tensor([[0.0, 1.0]])
    delta = 1 * abs(1 / math.log2(2) - 1 / math.log2(3)) / 1.0
    assert lambdarank_loss(s2, r2).item() == pytest.approx(delta * math.log1p(math.exp(0.2)))
    # k = 1: only pairs with the top document have weight; IDCG@1 = 7
    s4, r4 = torch.tensor([[5.0, 0.1, 0.0]]), torch.tensor([[3.0, 1.0, 0.0]])
    sp = lambda x: math.log1p(math.exp(x))  # noqa: E731
    want = (6 / 7) * sp(-4.9) + (7 / 7) * sp(-5.0)
    assert lambdarank_loss(s4, r4, k=1).item() == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
def test_pairwise_losses_gradcheck_float64(loss):
    s, r, m = _batch(3, 6, seed=4)
    s = s + torch.linspace(0, 0.01, 6, dtype=torch.float64)  # no exact ties or hinge kinks
    x = s.clone().requires_grad_(True)
    opts = {"margin": 0.37} if loss is pairwise_hinge_loss else {}
    assert torch.autograd.gradcheck(lambda t: loss(t, r, mask=m, **opts), (x,))


@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
def test_no_pairs_gives_zero_with_a_zero_gradient(loss):
    s, r, m = _batch(3, 5, seed=2, junk=False)
    cases_ = [
        (s, torch.full_like(r, 2.0), m),  # one grade everywhere
        (s, r, torch.zeros_like(m)),  # all padded
        (s, r, torch.eye(3, 5, dtype=torch.bool)),  # one real document per query
    ]
    for scores, rel, mask in cases_:
        x = scores.clone().requires_grad_(True)
        out = loss(x, rel, mask=mask)
        assert out.item() == 0.0
        out.backward()
        assert (x.grad == 0).all()


@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
def test_padding_changes_neither_value_nor_gradient(loss):
    s, r, m = _batch(4, 7, seed=6)
    x1, x2 = s.clone().requires_grad_(True), torch.where(m, s, -s * 1e3 - 5).requires_grad_(True)
    r2 = torch.where(m, r, torch.full_like(r, 3.0))
    a, b = loss(x1, r, mask=m), loss(x2, r2, mask=m)
    torch.testing.assert_close(a, b)
    a.backward()
    b.backward()
    torch.testing.assert_close(x1.grad, x2.grad)
    assert (x1.grad[~m] == 0).all()


@pytest.mark.parametrize("loss", LOSSES, ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", DTYPES)
def test_pairwise_losses_finite_for_huge_scores(loss, dtype):
    s = torch.tensor([[1e4, -1e4, 5e3, -5e3], [-1e4, 1e4, 0.0, 1.0]], dtype=dtype, requires_grad=True)
    r = torch.tensor([[0.0, 3.0, 1.0, 2.0], [3.0, 0.0, 1.0, 1.0]], dtype=dtype)
    out = loss(s, r)
    out.backward()
    assert torch.isfinite(out) and torch.isfinite(s.grad).all()
    assert out.item() == pytest.approx(NAIVE[loss](s.detach(), r), rel=1e-6)


def test_lambdarank_normalises_by_queries_with_pairs():
    s, r, m = _batch(4, 6, seed=8)
    r[1] = 1.0  # query 1 has no pair
    r[3] = 0.0  # nor query 3
    r[0, :2] = torch.tensor([3.0, 0.0])  # queries 0 and 2 have pairs
    r[2, :2] = torch.tensor([0.0, 2.0])
    m[:, :2] = True
    both = lambdarank_loss(s, r, mask=m)
    alone = [lambdarank_loss(s[q][None], r[q][None], mask=m[q][None]).item() for q in (0, 2)]
    assert min(alone) > 0
    assert both.item() == pytest.approx((alone[0] + alone[1]) / 2)
    assert both.item() == pytest.approx(naive.lambdarank_loop(s, r, mask=m))


def test_lambdarank_weights_carry_no_gradient():
    # the weights depend on the ranks only: the gradient equals the one of the weighted
    # RankNet terms with the weights frozen from the current order (checked pair by pair in
    # test_lambdarank_gradient_is_the_lambdas_with_constant_weights); here: the straight-through
    # soft-rank variant has the same value and another gradient
    s, r, m = _batch(3, 8, seed=1)
    x1, x2 = s.clone().requires_grad_(True), s.clone().requires_grad_(True)
    a = lambdarank_loss(x1, r, mask=m)
    b = answers.lambdarank_loss_grad_through_weights(x2, r, mask=m)
    torch.testing.assert_close(a, b)
    a.backward()
    b.backward()
    assert not torch.allclose(x1.grad, x2.grad)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_ranking_functions_follow_the_inputs_device():
    s, r, m = _batch()
    for fn in (ndcg_at_k, *LOSSES):
        out = fn(s.cuda(), r.cuda(), mask=m.cuda())
        assert out.device.type == "cuda"
        torch.testing.assert_close(out.cpu(), fn(s, r, mask=m))


# ------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------

S, R = torch.zeros(2, 3), torch.zeros(2, 3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: ndcg_at_k(torch.zeros(3), torch.zeros(3)), "Expected scores of shape \\(Q, D\\)"),
        (lambda: ndcg_at_k(S, torch.zeros(3, 2)), "Expected relevance of shape \\(2, 3\\)"),
        (lambda: ndcg_at_k(S, R, k=0), "Expected k to be an integer >= 1"),
        (lambda: ndcg_at_k(S, R, k=2.5), "Expected k to be an integer >= 1"),
        (lambda: ndcg_at_k(S, R, k=True), "Expected k to be an integer >= 1"),
        (lambda: ndcg_at_k(S, R, mask=torch.ones(2, 3)), "Expected mask to be a bool tensor"),
        (lambda: ndcg_at_k(S, R, mask=torch.ones(3, 2, dtype=torch.bool)), "Expected mask of shape \\(2, 3\\)"),
        (lambda: ndcg_at_k(S, torch.full((2, 3), -1.0)), "Expected relevance grades 0, 1, 2"),
        (lambda: ndcg_at_k(S, torch.full((2, 3), 0.5)), "Expected relevance grades 0, 1, 2"),
        (lambda: ndcg_at_k(torch.zeros(2, 3, dtype=torch.long), R), "Expected scores to be a float tensor"),
        (lambda: ndcg_at_k(torch.full((2, 3), math.nan), R), "Expected finite scores"),
        (lambda: pairwise_hinge_loss(S, R, margin=-1.0), "Expected margin >= 0"),
        (lambda: pairwise_hinge_loss(S, R, margin="1"), "Expected margin to be a finite number"),
        (lambda: ranknet_loss(S, R, sigma=0.0), "Expected sigma > 0"),
        (lambda: ranknet_loss(S, R, sigma=-2.0), "Expected sigma > 0"),
        (lambda: lambdarank_loss(S, R, k=0), "Expected k to be an integer >= 1"),
        (lambda: lambdarank_loss(S, R, sigma=0.0), "Expected sigma > 0"),
        (lambda: lambdarank_loss(S, R, mask=torch.ones(2, 3, dtype=torch.uint8)), "Expected mask to be a bool tensor"),
        (lambda: ranknet_loss([[0.0]], R), "Expected scores to be a torch.Tensor"),
    ],
)
def test_ranking_functions_refuse_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_padded_slots_may_hold_any_relevance():
    s, r, m = _batch(2, 4, seed=3)
    r = torch.where(m, r, torch.full_like(r, -3.5))  # not a grade, but padded: fine
    assert torch.isfinite(ndcg_at_k(s, r, mask=m)).all()


# ------------------------------------------------------------------------------------------
# the data
# ------------------------------------------------------------------------------------------


def test_ranking_queries_is_seeded_padded_and_graded():
    a, b = ranking_queries(300, seed=1), ranking_queries(300, seed=1)
    assert isinstance(a, RankingQueries) and len(a) == 300
    assert torch.equal(a.X, b.X) and torch.equal(a.relevance, b.relevance) and torch.equal(a.mask, b.mask)
    assert a.X.shape == (300, 20, 6) and a.mask.dtype == torch.bool and a.X.dtype == torch.float32
    n_docs = a.mask.sum(1)
    assert n_docs.min() >= 5 and n_docs.max() <= 20 and (n_docs < 20).any()
    assert (a.X[~a.mask] == 0).all() and (a.relevance[~a.mask] == 0).all()
    grades = a.relevance[a.mask]
    assert set(grades.unique().tolist()) == {0.0, 1.0, 2.0, 3.0}
    share = [(grades == g).double().mean().item() for g in range(4)]
    assert 0.45 < share[0] < 0.65 and 0.05 < share[3] < 0.15  # about half irrelevant, one in ten perfect
    for bad in ({"n_queries": 0}, {"min_docs": 0}, {"min_docs": 30}):
        with pytest.raises(ValueError, match="Expected"):
            ranking_queries(**{"n_queries": 5, **bad})


# ------------------------------------------------------------------------------------------
# the hidden inputs keep the rules the notebook states
# ------------------------------------------------------------------------------------------


def test_no_hidden_pair_sits_on_the_hinge_kink():
    """The notebook: the hidden tests never put a pair at s_i - s_j = margin, so any subgradient
    of the hinge there is accepted (torch.relu and torch.clamp differ at the kink)."""
    from autograder import assignment

    a = assignment.load("ranking_loss")
    for calls in a.calls("ranking_loss-test-pairwise_hinge_loss").values():
        for call in calls:
            scores, relevance = (t.double() for t in call.args)
            mask = call.kwargs.get("mask")
            real = torch.ones_like(scores, dtype=torch.bool) if mask is None else mask
            pairs = real[:, :, None] & real[:, None, :] & (relevance[:, :, None] > relevance[:, None, :])
            gaps = (scores[:, :, None] - scores[:, None, :])[pairs]
            if gaps.numel():
                assert float((gaps - call.kwargs.get("margin", 1.0)).abs().min()) > 1e-6


def test_the_notebooks_example_batch_is_off_the_kink():
    import nbformat

    from autograder import SOLUTIONS

    nb = nbformat.read(SOLUTIONS / "ranking_loss" / "ranking_loss.ipynb", as_version=4)
    namespace: dict = {}
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "ranking_loss-setup-imports")
    exec(setup.source, namespace)
    s, r, m = namespace["demo_scores"], namespace["demo_relevance"], namespace["demo_mask"]
    pairs = m[:, :, None] & m[:, None, :] & (r[:, :, None] > r[:, None, :])
    assert not bool(((s[:, :, None] - s[:, None, :])[pairs] == 1.0).any())


# ------------------------------------------------------------------------------------------
# training: LambdaRank against MSE
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_lambdarank_beats_mse_on_held_out_ndcg_for_every_seed(seed):
    train, held_out = ranking_queries(200, seed=seed), ranking_queries(1000, seed=seed + 1000)
    got = {}
    for name, loss in (("lambdarank", lambdarank_loss), ("mse", mse_loss)):
        params = train_linear(loss, train.X, (train.relevance,), cases.RECIPE, mask=train.mask)
        got[name] = ndcg_at_k(linear_scores(params, held_out.X), held_out.relevance, 10, held_out.mask).mean().item()
    # measured: LambdaRank 0.852-0.871, MSE 0.812-0.834, a gap of 0.036-0.047 on every seed
    assert got["lambdarank"] > got["mse"] + 0.025, got


def test_signatures_are_the_issues_in_reference_and_notebook():
    import inspect

    import nbformat

    from autograder import EXERCISES, SOLUTIONS

    want = {
        "ndcg_at_k": "(scores, relevance, k=10, mask=None)",
        "pairwise_hinge_loss": "(scores, relevance, margin=1.0, mask=None)",
        "ranknet_loss": "(scores, relevance, sigma=1.0, mask=None)",
        "lambdarank_loss": "(scores, relevance, k=10, sigma=1.0, mask=None)",
    }
    reference = {f.__name__: f for f in (ndcg_at_k, *LOSSES)}
    for name, sig in want.items():
        params = inspect.signature(reference[name]).parameters.values()
        assert "(" + ", ".join(str(p.replace(annotation=inspect.Parameter.empty)) for p in params) + ")" == sig
    for path in (SOLUTIONS / "ranking_loss" / "ranking_loss.ipynb", EXERCISES / "ranking_loss" / "ranking_loss.ipynb"):
        text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells)
        for name, sig in want.items():
            assert f"def {name}{sig}:" in text, (path, name)
