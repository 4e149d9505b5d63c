"""lossprep.losses: naive references, limiting cases, float64 gradcheck, reductions, bad input."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from lossprep.losses import REDUCTIONS, log_cosh_loss, pinball_loss, reduce


def _pair(n: int = 64, *, scale: float = 3.0, seed: int = 0, dtype: torch.dtype = torch.float64):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, dtype=dtype, generator=g) * scale, torch.randn(n, dtype=dtype, generator=g) * scale)


def _naive_pinball(input: torch.Tensor, target: torch.Tensor, q: float) -> torch.Tensor:
    out = []
    for p, t in zip(input.tolist(), target.tolist(), strict=False):
        err = t - p
        out.append(q * err if err >= 0 else (q - 1) * err)
    return torch.tensor(out, dtype=input.dtype)


# ------------------------------------------------------------------------------------------
# log_cosh_loss
# ------------------------------------------------------------------------------------------


def test_log_cosh_matches_naive_formula_where_it_does_not_overflow():
    a, b = _pair(scale=10.0)
    torch.testing.assert_close(log_cosh_loss(a, b, reduction="none"), torch.log(torch.cosh(a - b)))
    x = torch.tensor([0.0, 1e-8, 0.5, -3.0, 40.0], dtype=torch.float64)
    want = torch.tensor([math.log(math.cosh(v)) for v in x.tolist()], dtype=torch.float64)
    torch.testing.assert_close(log_cosh_loss(x, torch.zeros_like(x), reduction="none"), want, rtol=1e-12, atol=1e-15)


def test_log_cosh_stays_finite_where_the_naive_formula_overflows():
    for dtype, big in ((torch.float64, 1000.0), (torch.float32, 100.0)):
        x = torch.tensor([-big, big], dtype=dtype, requires_grad=True)
        assert torch.isinf(torch.log(torch.cosh(x.detach()))).all()
        out = log_cosh_loss(x, torch.zeros_like(x), reduction="none")
        torch.testing.assert_close(out.detach(), torch.full_like(out, big - math.log(2.0)))
        out.sum().backward()
        torch.testing.assert_close(x.grad, torch.tensor([-1.0, 1.0], dtype=dtype))


def test_log_cosh_limiting_cases():
    # near 0 it is e^2 / 2, far out |e| - log 2
    small = torch.tensor([1e-3, -2e-3], dtype=torch.float64)
    torch.testing.assert_close(
        log_cosh_loss(small, torch.zeros_like(small), reduction="none"), small**2 / 2, rtol=1e-5, atol=0
    )
    assert log_cosh_loss(torch.zeros(3), torch.zeros(3)).item() == 0.0


def test_log_cosh_gradcheck_float64():
    a, b = _pair(16)
    a.requires_grad_(True)
    b.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, t: log_cosh_loss(x, t, reduction="none"), (a, b))
    assert torch.autograd.gradgradcheck(lambda x, t: log_cosh_loss(x, t, reduction="sum"), (a, b))


# ------------------------------------------------------------------------------------------
# pinball_loss
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("q", [0.05, 0.3, 0.5, 0.9])
def test_pinball_matches_naive_loop(q):
    a, b = _pair()
    torch.testing.assert_close(pinball_loss(a, b, q=q, reduction="none"), _naive_pinball(a, b, q))


def test_pinball_at_one_half_is_half_the_absolute_error():
    a, b = _pair()
    torch.testing.assert_close(pinball_loss(a, b, q=0.5, reduction="none"), 0.5 * F.l1_loss(a, b, reduction="none"))
    torch.testing.assert_close(pinball_loss(a, b, q=0.5), 0.5 * F.l1_loss(a, b))


def test_pinball_direction_under_prediction_costs_q():
    # target above the prediction (under-prediction) costs q * e, over-prediction (1 - q) * |e|
    under = pinball_loss(torch.tensor([0.0]), torch.tensor([2.0]), q=0.9)
    over = pinball_loss(torch.tensor([2.0]), torch.tensor([0.0]), q=0.9)
    assert under.item() == pytest.approx(1.8) and over.item() == pytest.approx(0.2)


def test_pinball_minimiser_is_the_quantile():
    g = torch.Generator().manual_seed(1)
    sample = torch.exp(torch.randn(999, dtype=torch.float64, generator=g))
    grid = torch.linspace(0.0, 8.0, 16_001, dtype=torch.float64)
    for q in (0.1, 0.5, 0.9):
        curve = pinball_loss(
            grid[:, None].expand(-1, sample.numel()), sample[None, :].expand(grid.numel(), -1), q=q, reduction="none"
        ).mean(1)
        best = grid[curve.argmin()].item()
        # the exact minimiser of the mean pinball loss is the order statistic ceil(n q)
        order_stat = sample.sort().values[math.ceil(sample.numel() * q) - 1].item()
        assert best == pytest.approx(order_stat, abs=2 * (grid[1] - grid[0]).item())


def test_pinball_gradcheck_float64():
    a, b = _pair(16)
    assert (a - b).abs().min() > 1e-3  # away from the kink
    a.requires_grad_(True)
    b.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x, t: pinball_loss(x, t, q=0.8, reduction="none"), (a, b))


@pytest.mark.parametrize("q", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_pinball_refuses_q_outside_unit_interval(q):
    a, b = _pair(4)
    with pytest.raises(ValueError, match="Expected 0 < q < 1"):
        pinball_loss(a, b, q=q)


# ------------------------------------------------------------------------------------------
# Both losses: reductions, shapes, devices
# ------------------------------------------------------------------------------------------

LOSSES = {
    "log_cosh": lambda a, b, **kw: log_cosh_loss(a, b, **kw),
    "pinball": lambda a, b, **kw: pinball_loss(a, b, q=0.7, **kw),
}


@pytest.mark.parametrize("name", LOSSES)
def test_reductions(name):
    fn = LOSSES[name]
    a, b = _pair(24)
    a, b = a.reshape(2, 3, 4), b.reshape(2, 3, 4)
    none = fn(a, b, reduction="none")
    assert none.shape == (2, 3, 4) and bool((none >= 0).all())
    torch.testing.assert_close(fn(a, b, reduction="sum"), none.sum())
    torch.testing.assert_close(fn(a, b, reduction="mean"), none.mean())
    torch.testing.assert_close(fn(a, b), none.mean())  # mean is the default
    assert fn(a, b).ndim == 0


@pytest.mark.parametrize("name", LOSSES)
def test_unknown_reduction_refused(name):
    a, b = _pair(4)
    with pytest.raises(ValueError, match="Expected reduction in"):
        LOSSES[name](a, b, reduction="avg")


@pytest.mark.parametrize("name", LOSSES)
def test_shape_mismatch_refused(name):
    with pytest.raises(ValueError, match=r"Expected input and target of the same shape, got \(3,\) and \(3, 1\)"):
        LOSSES[name](torch.zeros(3), torch.zeros(3, 1))


@pytest.mark.parametrize("name", LOSSES)
def test_follows_dtype_and_device(name):
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for dev in devices:
        for dtype in (torch.float32, torch.float64):
            a, b = _pair(8, dtype=dtype)
            out = LOSSES[name](a.to(dev), b.to(dev), reduction="none")
            assert out.dtype == dtype and out.device.type == dev
            torch.testing.assert_close(out.cpu(), LOSSES[name](a, b, reduction="none"))


def test_reduce_directly():
    x = torch.tensor([1.0, 2.0, 6.0])
    assert reduce(x, "sum").item() == 9.0 and reduce(x, "mean").item() == 3.0 and reduce(x, "none") is x
    assert REDUCTIONS == ("none", "mean", "sum")
    with pytest.raises(ValueError, match="Expected reduction in"):
        reduce(x, "max")
