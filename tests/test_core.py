"""lossprep.train, lossprep.plots, lossprep.data and lossprep.losses basics."""

from __future__ import annotations

import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from lossprep import data, plots, train


def test_fit_recovers_a_line_and_returns_history():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(256, 1, generator=g)
    y = 3.0 * X[:, 0] - 1.0
    model = torch.nn.Linear(1, 1)
    hist = train.fit(model, lambda out, t: ((out[:, 0] - t) ** 2).mean(), X, y, epochs=300, lr=0.1, device="cpu")
    assert len(hist) == 300 and hist.final < 1e-4 < hist.loss[0]
    assert hist.device == "cpu"
    torch.testing.assert_close(model.weight.detach(), torch.tensor([[3.0]]), atol=1e-2, rtol=0)
    pred = train.predict(model, X)
    assert pred.device.type == "cpu" and pred.shape == (256, 1)


def test_fit_minibatches_are_seeded():
    X = torch.randn(100, 3)
    y = X.sum(1)
    runs = []
    for _ in range(2):
        torch.manual_seed(1)
        m = torch.nn.Linear(3, 1)
        h = train.fit(m, lambda o, t: ((o[:, 0] - t) ** 2).mean(), X, y, epochs=3, batch_size=16, seed=5, device="cpu")
        runs.append(h.loss)
    assert runs[0] == runs[1]


@pytest.mark.parametrize(
    "kwargs, match",
    [({"optimizer": "lbfgs2"}, "optimizer"), ({"epochs": 0}, "epochs"), ({"batch_size": 0}, "batch_size")],
)
def test_fit_refuses_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        train.fit(torch.nn.Linear(1, 1), torch.nn.functional.mse_loss, torch.zeros(4, 1), torch.zeros(4, 1), **kwargs)
    with pytest.raises(ValueError, match="same number of rows"):
        train.fit(torch.nn.Linear(1, 1), torch.nn.functional.mse_loss, torch.zeros(4, 1), torch.zeros(3, 1))


def test_house_prices_match_their_description():
    d = data.house_prices()
    assert len(d) == 10_050 and d.X.shape == (10_050, 4) and int(d.luxury.sum()) == 50
    regular, luxury = d.price[~d.luxury], d.price[d.luxury]
    assert regular.min() >= 100_000 and regular.max() <= 500_000
    assert luxury.min() >= 2e6 and luxury.max() <= 1e7
    again = data.house_prices()
    assert torch.equal(d.price, again.price) and torch.equal(d.X, again.X)
    assert not torch.equal(d.price, data.house_prices(seed=1).price)
    with pytest.raises(ValueError):
        data.house_prices(n_regular=0)


def test_plots_import_changes_no_style_until_asked():
    code = (
        "import matplotlib; before = dict(matplotlib.rcParams); from lossprep import plots; "
        "assert dict(matplotlib.rcParams) == before, 'importing lossprep.plots changed rcParams'; "
        "plots.apply_style(); assert matplotlib.rcParams['font.size'] == plots.STYLE['font.size']"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_plots_loss_and_gradient():
    x = np.linspace(-2, 2, 50)
    fig = plots.loss_and_gradient(x, {"MSE": x**2, "MAE": np.abs}, {"MSE": 2 * x, "MAE": np.sign}, xlabel="e")
    ax_l, ax_g = fig.axes
    assert [l.get_label() for l in ax_l.get_lines()] == ["MSE", "MAE"]
    np.testing.assert_allclose(ax_g.get_lines()[0].get_ydata(), 2 * x)
    assert ax_l.get_lines()[0].get_color() == ax_g.get_lines()[0].get_color()
    with pytest.raises(ValueError, match="gradient labels"):
        plots.loss_and_gradient(x, {"MSE": x**2}, {"Huber": x}, xlabel="e")
    fig2 = plots.bars({"a": 1.0, "b": 2.5}, ylabel="dollars")
    assert [t.get_text() for t in fig2.axes[0].texts] == ["1", "2"]
    plt.close("all")
