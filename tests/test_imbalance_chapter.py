"""The claims of the chapter "Class imbalance", checked on the same expressions, the same library
calls and the same data as the page (lossprep.chapters.imbalance)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score, precision_score, recall_score

from lossprep import formulas
from lossprep.chapters import imbalance as im
from lossprep.data import rare_events
from lossprep.losses import sigmoid_focal_loss
from lossprep.metrics import expected_calibration_error
from lossprep.symbolic import check_against_torch, sample_points
from lossprep.symbols import eta, w, y, z

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# --- the always-negative model ---------------------------------------------------------------------


def test_accuracy_rewards_the_always_negative_model_and_pr_auc_does_not():
    posts, new = rare_events(50_000, positive_rate=0.005, seed=0), rare_events(100_000, positive_rate=0.005, seed=1)
    fit = im.fit_linear(posts.X, posts.y, F.binary_cross_entropy_with_logits)
    labels = new.y.numpy()
    prob = torch.sigmoid(fit.logits(new.X)).numpy()
    always_negative = 1 - labels.mean()
    assert always_negative > 0.99
    assert abs(((prob >= 0.5) == labels).mean() - always_negative) < 0.002  # barely better
    assert (prob >= 0.5).mean() < 0.01
    assert average_precision_score(labels, np.zeros_like(prob)) == pytest.approx(labels.mean())
    assert average_precision_score(labels, prob) > 30 * labels.mean()
    assert im.recall_at_precision(np.zeros_like(prob), labels, 0.5) == 0.0
    assert im.recall_at_precision(prob, labels, 0.5) > 0.1


def test_recall_at_precision_and_threshold_by_hand():
    scores = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    labels = np.array([1, 0, 1, 1, 0, 0])
    # thresholds: 0.9 -> P 1, R 1/3; 0.7 -> P 2/3, R 2/3; 0.6 -> P 3/4, R 1
    assert im.recall_at_precision(scores, labels, 0.75) == pytest.approx(1.0)
    assert im.recall_at_precision(scores, labels, 0.8) == pytest.approx(1 / 3)
    thr = im.threshold_for_precision(scores, labels, 0.7)
    flagged = scores >= thr
    assert thr == pytest.approx(0.6)
    assert precision_score(labels, flagged) >= 0.7 and recall_score(labels, flagged) == 1.0
    assert im.threshold_for_precision(scores, np.array([0, 0, 0, 0, 0, 1]), 0.9) == math.inf


# --- weighted BCE ----------------------------------------------------------------------------------


def test_weighted_optimum_is_derived_and_its_logit_moves_by_log_w():
    p_star, identities = im.weighted_optimum()
    assert len(identities.rows) == 2
    assert sp.simplify(p_star - w * eta / (w * eta + 1 - eta)) == 0
    for w_val, eta_val in ((10, sp.Rational(1, 7)), (3, sp.Rational(2, 3))):
        best = p_star.subs({w: w_val, eta: eta_val})
        shift = sp.log(best / (1 - best)) - sp.log(eta_val / (1 - eta_val))
        assert sp.simplify(shift - sp.log(w_val)) == 0


def test_weighted_bce_gradient_matches_autograd():
    assert len(im.weighted_bce_identities().rows) == 2
    for label in (0.0, 1.0):
        r = check_against_torch(
            formulas.weighted_bce_expr(z, y, w),
            lambda a, b: F.binary_cross_entropy_with_logits(
                a, b, pos_weight=torch.tensor(7.0, dtype=a.dtype), reduction="none"
            ),
            {z: sample_points(64, seed=3), y: label},
            wrt=z,
            params={w: 7.0},
        )
        assert r.passed, str(r)


@pytest.fixture(scope="module", params=[10.0, 3.0], ids=lambda v: f"w={v:g}")
def shift(request) -> im.LogitShift:
    return im.logit_shift(rare_events(40_000, seed=0), rare_events(20_000, seed=5), weight=request.param)


def test_the_optimal_logit_shift_of_weighted_bce_is_log_w(shift):
    weight = shift.weight
    # on the labels' expectation: the derivation, exactly
    assert shift.expected_mean == pytest.approx(math.log(weight), abs=1e-4)
    assert shift.expected_sd < 1e-4
    # on sampled labels: log w up to the sampling noise of a few hundred positives
    assert shift.sampled_mean == pytest.approx(math.log(weight), abs=0.25)
    assert shift.unweighted.grad_norm < 1e-6 and shift.weighted.grad_norm < 1e-6


def test_dividing_the_odds_by_w_undoes_the_weight(shift):
    p_w = torch.tensor([0.3, 0.9, 0.99], dtype=torch.float64)
    want = torch.sigmoid(torch.logit(p_w) - math.log(9.0))
    torch.testing.assert_close(im.correct_for_weight(p_w, 9.0), want)
    held = rare_events(20_000, seed=5)
    p_weighted = torch.sigmoid(shift.weighted.logits(held.X))
    before = expected_calibration_error(p_weighted, held.y)
    after = expected_calibration_error(im.correct_for_weight(p_weighted, shift.weight), held.y)
    assert after < before / 3
    for bad in (0.0, -1.0, float("inf")):
        with pytest.raises(ValueError):
            im.correct_for_weight(p_w, bad)


def test_oversampling_by_k_is_pos_weight_k():
    train = rare_events(20_000, seed=0)
    pos = train.y == 1
    X_over = torch.cat([train.X] + [train.X[pos]] * 4)
    y_over = torch.cat([train.y] + [train.y[pos]] * 4)
    over = im.fit_linear(X_over, y_over, F.binary_cross_entropy_with_logits)
    weighted = im.fit_linear(train.X, train.y, im.weighted_bce(5.0))
    assert (over.weight - weighted.weight).abs().max() < 1e-5 and abs(over.bias - weighted.bias) < 1e-5


# --- focal loss -------------------------------------------------------------------------------------


def test_focal_gradient_is_confirmed_and_matches_autograd():
    assert len(im.focal_identities().rows) == 2
    for gamma_value in (2.0, 0.5):
        for label in (0, 1):
            sig = formulas.sigmoid_expr(z)
            p_true = sig if label == 1 else 1 - sig
            r = check_against_torch(
                formulas.focal_expr(p_true, sp.nsimplify(gamma_value)),
                lambda a, b, g=gamma_value: sigmoid_focal_loss(a, b, gamma=g, reduction="none"),
                {z: sample_points(64, seed=4), y: float(label)},
                wrt=z,
                atol=1e-300,
                dps=500,  # 1 - sigmoid(-1000) needs some 440 digits before its log is taken
            )
            assert r.passed, (gamma_value, label, str(r))


def test_focal_loss_with_gamma_zero_equals_cross_entropy():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.uniform(-30, 30, size=5000))
    t = torch.from_numpy((rng.uniform(size=5000) < 0.3).astype(float))
    torch.testing.assert_close(
        sigmoid_focal_loss(x, t, gamma=0.0, reduction="none"),
        F.binary_cross_entropy_with_logits(x, t, reduction="none"),
    )


def test_easy_examples_are_discounted_as_the_page_says():
    def pair(p_true: float, g: float) -> tuple[float, float]:
        logit = torch.tensor([math.log(p_true / (1 - p_true))], dtype=torch.float64, requires_grad=True)
        loss = sigmoid_focal_loss(logit, torch.ones(1, dtype=torch.float64), gamma=g)
        (grad,) = torch.autograd.grad(loss, logit)
        return loss.item(), grad.item()

    (ce, ce_g), (fl, fl_g) = pair(0.9, 0.0), pair(0.9, 2.0)
    assert ce / fl == pytest.approx(100.0)
    assert 20 < ce_g / fl_g < 100  # the gradient is discounted less than the loss
    assert pair(0.968, 0.0)[0] / pair(0.968, 2.0)[0] == pytest.approx(1 / 0.032**2)


def test_modulating_factor_slope_is_unbounded_below_gamma_one():
    half, quarter, one, two = (im.modulating_slope_limit(g) for g in (sp.Rational(1, 2), sp.Rational(1, 4), 1, 2))
    assert half == (-sp.oo, 0) and quarter == (-sp.oo, 0)
    assert one == (-1, 0) and two == (0, 0)


def test_textbook_focal_gives_nan_where_p_t_rounds_to_one():
    nan32 = im.focal_naive_nan_from(0.5, torch.float32)
    nan64 = im.focal_naive_nan_from(0.5, torch.float64)
    assert 15 < nan32 < 18 and 35 < nan64 < 38
    assert float(torch.sigmoid(torch.tensor(nan32, dtype=torch.float32))) == 1.0
    for g in (1.0, 2.0):
        assert im.focal_naive_nan_from(g, torch.float32) is None
    z_ = torch.tensor([nan32 + 1.0, 1e4], requires_grad=True)
    sigmoid_focal_loss(z_, torch.ones(2), gamma=0.5, reduction="sum").backward()
    assert torch.isfinite(z_.grad).all()


def test_focal_loss_discounts_easy_examples_of_both_classes():
    train = rare_events(20_000, seed=0)
    fit = im.fit_linear(train.X, train.y, F.binary_cross_entropy_with_logits)
    shares = im.loss_shares(fit.logits(train.X), train.y, gamma_value=2.0)
    for key, groups in shares.items():
        assert sum(groups.values()) == pytest.approx(1.0), key
    ce, fl = shares["cross-entropy: gradient"], shares["focal, gamma = 2: gradient"]
    assert shares["count"]["easy negatives"] > 0.9
    assert fl["easy negatives"] < ce["easy negatives"] / 10
    assert fl["hard negatives"] > 0.05  # not a class weight: hard negatives keep their pull


# --- the demo ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo() -> im.DemoResult:
    return im.imbalance_demo(seeds=(0, 1, 2), n_test=50_000)


def test_demo_losses_rank_alike_but_calibrate_differently(demo):
    bce = demo.mean("BCE", "PR-AUC")
    for method in im.METHODS:
        assert abs(demo.mean(method, "PR-AUC") - bce) < 0.05, method
    for method in ("weighted BCE", "undersampled BCE"):
        assert demo.mean(method, "ECE") > 10 * demo.mean("BCE", "ECE"), method
    assert demo.mean("weighted BCE", "recall@0.5") > 3 * demo.mean("BCE", "recall@0.5")
    assert demo.mean("weighted BCE", "precision@0.5") < demo.mean("BCE", "precision@0.5") / 3
    assert np.mean(demo.weights) == pytest.approx(99, rel=0.1)


def test_demo_tuned_thresholds_bring_the_methods_together(demo):
    recalls = [demo.mean(m, "tuned recall") for m in im.METHODS]
    assert max(recalls) - min(recalls) < 0.1
    for m in im.METHODS:
        assert demo.mean(m, "tuned precision") > demo.precision - 0.1, m
    assert demo.mean("weighted BCE", "tuned threshold") > 0.8 > 0.5 > demo.mean("BCE", "tuned threshold")


# --- the data set -------------------------------------------------------------------------------------


def test_rare_events_data():
    big = rare_events(400_000, positive_rate=0.01, seed=3)
    rate = big.y.mean().item()
    assert abs(rate - 0.01) < 4 * math.sqrt(0.01 * 0.99 / 400_000)
    torch.testing.assert_close(big.y.mean(), torch.sigmoid(big.logit).mean(), atol=1e-3, rtol=0)
    a, b = rare_events(100, seed=1), rare_events(100, seed=1)
    assert torch.equal(a.X, b.X) and torch.equal(a.y, b.y) and a.X.dtype == torch.float32
    # the task is fixed across seeds: the same features give the same true logit
    c = rare_events(100, seed=2)
    slope_a = torch.linalg.lstsq(torch.cat([a.X, torch.ones(100, 1)], 1).double(), a.logit.double()[:, None]).solution
    slope_c = torch.linalg.lstsq(torch.cat([c.X, torch.ones(100, 1)], 1).double(), c.logit.double()[:, None]).solution
    torch.testing.assert_close(slope_a, slope_c, atol=1e-4, rtol=0)
    for kwargs in ({"n": 0}, {"positive_rate": 0.5}, {"positive_rate": 0.0}, {"separation": -1.0}):
        with pytest.raises(ValueError):
            rare_events(**{"n": 10, **kwargs})
