"""The claims of the chapter "Losses are likelihoods", checked on the same expressions."""

from __future__ import annotations

import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from lossprep.chapters import likelihoods as lk
from lossprep.losses import pinball_loss
from lossprep.symbolic import check_against_torch, sample_points


@pytest.mark.parametrize("model", lk.noise_models(), ids=lambda m: m.name)
def test_each_nll_is_its_loss_up_to_positive_scale(model):
    ratios = {str(k): v for k, v in lk.check_loss(model).items()}
    assert set(ratios) == {"e > 0", "e < 0"}
    pos, neg = ratios["e > 0"], ratios["e < 0"]
    assert sp.simplify(pos - neg) == 0
    assert pos.free_symbols <= {lk.sigma, lk.b, lk.q}  # a constant: no y, y_hat or |e|
    assert pos.subs({lk.sigma: 1.3, lk.b: 0.7, lk.q: 0.25}) > 0


def test_a_wrong_pairing_is_detected():
    wrong = lk.NoiseModel("Gaussian", lk.gaussian_nll(), sp.Abs(lk.y - lk.y_hat), "absolute error")
    ratios = list(lk.check_loss(wrong).values())
    assert not ratios[0].free_symbols <= {lk.sigma, lk.b, lk.q}


def test_bernoulli_nll_is_bce_with_gradient_p_minus_y():
    bce = lk.bernoulli_nll()
    assert sp.simplify(bce - (-lk.y * sp.log(lk.p) - (1 - lk.y) * sp.log(1 - lk.p))) == 0
    sig = 1 / (1 + sp.exp(-lk.z))
    bce_z = bce.subs(lk.p, sig)
    assert sp.simplify(sp.diff(bce_z, lk.z) - (sig - lk.y)) == 0
    pts = sample_points(64, seed=11)
    for label in (0.0, 1.0):
        r = check_against_torch(
            bce_z,
            lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
            {lk.z: pts, lk.y: label},
            wrt=lk.z,
        )
        assert r.passed, str(r)
    naive = check_against_torch(
        bce_z,
        lambda a, b: F.binary_cross_entropy(torch.sigmoid(a), b, reduction="none"),
        {lk.z: pts, lk.y: 1.0},
        wrt=lk.z,
    )
    assert not naive.passed


@pytest.mark.parametrize("C, target", [(2, 1), (3, 0), (4, 2)])
def test_categorical_nll_gradient_is_softmax_minus_onehot(C, target):
    ce, zs = lk.categorical_nll(C=C, target=target)
    denom = sum(sp.exp(zk) for zk in zs)
    for k, zk in enumerate(zs):
        assert sp.simplify(sp.diff(ce, zk) - (sp.exp(zk) / denom - (1 if k == target else 0))) == 0
    pts = [sample_points(48, seed=20 + k, high=50.0) for k in range(C)]
    tgt = torch.full((48,), target, dtype=torch.long)
    r = check_against_torch(
        ce,
        lambda *cols: F.cross_entropy(torch.stack(cols, 1), tgt, reduction="none"),
        dict(zip(zs, pts, strict=False)),
        wrt=zs[0],
    )
    assert r.passed, str(r)
    with pytest.raises(ValueError):
        lk.categorical_nll(C=3, target=3)


def test_pinball_expression_matches_the_course_implementation():
    e = sp.Symbol("e", real=True)
    for level in (0.2, 0.8):
        r = check_against_torch(
            lk.pinball_expr(e, sp.Rational(str(level))),
            lambda t, lv=level: pinball_loss(torch.zeros_like(t), t, q=lv, reduction="none"),
            {e: sample_points(64, seed=7)},
            wrt=e,
        )
        assert r.passed, str(r)


def test_each_loss_is_minimised_by_its_statistic():
    gen = torch.Generator().manual_seed(0)
    sample = torch.exp(torch.randn(1001, generator=gen, dtype=torch.float64))
    step = float(sample.max() - sample.min()) / 100_000
    mse = lk.minimise_constant(lambda c, s: (s - c) ** 2, sample, steps=100_001)
    mae = lk.minimise_constant(lambda c, s: (s - c).abs(), sample, steps=100_001)
    pin = lk.minimise_constant(
        lambda c, s: pinball_loss(*torch.broadcast_tensors(c, s), q=0.9, reduction="none"), sample, steps=100_001
    )
    assert abs(mse - float(sample.mean())) <= step
    assert abs(mae - float(sample.median())) <= step
    assert abs(pin - float(torch.quantile(sample, 0.9))) <= 2 * step
    # and the three are genuinely different on a skewed sample
    assert mae < mse < pin
    with pytest.raises(ValueError):
        lk.minimise_constant(lambda c, s: (s - c) ** 2, torch.empty(0))
