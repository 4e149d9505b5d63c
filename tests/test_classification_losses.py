"""The classification losses (lossprep.losses.classification), the calibration metrics
(lossprep.metrics), the tables and the SymPy confirmations the classification chapters use:
naive loop references, limiting cases, an independent NumPy float64 formula, float64 gradcheck,
reductions, edge cases and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
import torch
import torch.nn.functional as F
from sklearn.calibration import calibration_curve

from lossprep import formulas
from lossprep.losses import REDUCTIONS, hinge_loss, sigmoid_focal_loss
from lossprep.metrics import expected_calibration_error, reliability
from lossprep.symbolic import NotConfirmed, check_against_torch, confirm, sample_points
from lossprep.symbols import gamma, p_t, y, z
from lossprep.tables import Table


def _binary(n: int = 64, *, scale: float = 4.0, seed: int = 0, dtype: torch.dtype = torch.float64):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, dtype=dtype, generator=g) * scale
    targets = (torch.rand(n, generator=g) < 0.4).to(dtype)
    return logits, targets


def _focal_loop(logits: torch.Tensor, targets: torch.Tensor, gamma_: float, alpha: float | None) -> torch.Tensor:
    """Focal loss example by example, in Python floats, from the textbook formula (moderate
    logits only: it takes the log of a probability)."""
    out = []
    for zv, yv in zip(logits.tolist(), targets.tolist(), strict=True):
        prob = 1.0 / (1.0 + math.exp(-zv))
        pt = prob if yv == 1 else 1.0 - prob
        at = 1.0 if alpha is None else (alpha if yv == 1 else 1.0 - alpha)
        out.append(-at * (1.0 - pt) ** gamma_ * math.log(pt))
    return torch.tensor(out, dtype=logits.dtype)


def _retinanet_numpy(x: np.ndarray, y_: np.ndarray, alpha: float, gamma_: float) -> np.ndarray:
    """The alpha-balanced focal loss as written in Lin et al. (2017), eq. (5), in NumPy float64:
    FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t)."""
    prob = 1.0 / (1.0 + np.exp(-x))
    pt = np.where(y_ == 1, prob, 1.0 - prob)
    at = np.where(y_ == 1, alpha, 1.0 - alpha)
    return -at * (1.0 - pt) ** gamma_ * np.log(pt)


# ------------------------------------------------------------------------------------------
# sigmoid_focal_loss
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("gamma_", "alpha"), [(0.0, None), (0.5, None), (2.0, None), (2.0, 0.25), (5.0, 0.75)])
def test_focal_matches_a_naive_loop(gamma_, alpha):
    logits, targets = _binary()
    got = sigmoid_focal_loss(logits, targets, gamma=gamma_, alpha=alpha, reduction="none")
    torch.testing.assert_close(got, _focal_loop(logits, targets, gamma_, alpha), rtol=1e-10, atol=1e-14)


def test_focal_with_gamma_zero_is_binary_cross_entropy():
    for dtype in (torch.float32, torch.float64):
        logits, targets = _binary(256, scale=30.0, dtype=dtype)
        want = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
        torch.testing.assert_close(sigmoid_focal_loss(logits, targets, gamma=0.0, reduction="none"), want)
        torch.testing.assert_close(
            sigmoid_focal_loss(logits, targets, gamma=0.0), F.binary_cross_entropy_with_logits(logits, targets)
        )


def test_focal_agrees_with_the_retinanet_formula_in_numpy():
    logits, targets = _binary(512, scale=6.0, seed=3)
    for alpha, gamma_ in ((0.25, 2.0), (0.5, 1.0), (0.75, 0.5)):
        want = _retinanet_numpy(logits.numpy(), targets.numpy(), alpha, gamma_)
        got = sigmoid_focal_loss(logits, targets, gamma=gamma_, alpha=alpha, reduction="none").numpy()
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-15)


def test_focal_matches_sympy_in_value_and_gradient_over_many_magnitudes():
    """The SymPy form of the chapter, exact to 60 digits, at logits from 1e-6 to 1e3."""
    g = sp.Rational(2)
    for label in (0, 1):
        prob_true = formulas.sigmoid_expr(z) if label == 1 else 1 - formulas.sigmoid_expr(z)
        expr = formulas.focal_expr(prob_true, g)
        r = check_against_torch(
            expr,
            lambda a, b: sigmoid_focal_loss(a, b, gamma=2.0, reduction="none"),
            {z: sample_points(96, seed=4 + label), y: float(label)},
            wrt=z,
            rtol=1e-8,
            atol=1e-300,
            dps=500,
        )
        assert r.passed, str(r)


def test_focal_gradient_is_finite_where_the_textbook_form_gives_nan():
    """For 0 < gamma < 1 the derivative of (1 - p_t)^gamma is unbounded as p_t -> 1; the textbook
    form gets inf * 0 = NaN once p_t rounds to 1, ours stays finite."""
    for dtype in (torch.float32, torch.float64):
        z_ = torch.tensor([40.0, -40.0, 1e4, -1e4], dtype=dtype, requires_grad=True)
        y_ = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=dtype)
        sigmoid_focal_loss(z_, y_, gamma=0.5, reduction="sum").backward()
        assert torch.isfinite(z_.grad).all(), z_.grad
        torch.testing.assert_close(z_.grad[3], torch.tensor(-1.0, dtype=dtype))  # confidently wrong: like BCE
        naive_z = z_.detach().clone().requires_grad_()
        prob = torch.sigmoid(naive_z)
        pt = prob * y_ + (1 - prob) * (1 - y_)
        ce = F.binary_cross_entropy_with_logits(naive_z, y_, reduction="none")
        (ce * (1 - pt) ** 0.5).sum().backward()
        assert torch.isnan(naive_z.grad[0]), "the textbook form should fail here, or the test shows nothing"


def test_focal_gradcheck_float64():
    logits, targets = _binary(24)
    logits.requires_grad_(True)
    for gamma_, alpha in ((2.0, 0.25), (0.5, None)):
        assert torch.autograd.gradcheck(
            lambda a, g_=gamma_, al=alpha: sigmoid_focal_loss(a, targets, gamma=g_, alpha=al, reduction="none"),
            (logits,),
        )


def test_focal_reductions_and_target_types():
    logits, targets = _binary()
    per = sigmoid_focal_loss(logits, targets, reduction="none")
    torch.testing.assert_close(sigmoid_focal_loss(logits, targets), per.mean())
    torch.testing.assert_close(sigmoid_focal_loss(logits, targets, reduction="sum"), per.sum())
    for other in (targets.long(), targets.bool()):
        torch.testing.assert_close(sigmoid_focal_loss(logits, other, reduction="none"), per)
    grid = logits.reshape(8, 8)
    assert sigmoid_focal_loss(grid, targets.reshape(8, 8), reduction="none").shape == (8, 8)


def test_focal_edge_cases():
    empty = torch.zeros(0)
    assert sigmoid_focal_loss(empty, empty, reduction="sum").item() == 0.0
    assert sigmoid_focal_loss(empty, empty, reduction="none").shape == (0,)
    # alpha = 1 ignores negatives, alpha = 0 positives
    logits, targets = _binary()
    only_pos = sigmoid_focal_loss(logits, targets, alpha=1.0, reduction="none")
    assert (only_pos[targets == 0] == 0).all() and (only_pos[targets == 1] > 0).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reduction": "avg"}, "Expected reduction in"),
        ({"gamma": -1.0}, "Expected gamma >= 0"),
        ({"gamma": float("nan")}, "Expected gamma >= 0"),
        ({"alpha": 1.5}, "Expected alpha in"),
    ],
)
def test_focal_refuses_bad_options(kwargs, message):
    logits, targets = _binary(8)
    with pytest.raises(ValueError, match=message):
        sigmoid_focal_loss(logits, targets, **kwargs)


def test_focal_refuses_bad_targets_and_shapes():
    logits, targets = _binary(8)
    with pytest.raises(ValueError, match=r"Expected binary targets \(0 or 1"):
        sigmoid_focal_loss(logits, targets * 0.5)
    with pytest.raises(ValueError, match="same shape"):
        sigmoid_focal_loss(logits, targets[:4])
    with pytest.raises(ValueError, match="Expected float logits"):
        sigmoid_focal_loss(logits.long(), targets)


# ------------------------------------------------------------------------------------------
# hinge_loss
# ------------------------------------------------------------------------------------------


def _hinge_loop(logits: torch.Tensor, targets: torch.Tensor, margin: float) -> torch.Tensor:
    return torch.tensor(
        [max(0.0, margin - (2 * yv - 1) * zv) for zv, yv in zip(logits.tolist(), targets.tolist(), strict=True)],
        dtype=logits.dtype,
    )


@pytest.mark.parametrize("margin", [0.5, 1.0, 2.0])
def test_hinge_matches_a_naive_loop(margin):
    logits, targets = _binary(scale=2.0)
    torch.testing.assert_close(
        hinge_loss(logits, targets, margin=margin, reduction="none"), _hinge_loop(logits, targets, margin)
    )


def test_hinge_matches_sympy_and_multi_margin_loss():
    y_pm = sp.Symbol("u", real=True)
    expr = formulas.hinge_expr(z, y_pm, 1)
    pts = sample_points(64, seed=9, high=50.0)
    for label in (0, 1):
        r = check_against_torch(
            expr.subs(y_pm, 2 * label - 1),
            lambda a, b: hinge_loss(a, b, reduction="none"),
            {z: pts, y: float(label)},
            wrt=z,
        )
        assert r.passed, str(r)
    # torch's multi-class hinge with two classes and scores (0, z) for the positive class is
    # max(0, 1 - z) for a positive, max(0, 1 + z) for a negative: the binary hinge
    logits, targets = _binary(32, scale=2.0)
    two = torch.stack([torch.zeros_like(logits), logits], dim=1)
    want = F.multi_margin_loss(two, targets.long(), reduction="none") * 2  # it divides by C
    torch.testing.assert_close(hinge_loss(logits, targets, reduction="none"), want)


def test_hinge_gradient_and_the_kink():
    logits = torch.tensor([0.0, 2.0, 1.0, -1.0, 0.5], dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([1.0, 1.0, 1.0, 0.0, 0.0], dtype=torch.float64)
    hinge_loss(logits, targets, reduction="sum").backward()
    # inside the margin -y~, beyond it 0, at the kink clamp's -y~ (documented)
    torch.testing.assert_close(logits.grad, torch.tensor([-1.0, 0.0, -1.0, 1.0, 1.0], dtype=torch.float64))


def test_hinge_gradcheck_away_from_the_kink_and_reductions():
    logits, targets = _binary(16, scale=3.0, seed=5)
    margins = (2 * targets - 1) * logits
    assert (margins - 1).abs().min() > 1e-3
    logits.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: hinge_loss(a, targets, reduction="none"), (logits,))
    per = hinge_loss(logits, targets, reduction="none")
    torch.testing.assert_close(hinge_loss(logits, targets), per.mean())
    torch.testing.assert_close(hinge_loss(logits, targets, reduction="sum"), per.sum())


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reduction": "batchmean"}, "Expected reduction in"),
        ({"margin": 0.0}, "Expected margin > 0"),
        ({"margin": -1.0}, "Expected margin > 0"),
    ],
)
def test_hinge_refuses_bad_options(kwargs, message):
    logits, targets = _binary(8)
    with pytest.raises(ValueError, match=message):
        hinge_loss(logits, targets, **kwargs)


def test_every_reduction_is_accepted():
    logits, targets = _binary(8)
    for reduction in REDUCTIONS:
        hinge_loss(logits, targets, reduction=reduction)
        sigmoid_focal_loss(logits, targets, reduction=reduction)


# ------------------------------------------------------------------------------------------
# reliability and ECE
# ------------------------------------------------------------------------------------------


def test_reliability_bins_are_scikit_learns():
    rng = np.random.default_rng(0)
    probs = rng.uniform(size=3000)
    probs[:30] = np.linspace(0, 1, 11).repeat(3)[:30]  # values on the bin edges
    labels = rng.uniform(size=3000) < probs**1.5
    for n_bins in (5, 10, 15):
        ours = reliability(probs, labels, n_bins=n_bins)
        frac, mean = calibration_curve(labels, probs, n_bins=n_bins)
        full = ours.count > 0
        np.testing.assert_allclose(ours.frac_pos[full], frac, rtol=0, atol=1e-15)
        np.testing.assert_allclose(ours.mean_prob[full], mean, rtol=0, atol=1e-15)
        assert ours.count.sum() == len(probs)


def test_ece_by_hand_and_limits():
    probs = np.array([0.9, 0.9, 0.2, 0.2])
    labels = np.array([1, 1, 0, 1])
    assert expected_calibration_error(probs, labels, n_bins=2) == pytest.approx((0.1 + 0.3) / 2)
    # perfectly calibrated bins give 0; a constant forecast's ECE is |rate - forecast|
    assert expected_calibration_error([0.25] * 4, [1, 0, 0, 0], n_bins=10) == pytest.approx(0.0)
    assert expected_calibration_error([0.9] * 10, [1] * 3 + [0] * 7) == pytest.approx(0.6)
    # a tensor on any device works as well as an array
    assert expected_calibration_error(torch.tensor(probs), torch.tensor(labels), n_bins=2) == pytest.approx(0.2)


def test_metrics_refuse_bad_input():
    with pytest.raises(ValueError, match=r"probs in \[0, 1\]"):
        reliability([0.5, 1.2], [0, 1])
    with pytest.raises(ValueError, match=r"labels in \{0, 1\}"):
        reliability([0.5, 0.2], [0, 2])
    with pytest.raises(ValueError, match="same shape"):
        reliability([0.5, 0.2], [0, 1, 1])
    with pytest.raises(ValueError, match=r"shape \(N,\)"):
        reliability([], [])
    with pytest.raises(ValueError, match="n_bins >= 1"):
        reliability([0.5], [1], n_bins=0)
    with pytest.raises(ValueError, match=r"probs in \[0, 1\]"):
        reliability([float("nan")], [1])


# ------------------------------------------------------------------------------------------
# confirm and Table
# ------------------------------------------------------------------------------------------


def test_confirm_shows_a_true_identity_and_refuses_a_false_one():
    s = formulas.sigmoid_expr(z)
    shown = confirm(r"\sigma'(z)", sp.diff(s, z), s * (1 - s), r"\sigma(z)(1 - \sigma(z))")
    assert shown.rows == ((r"\sigma'(z)", r"\sigma(z)(1 - \sigma(z))"),)
    assert r"\sigma'(z) &= \sigma(z)(1 - \sigma(z))" in shown._repr_latex_()
    with pytest.raises(NotConfirmed, match="SymPy does not confirm"):
        confirm(r"\sigma'(z)", sp.diff(s, z), s)
    both = shown + confirm("a", sp.diff(z**2, z), 2 * z)
    assert len(both.rows) == 2 and both._repr_latex_().count("&=") == 2
    # cases: an identity that holds on each side of a kink only when checked there
    with pytest.raises(NotConfirmed, match="at z = -1"):
        confirm("|z|", sp.Abs(z), z, cases=[{z: 1}, {z: -1}])


def test_focal_expression_at_gamma_zero_is_the_log_loss():
    assert sp.simplify(formulas.focal_expr(p_t, 0) + sp.log(p_t)) == 0
    assert formulas.focal_expr().free_symbols == {p_t, gamma}


def test_table_markdown_and_text():
    table = Table(("a", "b"), [(1, "x"), ("2.50", "$y$")])
    md = table._repr_markdown_()
    assert md.splitlines() == ["| a | b |", "|:--|:--|", "| 1 | x |", "| 2.50 | $y$ |"]
    assert str(table).splitlines()[0].split() == ["a", "b"]
    with pytest.raises(ValueError, match="rows of 2 cells"):
        Table(("a", "b"), [(1,)])
    with pytest.raises(ValueError, match="at least one column"):
        Table((), [])
    with pytest.raises(ValueError, match=r"no '\|'"):
        Table(("a",), [("|e|",)])
