"""What a book figure costs to render: the inline backend's PNG (what the book showed before,
and what Jupyter still shows) against :func:`lossprep.plots.figure_bundle` (two SVGs, the
narrow layout and the cut-off check), side by side in one run, on the book's two figure kinds.

    .venv/bin/python benchmarks/figure_render.py [--repeat 15]

Prints the median time and the bytes of each, per figure.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np

from lossprep import plots


def two_panels():
    """Like the regression chapter's Fig. 3: three losses and their gradients, 801 points."""
    e = np.linspace(-4.0, 4.0, 801)
    huber = np.where(np.abs(e) <= 1, e**2 / 2, np.abs(e) - 0.5)
    return plots.loss_and_gradient(
        e,
        {"MSE": e**2, "MAE": np.abs(e), "Huber, δ = 1": huber},
        {"MSE": 2 * e, "MAE": np.sign(e), "Huber, δ = 1": np.clip(e, -1, 1)},
        xlabel="error $e = y - \\hat y$",
        ylim_loss=(0, 6),
        ylim_grad=(-4, 4),
    )


def bar_chart():
    """Like the regression chapter's Fig. 7: five fits' errors."""
    values = {"MSE": 29884, "MAE": 19835, "Huber (δ = 1)": 19838, "MSE on log-price": 22715, "reference": 19836}
    return plots.bars(values, ylabel="mean absolute error (dollars)", fmt="${:,.0f}", horizontal=True)


def inline_png(fig) -> bytes:
    """What matplotlib's inline backend displayed: PNG at the figure's dpi, tight box."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def timed(fn, fig, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn(fig)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    plots.apply_style()
    for name, make in (("two panels", two_panels), ("bar chart", bar_chart)):
        fig = make()
        png_s, png = timed(inline_png, fig, args.repeat)
        svg_s, bundle = timed(plots.figure_bundle, fig, args.repeat)
        out = bundle[plots.FIGURE_MIME]
        narrow = len(out["narrow"].encode()) if out["narrow"] else 0
        print(
            f"{name}: PNG {png_s * 1000:.0f} ms, {len(png) / 1024:.0f} KiB | "
            f"two SVGs {svg_s * 1000:.0f} ms, wide {len(out['wide'].encode()) / 1024:.0f} KiB, "
            f"narrow {narrow / 1024:.0f} KiB (medians of {args.repeat})"
        )
        plt.close(fig)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
