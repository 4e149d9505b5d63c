"""The claims of the chapter "Classification losses", checked on the same expressions, the same
library calls and the same data as the page (lossprep.chapters.classification)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from lossprep import formulas
from lossprep.chapters import classification as cl
from lossprep.data import overlapping_blobs, scene_objects, two_clouds
from lossprep.losses import hinge_loss
from lossprep.symbolic import NotConfirmed, check_against_torch, confirm, sample_points, to_torch
from lossprep.symbols import eta, p, y, z
from lossprep.train import predict

pytestmark = pytest.mark.usefixtures("one_torch_thread")

# --- derivations -------------------------------------------------------------------------------


def test_bce_steps_are_confirmed_and_match_autograd():
    assert len(cl.bce_identities().rows) == 4
    bce_z = formulas.bce_expr(formulas.sigmoid_expr(z), y)
    probs = torch.sigmoid(sample_points(64, seed=2, high=20.0))
    for label in (0.0, 1.0):
        on_logits = check_against_torch(
            bce_z,
            lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
            {z: sample_points(64, seed=1), y: label},
            wrt=z,
        )
        on_probs = check_against_torch(
            formulas.bce_expr(p, y),
            lambda a, b: F.binary_cross_entropy(a, b, reduction="none"),
            {p: probs, y: label},
            wrt=p,
        )
        assert on_logits.passed and on_probs.passed, (on_logits, on_probs)


def test_a_wrong_bce_gradient_is_not_confirmed():
    s = formulas.sigmoid_expr(z)
    with pytest.raises(NotConfirmed):
        confirm("dL/dz", sp.diff(formulas.bce_expr(s, y), z), (s - y) * s * (1 - s))


@pytest.mark.parametrize("n_classes", [2, 3, 4])
def test_softmax_jacobian_and_gradient_are_confirmed(n_classes):
    assert len(cl.softmax_identities(n_classes).rows) == 3


def test_softmax_gradient_for_many_classes_is_p_minus_y():
    g = torch.Generator().manual_seed(3)
    logits = (5 * torch.randn(64, 10, generator=g, dtype=torch.float64)).requires_grad_()
    targets = torch.randint(0, 10, (64,), generator=g)
    F.cross_entropy(logits, targets, reduction="sum").backward()
    torch.testing.assert_close(logits.grad, logits.detach().softmax(1) - F.one_hot(targets, 10))
    p0 = logits[0].detach().softmax(0)
    jac = torch.autograd.functional.jacobian(lambda v: v.softmax(0), logits[0].detach())
    torch.testing.assert_close(jac, torch.diag(p0) - torch.outer(p0, p0))


def test_cross_entropy_is_nll_of_log_softmax_bit_for_bit():
    g = torch.Generator().manual_seed(3)
    z32 = 30 * torch.randn(1000, 10, generator=g)
    t32 = torch.randint(0, 10, (1000,), generator=g)
    assert torch.equal(
        F.cross_entropy(z32, t32, reduction="none"), F.nll_loss(F.log_softmax(z32, 1), t32, reduction="none")
    )


def test_canonical_links_give_mean_minus_label():
    links = {lk.family: lk for lk in cl.canonical_links()}
    assert sp.simplify(links["Bernoulli"].log_partition - sp.log(1 + sp.exp(z))) == 0
    assert sp.simplify(links["Gaussian, unit variance"].log_partition - z**2 / 2) == 0
    assert sp.simplify(links["Poisson"].log_partition - sp.exp(z)) == 0
    zz = torch.linspace(-4, 4, 81, dtype=torch.float64, requires_grad=True)
    targets = {
        "Bernoulli": (torch.arange(81) % 2).double(),
        "Gaussian, unit variance": torch.linspace(-3, 3, 81, dtype=torch.float64),
        "Poisson": (torch.arange(81) % 6).double(),
    }
    losses = {
        "Bernoulli": lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="sum"),
        "Gaussian, unit variance": lambda a, b: F.mse_loss(a, b, reduction="sum") / 2,
        "Poisson": lambda a, b: F.poisson_nll_loss(a, b, log_input=True, reduction="sum"),
    }
    for family, link in links.items():
        (grad,) = torch.autograd.grad(losses[family](zz, targets[family]), zz)
        torch.testing.assert_close(grad, to_torch(link.mean, z)(zz.detach()) - targets[family])


def test_cross_entropy_is_entropy_plus_kl():
    assert len(cl.cross_entropy_identity(3).rows) == 1
    g = torch.Generator().manual_seed(0)
    target = torch.rand(16, 5, generator=g, dtype=torch.float64).softmax(1)
    logits = torch.randn(16, 5, generator=g, dtype=torch.float64)
    ce = F.cross_entropy(logits, target, reduction="none")
    entropy = -(target * target.log()).sum(1)
    kl = F.kl_div(logits.log_softmax(1), target, reduction="none").sum(1)
    torch.testing.assert_close(ce, entropy + kl)


def test_stable_log_identities_are_confirmed():
    assert len(cl.stable_log_identities(3).rows) == 2


def test_naive_formulas_break_where_the_page_says_and_fused_ones_never():
    found = {(b.name, b.dtype): b for b in cl.naive_versus_fused()}
    sig32 = found[("torch.log(torch.sigmoid(z))", "float32")]
    sig64 = found[("torch.log(torch.sigmoid(z))", "float64")]
    assert 80 < sig32.value_nonfinite < 95 and sig32.grad_nonfinite == sig32.value_nonfinite
    assert 700 < sig64.value_nonfinite < 720
    soft32 = found[("torch.log(torch.softmax(z))", "float32")]
    # the gradient turns NaN before the value turns infinite (1/p overflows first)
    assert soft32.grad_nonfinite < soft32.value_wrong <= soft32.value_nonfinite < 110
    hand32 = found[("torch.log(e / e.sum()), e = exp(z)", "float32")]
    assert hand32.grad_wrong < hand32.value_nonfinite
    for (name, _), b in found.items():
        if name.startswith("F."):
            assert (b.value_wrong, b.value_nonfinite, b.grad_wrong, b.grad_nonfinite) == (None, None, None, None)


def test_breakdown_reports_an_exact_function_as_never_wrong():
    grid = np.linspace(0.5, 50, 100)
    b = cl.breakdown("square", lambda x: x * x, lambda a: a * a, lambda a: 2 * a, dtype=torch.float64, grid=grid)
    assert (b.value_wrong, b.grad_wrong, b.value_nonfinite) == (None, None, None)


# --- MSE on a sigmoid ------------------------------------------------------------------------------


def test_mse_on_sigmoid_is_not_convex_and_its_gradient_vanishes():
    result = cl.mse_on_sigmoid()
    assert result.inflection == -sp.log(2) and result.gradient_limit == 0
    second = sp.diff((formulas.sigmoid_expr(z) - 1) ** 2 / 2, z, 2)
    assert second.subs(z, -3).evalf() < 0 < second.subs(z, 0).evalf()


def test_mse_on_sigmoid_learns_far_slower_from_a_confidently_wrong_start():
    clouds = two_clouds(400, seed=0)
    acc_ce = cl.gradient_descent_accuracy(F.binary_cross_entropy_with_logits, clouds, steps=600)
    acc_mse = cl.gradient_descent_accuracy(lambda a, b: 0.5 * (torch.sigmoid(a) - b).pow(2).mean(), clouds, steps=600)
    assert acc_ce[0] == acc_mse[0] < 0.2
    steps_ce, steps_mse = int(np.argmax(acc_ce >= 0.85)), int(np.argmax(acc_mse >= 0.85))
    assert acc_ce[steps_ce] >= 0.85 and acc_mse[steps_mse] >= 0.85
    assert steps_mse > 10 * steps_ce


# --- hinge -----------------------------------------------------------------------------------------


def test_kink_gradients_differ_as_measured():
    assert cl.kink_gradients(1.0) == {
        "torch.clamp(m - z, min=0)": -1.0,
        "F.relu(m - z)": 0.0,
        "torch.maximum(m - z, 0)": -0.5,
    }


@pytest.mark.parametrize(("eta_value", "best"), [(0.55, 1.0), (0.75, 1.0), (0.95, 1.0), (0.3, -1.0), (0.01, -1.0)])
def test_hinge_optimal_score_ignores_the_probability(eta_value, best):
    assert cl.hinge_optimal_score(eta_value) == best
    # the logistic loss's optimum is the log-odds, which does carry the probability
    logistic = -eta * sp.log(formulas.sigmoid_expr(z)) - (1 - eta) * sp.log(1 - formulas.sigmoid_expr(z))
    stationary = sp.solve(sp.diff(logistic.subs(eta, sp.nsimplify(eta_value)), z), z)
    assert math.isclose(float(stationary[0]), math.log(eta_value / (1 - eta_value)), rel_tol=1e-9)
    with pytest.raises(ValueError):
        cl.hinge_optimal_score(1.0)


def test_hinge_updates_are_sparse_and_its_boundary_matches_the_logistic_one():
    clouds, test = two_clouds(400, seed=0), two_clouds(4000, seed=1)
    logistic = cl.fit_linear(F.binary_cross_entropy_with_logits, clouds, device="cpu")
    svm = cl.fit_linear(hinge_loss, clouds, weight_decay=1e-2, device="cpu")
    with torch.no_grad():
        margins = (2 * clouds.y - 1) * svm(clouds.X).squeeze(1)
        p_train = torch.sigmoid(logistic(clouds.X).squeeze(1))
        acc = {
            name: ((m(test.X).squeeze(1) > 0).float() == test.y).double().mean().item()
            for name, m in (("logistic", logistic), ("hinge", svm))
        }
    assert (margins < 1).double().mean() < 0.5
    assert bool(((p_train - clouds.y) != 0).all())
    assert abs(acc["logistic"] - acc["hinge"]) < 0.02 and min(acc.values()) > 0.85


# --- proper scoring and calibration --------------------------------------------------------------


def test_expected_score_minimisers():
    found = cl.expected_score_minimisers()
    assert found["log loss"][1] == eta and found["Brier score"][1] == eta
    absolute = found["absolute error"][1]
    assert absolute.subs(eta, sp.Rational(3, 4)) == 1 and absolute.subs(eta, sp.Rational(1, 4)) == 0


def test_weight_semantics_of_cross_entropy_are_as_the_page_states():
    g = torch.Generator().manual_seed(0)
    for _ in range(5):
        logits = torch.randn(12, 4, generator=g, dtype=torch.float64)
        targets = torch.randint(0, 4, (12,), generator=g)
        weight = torch.rand(4, generator=g, dtype=torch.float64) * 5 + 0.1
        per = -F.log_softmax(logits, 1).gather(1, targets[:, None]).squeeze(1)
        w_t = weight[targets]
        # reduction="none" multiplies each loss by its true class's weight
        torch.testing.assert_close(F.cross_entropy(logits, targets, weight=weight, reduction="none"), w_t * per)
        # the mean divides by the sum of those weights, not by N
        mean = F.cross_entropy(logits, targets, weight=weight)
        torch.testing.assert_close(mean, (w_t * per).sum() / w_t.sum())
        assert not torch.isclose(mean, (w_t * per).sum() / len(targets))
        # scaling every weight leaves the mean unchanged
        torch.testing.assert_close(F.cross_entropy(logits, targets, weight=10 * weight), mean)
        # probability targets divide by N
        onehot = F.one_hot(targets, 4).double()
        torch.testing.assert_close(F.cross_entropy(logits, onehot, weight=weight), (w_t * per).sum() / len(targets))
        # ignored targets leave the sum and the divisor
        ignored = targets.clone()
        ignored[:3] = -100
        keep = ignored != -100
        torch.testing.assert_close(
            F.cross_entropy(logits, ignored, weight=weight), (w_t * per)[keep].sum() / w_t[keep].sum()
        )
    assert math.isnan(F.cross_entropy(logits, torch.full_like(targets, -100)).item())


def test_temperature_scaling_lowers_ece_on_held_out_data_and_keeps_accuracy():
    train, valid, test = (
        overlapping_blobs(400, seed=0),
        overlapping_blobs(2000, seed=1),
        overlapping_blobs(10_000, seed=2),
    )
    torch.manual_seed(0)
    plain = cl.train_blob_classifier(train, device="cpu")
    z_valid, z_test = predict(plain, valid.X), predict(plain, test.X)
    T = cl.fit_temperature(z_valid, valid.y)
    before = cl.calibration_report(z_test, test.y)
    after = cl.calibration_report(z_test, test.y, temperature=T)
    train_acc = cl.calibration_report(predict(plain, train.X), train.y).accuracy
    assert train_acc > before.accuracy + 0.1  # it overfits ...
    assert before.confidence > before.accuracy + 0.1  # ... into overconfidence
    assert T > 1 and after.ece < 0.6 * before.ece and after.nll < before.nll
    assert after.accuracy == before.accuracy
    smoothed = cl.train_blob_classifier(train, label_smoothing=0.1, device="cpu")
    assert cl.calibration_report(predict(smoothed, test.X), test.y).ece < 0.6 * before.ece
    with pytest.raises(ValueError):
        cl.fit_temperature(z_valid[:, 0], valid.y)


# --- multi-label ----------------------------------------------------------------------------------


def test_softmax_multilabel_model_predicts_far_fewer_labels_than_the_sigmoid_one():
    train, test = scene_objects(3000, seed=0), scene_objects(5000, seed=1)
    out = cl.multilabel_decoding(train, test, device="cpu")
    true_count = test.Y.sum(1).mean().item()
    assert out["softmax, argmax"]["labels"] == 1.0
    assert out["sigmoid, p >= 0.5"]["labels"] > 0.8 * true_count > 2.0
    assert out["sigmoid, p >= 0.5"]["f1"] > out["softmax, argmax"]["f1"] + 0.2
    # the softmax ranks well: told the true count, it is as good as the sigmoids
    assert abs(out["softmax, top-k (true k)"]["f1"] - out["sigmoid, top-k (true k)"]["f1"]) < 0.03


# --- the data sets ----------------------------------------------------------------------------------


def test_chapter_data_sets_are_seeded_and_checked():
    a, b = two_clouds(100, seed=3), two_clouds(100, seed=3)
    assert torch.equal(a.X, b.X) and a.y.sum() == 50 and a.X.dtype == torch.float32
    blobs = overlapping_blobs(300, n_classes=4, seed=1)
    assert blobs.y.dtype == torch.int64 and set(blobs.y.tolist()) == {0, 1, 2, 3} and len(blobs) == 300
    scenes = scene_objects(500, seed=2)
    assert scenes.Y.shape == (500, 8) and bool((scenes.Y.sum(1) >= 1).all())
    assert not torch.equal(scene_objects(50, seed=0).X, scene_objects(50, seed=1).X)
    for bad in (lambda: two_clouds(1), lambda: overlapping_blobs(10, n_classes=1), lambda: scene_objects(0)):
        with pytest.raises(ValueError):
            bad()
