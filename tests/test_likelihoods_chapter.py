"""The claims of the chapter "Losses are likelihoods", checked on the same expressions.

Every formula and number the page states (issue 9, section 1) is pinned here: the NLL
expansions, the weight decay of a Gaussian prior, the BCE gradient step by step, where naive
BCE breaks, the softmax gradient with 0-based classes, the median and quantile conditions, and
what each loss estimates. The test marked ``slow`` executes the chapter itself.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import mpmath
import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from chapter_helpers import markdown_outputs, run_chapter_cleanly, undefined_glue

from lossprep.chapters import likelihoods as lk
from lossprep.formulas import pinball_expr
from lossprep.losses import pinball_loss
from lossprep.symbolic import NotConfirmed, check_against_torch, confirm, is_identity, sample_points
from lossprep.symbols import F as cdf
from lossprep.symbols import b, c, e, p, q, s, sigmoid, tau, theta, u, y, y_hat, z

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = ROOT / "book" / "likelihoods.md"


# ------------------------------------------------------------------------------------------
# Noise models
# ------------------------------------------------------------------------------------------


def test_each_nll_is_its_loss_scaled_and_shifted():
    models = {m.name: m for m in lk.noise_models()}
    expected = {
        "Gaussian": (1 / (2 * s**2), sp.log(s) + sp.log(2 * sp.pi) / 2),
        "Laplace": (1 / b, sp.log(2 * b)),
        "asymmetric Laplace": (1 / b, sp.log(b) - sp.log(q * (1 - q))),
    }
    for name, (a_want, k_want) in expected.items():
        a, k = lk.scale_and_constant(models[name])
        assert sp.simplify(a - a_want) == 0, name
        assert sp.simplify(sp.expand_log(k - k_want, force=True)) == 0, name


def test_the_chapters_whiteboard_expansions():
    """The equations the page displays, as SymPy confirms them (both sides of a kink)."""
    models = {m.name: m for m in lk.noise_models()}
    gauss = models["Gaussian"].nll.subs(y, y_hat + e)
    assert is_identity(gauss, e**2 / (2 * s**2) + sp.log(s) + sp.log(2 * sp.pi) / 2)
    assert is_identity(models["Laplace"].nll.subs(y, y_hat + e), sp.Abs(e) / b + sp.log(2 * b))
    ald = models["asymmetric Laplace"].nll.subs(y, y_hat + e)
    stated = pinball_expr(e) / b + sp.log(b) - sp.log(q * (1 - q))
    for side in (u, -u):
        assert is_identity(ald.subs(e, side), stated.subs(e, side))


def test_a_wrong_pairing_is_refused():
    wrong = lk.NoiseModel("Gaussian", lk.gaussian_nll(), sp.Abs(y - y_hat), "absolute error")
    with pytest.raises(ValueError, match="positive multiple"):
        lk.scale_and_constant(wrong)


def test_weight_decay_of_a_gaussian_prior_is_s_squared_over_tau_squared():
    lam = lk.weight_decay_from_prior()
    assert sp.simplify(lam - s**2 / tau**2) == 0
    assert sp.simplify(lam - tau**2 / s**2) != 0  # the chapter's direction, not the inverse
    assert sp.simplify(sp.diff(lk.gaussian_prior_nll(), theta) - theta / tau**2) == 0
    # numerically: minimising the negative log posterior gives ridge regression with that lambda
    g = torch.Generator().manual_seed(0)
    X = torch.randn(40, 3, generator=g, dtype=torch.float64)
    t = X @ torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64) + 0.7 * torch.randn(
        40, generator=g, dtype=torch.float64
    )
    noise, prior = 0.7, 0.3
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200, tolerance_grad=1e-12, tolerance_change=1e-15)

    def closure():
        opt.zero_grad()
        loss = ((t - X @ w) ** 2).sum() / (2 * noise**2) + (w**2).sum() / (2 * prior**2)
        loss.backward()
        return loss

    opt.step(closure)
    lam_value = float(lam.subs({s: noise, tau: prior}))
    ridge = torch.linalg.solve(X.T @ X + lam_value * torch.eye(3, dtype=torch.float64), X.T @ t)
    torch.testing.assert_close(w.detach(), ridge, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------------------------------
# Bernoulli and Categorical
# ------------------------------------------------------------------------------------------


def test_bce_gradient_step_by_step():
    bce = lk.bernoulli_nll()
    assert sp.simplify(bce - (-y * sp.log(p) - (1 - y) * sp.log(1 - p))) == 0
    sig = 1 / (1 + sp.exp(-z))
    assert is_identity(sp.diff(sig, z), sigmoid(z) * (1 - sigmoid(z)))
    assert is_identity(sp.diff(bce, p), (p - y) / (p * (1 - p)))
    bce_z = bce.subs(p, sig)
    assert is_identity(sp.diff(bce_z, z), sigmoid(z) - y)
    assert is_identity(sp.diff(bce_z, z, 2), sigmoid(z) * (1 - sigmoid(z)))
    # confidently wrong costs linearly, confidently right costs nothing
    assert sp.limit(bce_z.subs(y, 1) + z, z, -sp.oo) == 0
    assert sp.limit(bce_z.subs(y, 1), z, sp.oo) == 0


def test_mse_after_a_sigmoid_loses_its_gradient_when_confidently_wrong():
    sig = 1 / (1 + sp.exp(-z))
    mse_grad = sp.diff((sig - y) ** 2, z)
    assert is_identity(mse_grad, 2 * (sigmoid(z) - y) * sigmoid(z) * (1 - sigmoid(z)))
    assert sp.limit(mse_grad.subs(y, 1), z, -sp.oo) == 0
    assert sp.limit(sp.diff(lk.bernoulli_nll().subs(p, sig).subs(y, 1), z), z, -sp.oo) == -1


def test_bce_against_autograd_for_both_labels():
    bce_z = lk.bernoulli_nll().subs(p, 1 / (1 + sp.exp(-z)))
    pts = sample_points(64, seed=11)
    for label in (0.0, 1.0):
        r = check_against_torch(
            bce_z,
            lambda a, t: F.binary_cross_entropy_with_logits(a, t, reduction="none"),
            {z: pts, y: label},
            wrt=z,
        )
        assert r.passed, str(r)


def test_bce_exact_reference_matches_mpmath():
    zs = torch.tensor([-110.0, -40.0, -28.0, -3.0, 0.5, 17.0, 36.0, 101.0], dtype=torch.float64)
    for label in (0.0, 1.0):
        _, _, exact, exact_grad = lk.bce_naive_and_exact(zs, label, torch.float64)
        with mpmath.workdps(200):
            for zi, v, g in zip(zs.tolist(), exact.tolist(), exact_grad.tolist(), strict=True):
                sig = 1 / (1 + mpmath.exp(-mpmath.mpf(zi)))
                want = -mpmath.log(sig) if label == 1.0 else -mpmath.log(1 - sig)
                assert v == pytest.approx(float(want), rel=1e-13)
                assert g == pytest.approx(float(sig - label), rel=1e-13)


# (label, dtype) -> (|z| where the loss is off by > 1%, |z| where the gradient is)
BREAKS = {
    (0.0, torch.float32): (14.69, 16.64),
    (1.0, torch.float32): (88.73, 27.65),
    (0.0, torch.float64): (35.64, 27.65),
    (1.0, torch.float64): (101.02, 27.65),
}


@pytest.mark.parametrize("label, dtype", list(BREAKS), ids=lambda v: str(v))
def test_naive_bce_break_points(label, dtype):
    """The table of the chapter: the gradient goes wrong at |z| ~ 27.6 = 12 ln 10 (PyTorch's
    backward clamps p(1-p) at 1e-12), before the loss does."""
    value_break, grad_break = lk.bce_break_point(label, dtype)
    want_value, want_grad = BREAKS[(label, dtype)]
    assert value_break == pytest.approx(want_value, abs=0.02)
    assert grad_break == pytest.approx(want_grad, abs=0.02)
    assert grad_break < value_break or (dtype == torch.float32 and label == 0.0)


def test_gradient_break_is_the_backward_clamp():
    assert 12 * math.log(10) == pytest.approx(27.63, abs=0.01)
    zv = torch.tensor([-30.0], dtype=torch.float64, requires_grad=True)
    F.binary_cross_entropy(torch.sigmoid(zv), torch.ones(1, dtype=torch.float64)).backward()
    # (p - 1) p (1 - p) / max(p (1 - p), 1e-12) with p (1 - p) ~ exp(-30)
    assert zv.grad.item() == pytest.approx(-math.exp(-30.0) / 1e-12, rel=1e-6)


def test_the_stable_loss_never_breaks_on_the_confidently_wrong_side():
    mags = torch.arange(0.0, 120.0, 0.01, dtype=torch.float64)
    for label in (0.0, 1.0):
        zv = (-mags if label == 1.0 else mags).float().requires_grad_(True)
        stable = F.binary_cross_entropy_with_logits(zv, torch.full_like(zv, label), reduction="none")
        (grad,) = torch.autograd.grad(stable.sum(), zv)
        _, _, exact, exact_grad = lk.bce_naive_and_exact(zv.detach().double(), label, torch.float32)
        assert ((stable.double() - exact).abs() <= 0.01 * exact.abs()).all()
        assert ((grad.double() - exact_grad).abs() <= 0.01 * exact_grad.abs()).all()
    with pytest.raises(ValueError, match="label of 0 or 1"):
        lk.bce_naive_and_exact(mags, 0.5, torch.float64)


@pytest.mark.parametrize("C, target", [(2, 1), (3, 0), (4, 2)])
def test_categorical_nll_gradient_is_softmax_minus_onehot_zero_based(C, target):
    ce, zs = lk.categorical_nll(C=C, target=target)
    assert [str(zk) for zk in zs] == [f"z_{k}" for k in range(C)]  # 0-based, as PyTorch
    denom = sum(sp.exp(zk) for zk in zs)
    for k, zk in enumerate(zs):
        assert sp.simplify(sp.diff(ce, zk) - (sp.exp(zk) / denom - (1 if k == target else 0))) == 0
    pts = [sample_points(48, seed=20 + k, high=50.0) for k in range(C)]
    tgt = torch.full((48,), target, dtype=torch.long)
    r = check_against_torch(
        ce,
        lambda *cols: F.cross_entropy(torch.stack(cols, 1), tgt, reduction="none"),
        dict(zip(zs, pts, strict=True)),
        wrt=zs[target],
    )
    assert r.passed, str(r)
    with pytest.raises(ValueError):
        lk.categorical_nll(C=3, target=3)


def test_bce_is_two_class_cross_entropy_with_one_logit_at_zero():
    ce, (z0, z1) = lk.categorical_nll(C=2, target=1)
    bce_z = lk.bernoulli_nll().subs(p, 1 / (1 + sp.exp(-z))).subs(y, 1)
    assert sp.simplify(ce.subs({z0: 0, z1: z}) - bce_z) == 0


# ------------------------------------------------------------------------------------------
# What each loss estimates
# ------------------------------------------------------------------------------------------


def test_quantile_and_median_conditions():
    assert sp.expand(lk.expected_pinball_slope() - (cdf(c) - q)) == 0
    assert sp.expand(2 * lk.expected_pinball_slope(sp.Rational(1, 2)) - (2 * cdf(c) - 1)) == 0
    # the condition on a concrete distribution: Exp(1), F(c) = 1 - exp(-c), minimiser -log(1 - q)
    for level in (0.1, 0.5, 0.9):
        cdf_exp = 1 - sp.exp(-c)
        slope = lk.expected_pinball_slope(sp.Rational(str(level))).subs(cdf(c), cdf_exp)
        (root,) = sp.solve(sp.Eq(slope, 0), c)
        assert float(root) == pytest.approx(-math.log(1 - level))


def test_pinball_expression_matches_the_course_implementation():
    for level in (0.2, 0.8):
        r = check_against_torch(
            pinball_expr(e, sp.Rational(str(level))),
            lambda t, lv=level: pinball_loss(torch.zeros_like(t), t, q=lv, reduction="none"),
            {e: sample_points(64, seed=7)},
            wrt=e,
        )
        assert r.passed, str(r)


def test_each_loss_is_minimised_by_its_statistic():
    gen = torch.Generator().manual_seed(0)
    sample = torch.exp(torch.randn(1001, generator=gen, dtype=torch.float64))
    step = float(sample.max() - sample.min()) / 100_000
    mse = lk.minimise_constant(lambda cc, smp: (smp - cc) ** 2, sample, steps=100_001)
    mae = lk.minimise_constant(lambda cc, smp: (smp - cc).abs(), sample, steps=100_001)
    pin = lk.minimise_constant(
        lambda cc, smp: pinball_loss(*torch.broadcast_tensors(cc, smp), q=0.9, reduction="none"), sample, steps=100_001
    )
    assert abs(mse - float(sample.mean())) <= step
    assert abs(mae - float(sample.median())) <= step
    assert abs(pin - float(torch.quantile(sample, 0.9))) <= 2 * step
    # and the three are genuinely different on a skewed sample
    assert mae < mse < pin
    with pytest.raises(ValueError):
        lk.minimise_constant(lambda cc, smp: (smp - cc) ** 2, torch.empty(0))


def test_mse_estimates_the_mean_under_any_noise():
    """The minimiser of E(Y - c)^2 is E[Y] for a skewed, non-Gaussian Y (the chapter's claim)."""
    gen = torch.Generator().manual_seed(3)
    skewed = -2.0 * torch.rand(20_001, generator=gen, dtype=torch.float64).log()  # exponential, mean 2
    best = lk.minimise_constant(lambda cc, smp: (smp - cc) ** 2, skewed, steps=20_001)
    assert best == pytest.approx(float(skewed.mean()), abs=2 * float(skewed.max() - skewed.min()) / 20_000)


# ------------------------------------------------------------------------------------------
# The chapter itself
# ------------------------------------------------------------------------------------------


def test_confirm_fails_on_a_wrong_derivation():
    with pytest.raises(NotConfirmed, match="does not confirm"):
        confirm(r"\frac{\partial L}{\partial z}", sp.diff(lk.bernoulli_nll().subs(p, sigmoid(z)), z), y - sigmoid(z))


def test_chapter_structure():
    text = CHAPTER.read_text()
    assert "mystnb:\n  render_markdown_format: myst\n---\n" in text  # tables in outputs render
    heads = re.findall(r"^## (.+)$", text, flags=re.M)
    assert heads[-3:] == ["Interview view", "Summary", "Self-check"]
    assert heads.count("The recipe: maximum likelihood") == 1
    assert 2 <= text.count(":::{dropdown} Answer") <= 3  # the problems with hidden answers
    assert text.count("**On the whiteboard.**") >= 5
    # the recipe is stated for any likelihood, not for additive noise only
    assert r"-\sum_{i=1}^{N} \log P(y_i \mid x_i; \theta)" in text
    assert "hinge, focal" in text.lower()  # which losses are not likelihoods
    # no raw SymPy output: every displayed derivation goes through confirm()
    assert "init_printing" not in text and "limits(" not in text
    assert not undefined_glue(text, {"stat_MSE", "stat_MAE", "stat_pin"})


@pytest.mark.slow
def test_chapter_executes_quickly_and_shows_no_raw_sympy():
    outputs = run_chapter_cleanly(CHAPTER)
    text = markdown_outputs(outputs)
    assert text.count("| passed |") == 2 + 3 + 3 and "FAILED" not in text
