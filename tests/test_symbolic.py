"""lossprep.symbolic: derivations, the exact reference, and a check that catches wrong code."""

from __future__ import annotations

import pytest
import sympy as sp
import torch
import torch.nn.functional as F

from lossprep.symbolic import check_against_torch, derive, limits, sample_points, to_torch

e = sp.Symbol("e", real=True)
z, y = sp.symbols("z y", real=True)


def test_derive_gives_first_and_second_derivatives():
    d = derive(e**3 + sp.exp(2 * e), e)
    assert sp.simplify(d.gradient - (3 * e**2 + 2 * sp.exp(2 * e))) == 0
    assert sp.simplify(d.second - (6 * e + 4 * sp.exp(2 * e))) == 0
    assert "\\frac{\\partial L}{\\partial e}" in d._repr_latex_()


def test_derive_refuses_a_variable_the_loss_does_not_use():
    with pytest.raises(ValueError, match="Expected the loss to depend on e"):
        derive(z**2, e)


def test_limits():
    got = limits(sp.log(1 + sp.exp(-z)), z)
    assert got == {-sp.oo: sp.oo, sp.oo: 0}


def test_to_torch_differentiates_and_names_missing_symbols():
    f = to_torch(sp.log(sp.cosh(e)), e)
    t = torch.tensor([0.3, -2.0], dtype=torch.float64, requires_grad=True)
    f(t).sum().backward()
    torch.testing.assert_close(t.grad, torch.tanh(t.detach()))
    with pytest.raises(ValueError, match="missing \\['y'\\]"):
        to_torch(e + y, e)


def test_sample_points_cover_tiny_and_large_values_of_both_signs():
    pts = sample_points(64, seed=3)
    assert pts.dtype == torch.float64 and pts.shape == (64,)
    assert pts.abs().max() == 1e3 and pts.abs().min() == 1e-6
    assert (pts > 0).any() and (pts < 0).any() and (pts != 0).all()
    torch.testing.assert_close(pts, sample_points(64, seed=3))
    assert not torch.equal(pts, sample_points(64, seed=4))
    assert (sample_points(16, signed=False) > 0).all()
    with pytest.raises(ValueError):
        sample_points(4)


def test_check_passes_a_correct_stable_implementation():
    bce = -y * sp.log(1 / (1 + sp.exp(-z))) - (1 - y) * sp.log(1 - 1 / (1 + sp.exp(-z)))
    pts = sample_points(64)
    for label in (0.0, 1.0):
        r = check_against_torch(
            bce,
            lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction="none"),
            {z: pts, y: label},
            wrt=z,
        )
        assert r.passed, str(r)


def test_check_catches_a_wrong_gradient_and_an_overflow():
    pts = sample_points(64)

    class WrongGrad(torch.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t**2

        @staticmethod
        def backward(ctx, g):
            (t,) = ctx.saved_tensors
            return g * t  # should be 2 t

    r = check_against_torch(e**2, WrongGrad.apply, {e: pts}, wrt=e)
    assert r.max_value_error <= 1 and r.max_grad_error > 1 and not r.passed
    with pytest.raises(AssertionError, match="FAILED"):
        r.assert_ok()
    overflow = check_against_torch(sp.log(sp.cosh(e)), lambda t: torch.log(torch.cosh(t)), {e: pts}, wrt=e)
    assert not overflow.passed and abs(overflow.worst["e"]) == 1e3


def test_check_uses_params_and_refuses_bad_calls():
    delta = sp.Symbol("delta", positive=True)
    huber = sp.Piecewise((e**2 / 2, sp.Abs(e) <= delta), (delta * (sp.Abs(e) - delta / 2), True))
    pts = sample_points(64)
    fn = lambda t: F.huber_loss(t, torch.zeros_like(t), delta=2.0, reduction="none")  # noqa: E731
    assert check_against_torch(huber, fn, {e: pts}, wrt=e, params={delta: 2.0}).passed
    assert not check_against_torch(huber, fn, {e: pts}, wrt=e, params={delta: 1.0}).passed
    with pytest.raises(ValueError, match="missing \\['delta'\\]"):
        check_against_torch(huber, fn, {e: pts}, wrt=e)
    with pytest.raises(ValueError, match="Expected z among the inputs"):
        check_against_torch(huber, fn, {e: pts}, wrt=z, params={delta: 2.0})
    with pytest.raises(ValueError, match="loss per element"):
        check_against_torch(e**2, lambda t: (t**2).mean(), {e: pts}, wrt=e)
