"""lossprep.train, lossprep.plots, lossprep.data and lossprep.losses basics."""

from __future__ import annotations

import subprocess
import sys

import matplotlib
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
    fig3 = plots.bars({"reference (no luxury houses)": 1.0, "MSE": 2.0}, ylabel="dollars", horizontal=True)
    assert [t.get_text() for t in fig3.axes[0].get_yticklabels()] == ["reference (no\nluxury houses)", "MSE"]
    plt.close("all")


# --------------------------------------------------------------------------- figures for two widths


@pytest.fixture
def styled():
    with matplotlib.rc_context(plots.STYLE):
        yield
    plt.close("all")


def two_panels():
    x = np.linspace(-2, 2, 101)
    return plots.loss_and_gradient(x, {"MSE": x**2, "MAE": np.abs}, {"MSE": 2 * x, "MAE": np.sign}, xlabel="e")


def test_narrow_layout_stacks_side_by_side_panels_then_restores_them(styled) -> None:
    fig = two_panels()
    fig.draw_without_rendering()
    before = [ax.get_position().bounds for ax in fig.axes]
    with plots.narrow_layout(fig):
        fig.draw_without_rendering()
        np.testing.assert_allclose(fig.get_size_inches(), [plots.NARROW_WIDTH, 2 * plots.NARROW_ROW_HEIGHT])
        top, bottom = (ax.get_position() for ax in fig.axes)
        assert top.y0 > bottom.y1, "the loss panel is not above the gradient panel"
        assert abs(top.x0 - bottom.x0) < 0.05 and top.width > 0.7, "the panels do not share the column"
    fig.draw_without_rendering()
    np.testing.assert_allclose(fig.get_size_inches(), [9.0, 3.6])
    np.testing.assert_allclose([ax.get_position().bounds for ax in fig.axes], before, atol=1e-9)


def test_narrow_layout_shows_tick_labels_a_shared_axis_hid(styled) -> None:
    fig, (_, right) = plt.subplots(1, 2, sharey=True)
    assert right.yaxis.get_tick_params()["labelleft"] is False
    with plots.narrow_layout(fig):
        assert right.yaxis.get_tick_params()["labelleft"] is True
    assert right.yaxis.get_tick_params()["labelleft"] is False


def test_narrow_layout_keeps_rows_of_one_column(styled) -> None:
    fig, axes = plt.subplots(3, 1, figsize=(8.0, 7.5))
    with plots.narrow_layout(fig):
        fig.draw_without_rendering()
        np.testing.assert_allclose(fig.get_size_inches(), [plots.NARROW_WIDTH, 7.5])
        assert [ax.get_subplotspec().rowspan.start for ax in axes] == [0, 1, 2]


def test_figure_bundle_holds_both_renderings_as_svg(styled) -> None:
    fig = two_panels()
    bundle = plots.figure_bundle(fig)[plots.FIGURE_MIME]
    assert 'width="648pt" height="259.2pt"' in bundle["wide"]
    assert f'width="{plots.NARROW_WIDTH * 72:g}pt" height="{2 * plots.NARROW_ROW_HEIGHT * 72:g}pt"' in bundle["narrow"]
    # text drawn as glyph outlines: it looks the same on every machine and needs no font
    assert "<text" not in bundle["wide"] and "<path" in bundle["wide"]
    assert bundle["min_font_pt"] == plots.STYLE["legend.fontsize"]
    assert plots.figure_bundle(fig)[plots.FIGURE_MIME] == bundle, "the same figure gave different bytes"
    np.testing.assert_allclose(fig.get_size_inches(), [9.0, 3.6])


def test_figure_bundle_of_a_narrow_figure_has_one_rendering(styled) -> None:
    fig, ax = plt.subplots(figsize=(4.0, 3.0))
    ax.plot([0, 1], [1, 0])
    ax.set_title("tiny", fontsize=6)
    bundle = plots.figure_bundle(fig)[plots.FIGURE_MIME]
    assert bundle["narrow"] is None and bundle["wide"].startswith("<?xml")
    assert plots.smallest_font(fig) == bundle["min_font_pt"] == 6


def test_figure_bundle_warns_when_content_is_cut_off(styled) -> None:
    fig = two_panels()
    assert plots.outside_canvas(fig) == []
    fig.text(1.02, 0.5, "a note past the right edge")
    assert plots.outside_canvas(fig) == ["right"]
    with pytest.warns(UserWarning, match="cut off: the wide rendering at its right edge; the narrow rendering at its"):
        plots.figure_bundle(fig)


def test_apply_style_gives_displayed_figures_their_two_renderings_in_ipython() -> None:
    code = (
        "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "from IPython.core.pylabtools import select_figure_formats\n"
        "from lossprep import plots\n"
        "shell = InteractiveShell.instance()\n"
        "select_figure_formats(shell, {'png'})  # as the inline backend does\n"
        "fig, ax = plt.subplots(); ax.plot([0, 1])\n"
        "assert plots.FIGURE_MIME not in shell.display_formatter.format(fig)[0], 'before apply_style'\n"
        "plots.apply_style()\n"
        "data, _ = shell.display_formatter.format(fig)\n"
        "assert data[plots.FIGURE_MIME]['wide'].startswith('<?xml'), sorted(data)\n"
        "assert data[plots.FIGURE_MIME]['narrow'] is not None and 'text/plain' in data\n"
        "assert data['image/png'], 'Jupyter lost its PNG'\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
