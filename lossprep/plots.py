"""Loss-and-gradient figures in one style, drawn for a wide page and for a phone.

Every figure of the book comes from here, so they share fonts, colours and sizes. Captions and
alt text are given in the chapter, in the cell's ``mystnb`` metadata (a real ``<figcaption>``
in the HTML); ``tests/test_book_sources.py`` checks that every plotting cell has both.

:func:`apply_style` sets the style and, in a Jupyter kernel, makes every matplotlib figure the
chapter displays carry one more output, :data:`FIGURE_MIME`: the figure as SVG twice, at its
own size and laid out for a phone (:func:`narrow_layout`: ``NARROW_WIDTH`` inches, the panels
of a row stacked). The book (:mod:`lossprep.book.figures`) shows the phone rendering on a
narrow screen; Jupyter ignores the extra output and shows its usual PNG.
"""

from __future__ import annotations

import io
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.gridspec import GridSpec
from matplotlib.text import Text

__all__ = [
    "STYLE",
    "COLORS",
    "FIGURE_MIME",
    "NARROW_WIDTH",
    "NARROW_ROW_HEIGHT",
    "apply_style",
    "loss_and_gradient",
    "bars",
    "svg",
    "narrow_layout",
    "smallest_font",
    "outside_canvas",
    "figure_bundle",
]

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
    # SVG for the book: text drawn as glyph outlines (the same on every machine, offline, no
    # font to install) and ids salted by a constant, so a figure is the same file every build
    "svg.fonttype": "path",
    "svg.hashsalt": "lossprep",
}

FIGURE_MIME = "application/vnd.lossprep.figure+json"
"""The output that carries a figure's two SVG renderings to the book: a JSON object with
``wide`` (the figure at its own size), ``narrow`` (laid out for a phone, or ``null`` when the
figure is narrow already) and ``min_font_pt`` (the smallest text in the figure)."""

NARROW_WIDTH = 4.8
"""Width in inches of a figure's phone rendering. On a 390 px phone the book shows a figure
342 CSS px wide, so the style's smallest text (10 pt; 1 pt = 4/3 CSS px) shows at
10 * 4/3 * 342 / (4.8 * 96) = 9.9 px; ``tests/test_browser.py`` measures it."""

NARROW_ROW_HEIGHT = 3.1
"""Tallest a row of panels may be in the phone rendering, in inches (a phone shows a 4.8 x 3.1
inch panel 342 x 221 CSS px: stacking two panels costs a phone reader little scrolling)."""


def apply_style() -> None:
    """Set the course's matplotlib style, and in a Jupyter kernel (IPython) make displayed
    figures carry their phone rendering (:func:`figure_bundle`). Each chapter calls it once in
    its setup cell; importing this module changes nothing."""
    plt.rcParams.update(STYLE)
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        # the mimebundle formatter adds FIGURE_MIME; the inline backend still adds its PNG
        shell.display_formatter.mimebundle_formatter.for_type(Figure, figure_bundle)


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


LABEL_WIDTH = 16
"""Bar labels longer than this many characters wrap onto more lines (they must fit a phone)."""


def bars(values: Mapping[str, float], *, ylabel: str, title: str = "", fmt: str = "{:,.0f}", horizontal: bool = False):
    """A bar chart of one number per label, each bar annotated with its value. Long labels
    wrap at :data:`LABEL_WIDTH` characters."""
    if not values:
        raise ValueError("Expected at least one value, got none")
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    labels = [textwrap.fill(str(label), LABEL_WIDTH) for label in values]
    heights = [float(v) for v in values.values()]
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


# --------------------------------------------------------------------------- two renderings


def svg(fig: Figure) -> str:
    """The figure as SVG text, at its own size (no timestamp: the same figure gives the same
    bytes)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def _grid_axes(fig: Figure) -> list:
    """The figure's axes that sit in a grid of subplots (not insets or colorbars), in reading
    order: row by row, left to right."""
    grid = [ax for ax in fig.axes if ax.get_subplotspec() is not None]
    return sorted(grid, key=lambda ax: (ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start))


@contextmanager
def narrow_layout(fig: Figure, width: float = NARROW_WIDTH) -> Iterator[Figure]:
    """Lay ``fig`` out for a phone inside the block, then put it back as it was.

    The figure becomes ``width`` inches wide. When its subplots sit side by side (one grid with
    more than one column) they are stacked into one column in reading order, and tick labels
    hidden only because an axis is shared are shown again. Each row keeps its height, at most
    :data:`NARROW_ROW_HEIGHT`. A figure whose axes are not one grid keeps its height.
    """
    size = fig.get_size_inches().copy()
    grid = _grid_axes(fig)
    specs = [ax.get_subplotspec() for ax in grid]
    gridspecs = {spec.get_gridspec() for spec in specs}
    nrows, ncols = next(iter(gridspecs)).get_geometry() if len(gridspecs) == 1 else (0, 0)
    undo: list[Callable[[], None]] = []
    try:
        height = size[1]
        if ncols > 1:
            stacked = GridSpec(len(grid), 1, figure=fig)
            for i, ax in enumerate(grid):
                ax.set_subplotspec(stacked[i, 0])
                for axis, key, shared in (
                    (ax.xaxis, "labelbottom", ax.get_shared_x_axes()),
                    (ax.yaxis, "labelleft", ax.get_shared_y_axes()),
                ):
                    if len(shared.get_siblings(ax)) > 1 and not axis.get_tick_params().get(key, True):
                        axis.set_tick_params(which="both", **{key: True})
                        undo.append(lambda axis=axis, key=key: axis.set_tick_params(which="both", **{key: False}))
        if nrows:
            height = min(size[1] / nrows, NARROW_ROW_HEIGHT) * (len(grid) if ncols > 1 else nrows)
        fig.set_size_inches(width, height)
        yield fig
    finally:
        for ax, spec in zip(grid, specs, strict=True):
            ax.set_subplotspec(spec)
        for step in undo:
            step()
        fig.set_size_inches(size)


def smallest_font(fig: Figure) -> float:
    """The size in points of the smallest visible text in the figure (tick labels, legend,
    annotations); 0 when it has none."""
    sizes = [
        t.get_fontsize()
        for t in fig.findobj(lambda a: isinstance(a, Text))
        if t.get_visible() and t.get_text().strip() and (t.axes is None or t.axes.get_visible())
    ]
    return float(min(sizes, default=0.0))


def outside_canvas(fig: Figure, tolerance: float = 1.0, *, drawn: bool = False) -> list[str]:
    """Which sides of the figure reach more than ``tolerance`` pixels past its canvas, where the
    image would cut them off: a subset of ``["left", "bottom", "right", "top"]``. The figure is
    laid out first unless ``drawn`` says it was just drawn at its present size."""
    if not drawn:
        fig.draw_without_rendering()
    box = fig.get_tightbbox().transformed(fig.dpi_scale_trans)
    width, height = fig.bbox.width, fig.bbox.height
    past = [-box.x0, -box.y0, box.x1 - width, box.y1 - height]
    return [side for side, d in zip(("left", "bottom", "right", "top"), past, strict=True) if d > tolerance]


def figure_bundle(fig: Figure) -> dict[str, dict]:
    """The figure's :data:`FIGURE_MIME` output: its SVG at its own size, its SVG laid out by
    :func:`narrow_layout` (``None`` when the figure is no wider than ``NARROW_WIDTH``), and the
    size of its smallest text. Warns (the book build fails on it) when text or a panel of
    either rendering would be cut off at the canvas edge."""
    renderings: dict[str, str | None] = {"wide": svg(fig), "narrow": None}
    problems = {"wide": outside_canvas(fig, drawn=True)}
    if fig.get_figwidth() > NARROW_WIDTH * 1.05:
        with narrow_layout(fig):
            renderings["narrow"] = svg(fig)
            problems["narrow"] = outside_canvas(fig, drawn=True)
    cut = [f"the {name} rendering at its {' and '.join(sides)} edge" for name, sides in problems.items() if sides]
    if cut:
        warnings.warn(f"a figure is cut off: {'; '.join(cut)}", stacklevel=2)
    return {FIGURE_MIME: {**renderings, "min_font_pt": smallest_font(fig)}}
