"""Figures drawn for two widths (lossprep.plots + lossprep.book.figures), in a tiny book whose
notebook a real kernel executes: the whole path from ``plt.show()`` to ``<picture>``."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from lossprep import plots
from lossprep.book import figures

SETUP = """\
import matplotlib.pyplot as plt
import numpy as np

from lossprep import plots

plots.apply_style()
"""

TWO_PANELS = """\
x = np.linspace(-2, 2, 101)
plots.loss_and_gradient(x, {"MSE": x**2}, {"MSE": 2 * x}, xlabel="e")
plt.show()
"""

ONE_SMALL_PANEL = """\
fig, ax = plt.subplots(figsize=(4.0, 3.0))
ax.plot([0, 1], [1, 0])
plt.show()
"""


def notebook() -> nbformat.NotebookNode:
    """A chapter in miniature: the setup cell, a two-panel figure with a caption and alt text,
    and a figure already narrower than a phone's rendering."""
    cell = nbformat.v4.new_code_cell
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Figures"),
        cell(SETUP),
        cell(
            TWO_PANELS,
            metadata={
                "mystnb": {
                    "figure": {"caption": "A loss and its gradient.", "name": "fig-two-panels"},
                    "image": {"alt": "Two panels side by side."},
                }
            },
        ),
        cell(ONE_SMALL_PANEL, metadata={"mystnb": {"image": {"alt": "One small panel."}}}),
    ]
    return nb


def test_the_mime_type_is_the_same_on_both_sides() -> None:
    assert figures.FIGURE_MIME == plots.FIGURE_MIME


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("figures")
    src = tmp / "src"
    src.mkdir()
    (src / "conf.py").write_text(
        "project = 'figures test'\n"
        "extensions = ['myst_nb', 'lossprep.book.figures']\n"
        "nb_execution_mode = 'force'\n"
        "nb_execution_raise_on_error = True\n"
        "nb_output_stderr = 'warn'\n"  # a warning from figure_bundle (a cut-off figure) fails -W
    )
    nbformat.write(notebook(), src / "index.ipynb")
    # the kernel must draw with matplotlib's inline backend (conftest sets Agg for the tests)
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(src), str(tmp / "html")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp / "html"


@pytest.mark.slow
def test_a_figure_becomes_a_picture_with_a_phone_rendering(built: Path) -> None:
    page = (built / "index.html").read_text()
    pictures = re.findall(r"<picture (.*?)</picture>", page, re.S)
    assert len(pictures) == 2, page
    two, one = pictures
    assert 'class="lossprep-figure"' in two and 'data-min-font-pt="10"' in two
    narrow = re.search(r'<source media="\(max-width: 640px\)" srcset="(_images/\w+\.svg)" type="image/svg\+xml">', two)
    wide = re.search(r'<img alt="Two panels side by side\." [^>]*src="(_images/\w+\.svg)"', two)
    assert narrow and wide, two
    assert 'loading="lazy"' in two
    narrow_svg, wide_svg = ((built / m.group(1)).read_text() for m in (narrow, wide))
    assert f'width="{plots.NARROW_WIDTH * 72:g}pt"' in narrow_svg
    assert 'width="648pt"' in wide_svg
    # the caption and the figure's label apply to the picture, as to any figure
    figure = re.search(r'<figure [^>]*id="fig-two-panels">(.*?)</figure>', page, re.S)
    assert figure and "<picture" in figure.group(1) and "A loss and its gradient." in figure.group(1)
    # a figure no wider than a phone's rendering is drawn once
    assert "<source" not in one and 'alt="One small panel."' in one
    # the HTML takes the SVGs, not the PNG the kernel displays for Jupyter
    assert not list((built / "_images").glob("*.png"))
