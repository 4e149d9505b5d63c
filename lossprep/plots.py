"""Loss-and-gradient figures in one style.

Every figure of the book comes from here, so they share fonts, colours and sizes. Captions and
alt text are given in the chapter, in the cell's ``mystnb`` metadata (a real ``<figcaption>``
in the HTML); ``tests/test_book_sources.py`` checks that every plotting cell has both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

__all__ = ["STYLE", "COLORS", "apply_style", "loss_and_gradient", "bars"]

COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"]
"""Okabe-Ito colours: distinguishable with colour-vision deficiency."""

STYLE = {
    "figure.dpi": 110,
    "savefig.dpi": 110,
    "figure.figsize": (9.0, 3.6),
    "figure.constrained_layout.use": True,
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "legend.fontsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "lines.linewidth": 2.0,
    "axes.prop_cycle": matplotlib.cycler(color=COLORS),
}


def apply_style() -> None:
    """Set the course's matplotlib style. Each chapter calls it once in its setup cell; importing
    this module changes nothing."""
    plt.rcParams.update(STYLE)


Curve = Callable[[np.ndarray], np.ndarray]


def _as_array(values) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=float)


def loss_and_gradient(
    x: Sequence[float] | np.ndarray,
    losses: Mapping[str, Curve | Sequence[float]],
    gradients: Mapping[str, Curve | Sequence[float]],
    *,
    xlabel: str,
    loss_title: str = "loss",
    grad_title: str = "gradient",
    ylim_loss: tuple[float, float] | None = None,
    ylim_grad: tuple[float, float] | None = None,
):
    """Two panels side by side: each loss (left) and its derivative (right) against ``x``.

    ``losses`` and ``gradients`` map a legend label to either values at ``x`` or a function of
    a NumPy array (a SymPy expression turned into a function works). Labels pair up by colour.

    Returns:
        the matplotlib ``Figure``.
    """
    if not losses:
        raise ValueError("Expected at least one loss curve, got none")
    unknown = set(gradients) - set(losses)
    if unknown:
        raise ValueError(f"Expected gradient labels among the loss labels {list(losses)}, got {sorted(unknown)}")
    x = _as_array(x)
    fig, (ax_l, ax_g) = plt.subplots(1, 2)
    for i, (label, curve) in enumerate(losses.items()):
        color = COLORS[i % len(COLORS)]
        y = _as_array(curve(x) if callable(curve) else curve) * np.ones_like(x)
        ax_l.plot(x, y, label=label, color=color)
        if label in gradients:
            g = gradients[label]
            gy = _as_array(g(x) if callable(g) else g) * np.ones_like(x)
            ax_g.plot(x, gy, label=label, color=color)
    ax_l.set(title=loss_title, xlabel=xlabel)
    ax_g.set(title=grad_title, xlabel=xlabel)
    ax_g.axhline(0, color="0.5", lw=0.8)
    if ylim_loss:
        ax_l.set_ylim(*ylim_loss)
    if ylim_grad:
        ax_g.set_ylim(*ylim_grad)
    ax_l.legend(loc="best")
    return fig


def bars(values: Mapping[str, float], *, ylabel: str, title: str = "", fmt: str = "{:,.0f}", horizontal: bool = False):
    """A bar chart of one number per label, each bar annotated with its value."""
    if not values:
        raise ValueError("Expected at least one value, got none")
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    labels, heights = list(values), [float(v) for v in values.values()]
    colors = [COLORS[i % len(COLORS)] for i in range(len(labels))]
    if horizontal:
        rects = ax.barh(labels, heights, color=colors)
        ax.set_xlabel(ylabel)
        ax.invert_yaxis()
    else:
        rects = ax.bar(labels, heights, color=colors)
        ax.set_ylabel(ylabel)
    ax.bar_label(rects, labels=[fmt.format(h) for h in heights], padding=3)
    ax.margins(x=0.15 if horizontal else 0.05, y=0.05 if horizontal else 0.15)
    if title:
        ax.set_title(title)
    ax.grid(axis="x" if not horizontal else "y", visible=False)
    return fig
