"""The ranking_loss assignment: what typical right and wrong answers score.

Student notebooks are built from the released notebook by filling its solution cells (see
grading_helpers). Most variants are graded in process; a few go through ``lossprep check`` end
to end. The wrong answers come from tests/wrong_answers.py.
"""

from __future__ import annotations

import inspect
import re
import shutil
import time

import nbformat
import pytest
import torch
import wrong_answers
from grading_helpers import check_json, fill, grade_in_process, nbgrader_round_trip

from autograder import SOLUTIONS

A = "ranking_loss"
FUNCTIONS = ("ndcg_at_k", "pairwise_hinge_loss", "ranknet_loss", "lambdarank_loss")
FAST = [f"{A}-test-{f}" for f in FUNCTIONS]
TRAINING = [f"{A}-test-training"]

_PAIRS = """
    m = torch.ones_like(scores, dtype=torch.bool) if mask is None else mask
    s = torch.where(m, scores, torch.zeros_like(scores))
    r = relevance.to(scores.dtype)
    pairs = m[:, :, None] & m[:, None, :] & (r[:, :, None] > r[:, None, :])
    diff = s[:, :, None] - s[:, None, :]
"""

GOOD = {
    "ndcg_at_k": """
def ndcg_at_k(scores, relevance, k=10, mask=None):
    m = torch.ones_like(scores, dtype=torch.bool) if mask is None else mask
    gains = torch.where(m, 2 ** relevance.to(scores.dtype) - 1, torch.zeros_like(scores))
    order = torch.sort(torch.where(m, scores, torch.full_like(scores, -math.inf)), dim=1, descending=True, stable=True).indices
    disc = 1 / torch.log2(torch.arange(2, scores.shape[1] + 2, dtype=scores.dtype))
    disc[k:] = 0
    dcg = (gains.gather(1, order) * disc).sum(1)
    idcg = (gains.sort(1, descending=True).values * disc).sum(1)
    return torch.where(idcg > 0, dcg / torch.where(idcg > 0, idcg, torch.ones_like(idcg)), torch.zeros_like(idcg))
""",
    "pairwise_hinge_loss": """
def pairwise_hinge_loss(scores, relevance, margin=1.0, mask=None):"""
    + _PAIRS
    + """
    return F.relu(margin - diff)[pairs].sum() / pairs.sum().clamp(min=1)
""",
    "ranknet_loss": """
def ranknet_loss(scores, relevance, sigma=1.0, mask=None):"""
    + _PAIRS
    + """
    return F.softplus(-sigma * diff)[pairs].sum() / pairs.sum().clamp(min=1)
""",
    "lambdarank_loss": """
def lambdarank_loss(scores, relevance, k=10, sigma=1.0, mask=None):"""
    + _PAIRS
    + """
    gains = torch.where(m, 2 ** r - 1, torch.zeros_like(r)).detach()
    order = torch.sort(torch.where(m, s, torch.full_like(s, -math.inf)).detach(), dim=1, descending=True, stable=True).indices
    ranks = torch.argsort(order, dim=1).to(s.dtype) + 1
    disc = torch.where(ranks <= k, 1 / torch.log2(1 + ranks), torch.zeros_like(ranks))
    ideal = 1 / torch.log2(torch.arange(2, s.shape[1] + 2, dtype=s.dtype))
    ideal[k:] = 0
    idcg = (gains.sort(1, descending=True).values * ideal).sum(1)
    w = (gains[:, :, None] - gains[:, None, :]).abs() * (disc[:, :, None] - disc[:, None, :]).abs()
    w = w / torch.where(idcg > 0, idcg, torch.ones_like(idcg))[:, None, None]
    per_query = torch.where(pairs, w * F.softplus(-sigma * diff), torch.zeros_like(w)).sum((1, 2))
    has = pairs.flatten(1).any(1)
    return per_query[has].sum() / has.sum().clamp(min=1)
""",
}

# Correct answers in other styles: Python loops over queries and pairs (autograd through the
# loop), float64 throughout, logaddexp instead of softplus, ranks from a comparison count.
OTHER_STYLES = {
    "ndcg_at_k": """
def ndcg_at_k(scores, relevance, k=10, mask=None):
    out = []
    for q in range(scores.shape[0]):
        docs = [i for i in range(scores.shape[1]) if mask is None or bool(mask[q, i])]
        docs.sort(key=lambda i: (-float(scores[q, i]), i))
        gain = {i: 2.0 ** float(relevance[q, i]) - 1 for i in docs}
        dcg = sum(gain[i] / math.log2(2 + r) for r, i in enumerate(docs[:k]))
        idcg = sum(g / math.log2(2 + r) for r, g in enumerate(sorted(gain.values(), reverse=True)[:k]))
        out.append(dcg / idcg if idcg > 0 else 0.0)
    return torch.tensor(out, dtype=torch.float64)
""",
    "pairwise_hinge_loss": """
def pairwise_hinge_loss(scores, relevance, margin=1.0, mask=None):
    terms = []
    for q in range(scores.shape[0]):
        for i in range(scores.shape[1]):
            for j in range(scores.shape[1]):
                real = mask is None or (bool(mask[q, i]) and bool(mask[q, j]))
                if real and relevance[q, i] > relevance[q, j]:
                    terms.append(torch.clamp(margin - (scores[q, i] - scores[q, j]), min=0).double())
    return torch.stack(terms).mean() if terms else scores.double().sum() * 0
""",
    "ranknet_loss": """
def ranknet_loss(scores, relevance, sigma=1.0, mask=None):
    total, count = scores.double().sum() * 0, 0
    for q in range(scores.shape[0]):
        for i in range(scores.shape[1]):
            for j in range(scores.shape[1]):
                real = mask is None or (bool(mask[q, i]) and bool(mask[q, j]))
                if real and relevance[q, i] > relevance[q, j]:
                    x = -sigma * (scores[q, i] - scores[q, j]).double()
                    total = total + torch.logaddexp(torch.zeros_like(x), x)
                    count += 1
    return total / max(count, 1)
""",
    "lambdarank_loss": """
def lambdarank_loss(scores, relevance, k=10, sigma=1.0, mask=None):
    sums = []
    for q in range(scores.shape[0]):
        docs = [i for i in range(scores.shape[1]) if mask is None or bool(mask[q, i])]
        s = {i: float(scores[q, i]) for i in docs}
        rank = {i: 1 + sum(1 for j in docs if s[j] > s[i] or (s[j] == s[i] and j < i)) for i in docs}
        G = {i: 2.0 ** float(relevance[q, i]) - 1 for i in docs}
        D = {i: 1 / math.log2(1 + rank[i]) if rank[i] <= k else 0.0 for i in docs}
        idcg = sum(g / math.log2(2 + n) for n, g in enumerate(sorted(G.values(), reverse=True)[:k]))
        terms = [abs(G[i] - G[j]) * abs(D[i] - D[j]) / idcg
                 * F.softplus(-sigma * (scores[q, i] - scores[q, j]).double())
                 for i in docs for j in docs if relevance[q, i] > relevance[q, j]]
        if terms:
            sums.append(torch.stack(terms).sum())
    return torch.stack(sums).mean() if sums else scores.double().sum() * 0
""",
}


def _wrong(name: str) -> str:
    """The wrong answer ``name`` as solution-cell code: the whole module, then the binding."""
    source = inspect.getsource(wrong_answers).replace("from __future__ import annotations\n", "")
    return f"{source}\n{wrong_answers.WRONG[name]} = {name}\n"


def _failed(results) -> set[str]:
    return {tid for tid, r in results.items() if r.score < r.max_score}


@pytest.fixture(autouse=True)
def one_thread():
    """The collector trains the student's scorer in this process: one thread is faster here."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("answers", ["GOOD", "OTHER_STYLES"])
def test_solution_and_other_styles_get_full_marks_in_process(answers: str) -> None:
    results = grade_in_process(A, fill(A, globals()[answers]), FAST)
    assert not _failed(results), {t: r.message for t, r in results.items() if r.score < r.max_score}


WRONG = {
    "ndcg_at_k_ties_higher_index": {"ndcg_at_k:ties"},
    "ndcg_at_k_padding_ranked": {"ndcg_at_k:padding", "ndcg_at_k:random"},
    "ndcg_at_k_linear_gain": {"ndcg_at_k:random", "ndcg_at_k:no_mask"},
    "ndcg_at_k_nan_without_relevant": {"ndcg_at_k:no_relevant"},
    "ndcg_at_k_no_cutoff": {"ndcg_at_k:random"},
    "pairwise_hinge_loss_both_ways": {"pairwise_hinge_loss:random", "pairwise_hinge_loss:no_mask"},
    "pairwise_hinge_loss_ties_as_pairs": {"pairwise_hinge_loss:equal_grades"},
    "pairwise_hinge_loss_padding_paired": {"pairwise_hinge_loss:random"},
    "pairwise_hinge_loss_mean_per_query": {"pairwise_hinge_loss:random"},
    "pairwise_hinge_loss_nan_without_pairs": {"pairwise_hinge_loss:no_pairs"},
    "ranknet_loss_unstable": {"ranknet_loss:large_scores"},
    "ranknet_loss_both_ways": {"ranknet_loss:random", "ranknet_loss:no_mask"},
    "ranknet_loss_padding_paired": {"ranknet_loss:random"},
    "ranknet_loss_no_sigma": {"ranknet_loss:sigma"},
    "lambdarank_loss_grad_through_weights": {"lambdarank_loss:random", "lambdarank_loss:ties"},
    "lambdarank_loss_no_truncation": {"lambdarank_loss:cutoff"},
    "lambdarank_loss_ties_higher_index": {"lambdarank_loss:ties"},
    "lambdarank_loss_all_queries": {"lambdarank_loss:normalisation"},
    "lambdarank_loss_mean_over_pairs": {"lambdarank_loss:random"},
    "lambdarank_loss_padding_ranked": {"lambdarank_loss:random"},
    "lambdarank_loss_mse": {"lambdarank_loss:random", "lambdarank_loss:no_pairs"},
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_typical_wrong_answers_lose_the_right_points(name: str) -> None:
    part = wrong_answers.WRONG[name]
    results = grade_in_process(A, fill(A, {**GOOD, part: _wrong(name)}), [f"{A}-test-{part}"])
    failed = _failed(results)
    assert WRONG[name] <= failed, f"{name}: expected {WRONG[name]} to fail, failed {failed}"
    for tid in failed:
        msg = results[tid].message
        assert msg and msg != "ok"
        assert not re.search(r"\d\.\d|\de[-+]?\d|tensor", msg), f"a number in the feedback: {msg}"


def test_a_wrong_answer_costs_points_only_in_its_part() -> None:
    results = grade_in_process(A, fill(A, {**GOOD, "ranknet_loss": _wrong("ranknet_loss_both_ways")}), FAST)
    assert _failed(results) and all(t.startswith("ranknet_loss:") for t in _failed(results))


def test_feedback_names_the_kind_of_mistake() -> None:
    results = grade_in_process(
        A, fill(A, {**GOOD, "ranknet_loss": _wrong("ranknet_loss_unstable")}), [f"{A}-test-ranknet_loss"]
    )
    assert results["ranknet_loss:large_scores"].message == "returns inf when |scores| are large"
    results = grade_in_process(
        A,
        fill(A, {**GOOD, "lambdarank_loss": _wrong("lambdarank_loss_grad_through_weights")}),
        [f"{A}-test-lambdarank_loss"],
    )
    assert results["lambdarank_loss:random"].message == "the autograd gradient is wrong on random queries"
    results = grade_in_process(
        A, fill(A, {**GOOD, "ndcg_at_k": _wrong("ndcg_at_k_padding_ranked")}), [f"{A}-test-ndcg_at_k"]
    )
    assert results["ndcg_at_k:padding"].message == "wrong value when padded slots hold other values"


def test_training_part_passes_lambdarank_and_fails_mse() -> None:
    good = grade_in_process(A, fill(A, GOOD), TRAINING)["training:ndcg"]
    assert good.score == good.max_score == 3.0
    bad = grade_in_process(A, fill(A, {**GOOD, "lambdarank_loss": _wrong("lambdarank_loss_mse")}), TRAINING)[
        "training:ndcg"
    ]
    assert bad.score == 0 and "no better than with MSE" in bad.message


@pytest.mark.slow
def test_check_solution_copied_anywhere_gets_full_marks(tmp_path) -> None:
    path = tmp_path / "ranking attempt 3.ipynb"
    shutil.copy(SOLUTIONS / A / f"{A}.ipynb", path)
    start = time.perf_counter()
    report, _ = check_json(path)
    assert time.perf_counter() - start < 30
    assert report["assignment"] == A and report["flags"] == []
    assert report["score"] == report["max_score"] == 14.0
    assert {t["id"].split(":")[0] for t in report["tests"]} == {*FUNCTIONS, "training"}


@pytest.mark.slow
def test_check_release_scores_zero_and_wrong_answer_loses_points(tmp_path) -> None:
    path = tmp_path / "release.ipynb"
    nbformat.write(fill(A, {}), path)
    report, _ = check_json(path)
    assert report["score"] == 0 and report["max_score"] == 14.0
    assert all(t["score"] == 0 for t in report["tests"])
    path = tmp_path / "loops.ipynb"
    nbformat.write(fill(A, {**OTHER_STYLES, "lambdarank_loss": _wrong("lambdarank_loss_ties_higher_index")}), path)
    report, _ = check_json(path)
    by_id = {t["id"]: t for t in report["tests"]}
    assert by_id["lambdarank_loss:ties"]["score"] == 0
    assert by_id["ndcg_at_k:ties"]["score"] == by_id["ndcg_at_k:ties"]["max_score"]
    assert 0 < report["score"] < report["max_score"]


@pytest.mark.slow
def test_nbgrader_autograde_gives_full_marks_to_the_solution_and_zero_to_the_release(tmp_path) -> None:
    course, scores, max_score = nbgrader_round_trip(tmp_path, A, {"alice": SOLUTIONS / A / f"{A}.ipynb", "bob": None})
    assert scores == {"alice": 14.0, "bob": 0.0}
    assert max_score == 17.0  # 14 automatic + 3 by hand
    page = (course / "feedback" / "bob" / A / f"{A}.html").read_text(encoding="utf-8")
    assert "grade_part" not in page and "autograder" not in page and "strong hire" in page
