"""Figures drawn for two widths: a myst-nb renderer and a Sphinx node for the book.

A chapter's figures come out of the kernel with a :data:`lossprep.plots.FIGURE_MIME` output
(:func:`lossprep.plots.apply_style` arranges it): the figure as SVG at its own size and laid
out for a phone. In the HTML book that output becomes::

    <picture class="lossprep-figure" data-min-font-pt="10">
      <source media="(max-width: 640px)" srcset="_images/<narrow>.svg">
      <img src="_images/<wide>.svg" alt="..." loading="lazy">
    </picture>

so a phone downloads and shows the stacked rendering and a wider screen the other, each
legible; the figure's caption and alt text (the cell's ``mystnb`` metadata) apply as for any
image. The ``<img>`` and ``<source>`` URLs come from Sphinx's own image handling (both SVGs are
ordinary image nodes in the doctree, copied to ``_images/``). Only the HTML builders prefer the
figure output; the others (LaTeX, text) take the PNG the kernel displays beside it.

Two halves, both needed:

- :class:`FigureRenderer`, a myst-nb MIME renderer plugin, registered by the package's entry
  point ``myst_nb.mime_renderers`` (``pyproject.toml``): it turns the output into the nodes;
- this module as a Sphinx extension (``_config.yml``, ``sphinx.extra_extensions``): the
  ``<picture>`` HTML for the node.

Why 640 px: on wider screens the book's theme gives a figure at least 593 CSS px (measured at
641 and 1200 px), where a 9-inch figure's 10 pt text shows at 9.2 px or more; on a 615 px screen
it would fall under 9 px. The phone rendering (4.8 inches) shows it at 9.9 px on a 390 px phone
and 9.0 px on a 360 px one (7.9 px on a 320 px one, the smallest phones).
"""

from __future__ import annotations

import dataclasses
import html
import posixpath
import urllib.parse
from typing import Any, ClassVar

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.writers.html5 import HTML5Translator

__all__ = ["FIGURE_MIME", "NARROW_MEDIA", "FigureRenderer", "picture", "setup"]

FIGURE_MIME = "application/vnd.lossprep.figure+json"
"""The same string as :data:`lossprep.plots.FIGURE_MIME` (kept here so that the Sphinx process
does not import matplotlib; ``tests/test_figures.py`` checks that they agree)."""

NARROW_MEDIA = "(max-width: 640px)"
"""The media query under which the phone rendering is shown."""

HTML_BUILDERS = ("html", "dirhtml", "singlehtml")


class picture(nodes.General, nodes.Element):  # lower case, as docutils names its nodes
    """A figure drawn twice: children ``image`` (wide) and, optionally, ``image`` (narrow).
    Attribute ``min_font_pt``: the smallest text in the figure, in points."""


class FigureRenderer:
    """myst-nb MIME renderer plugin (``myst_nb.core.render.MimeRenderPlugin``) for
    :data:`FIGURE_MIME`, preferred over the PNG by the HTML builders."""

    mime_priority_overrides: ClassVar[list[tuple[str, str, int]]] = [(b, FIGURE_MIME, 5) for b in HTML_BUILDERS]

    @staticmethod
    def handle_mime(renderer: Any, data: Any, inline: bool) -> list[nodes.Element] | None:
        if data.mime_type != FIGURE_MIME:
            return None
        content = data.content
        if not (isinstance(content, dict) and isinstance(content.get("wide"), str)):
            raise ValueError(f"{FIGURE_MIME} output without a 'wide' SVG (cell {data.cell_index})")

        def image(svg_text: str) -> nodes.image:
            as_svg = dataclasses.replace(data, mime_type="image/svg+xml", content=svg_text)
            render = renderer.render_image_inline if inline else renderer.render_image
            (node,) = render(as_svg)
            node["loading"] = "lazy"
            return node

        wide = image(content["wide"])
        if inline:
            return [wide]
        node = picture("", wide, classes=["lossprep-figure"], min_font_pt=float(content.get("min_font_pt", 0)))
        if content.get("narrow"):
            node += image(content["narrow"])
        return [node]


def visit_picture_html(self: HTML5Translator, node: picture) -> None:
    wide, *narrow = node.children
    attributes = f' class="{" ".join(node["classes"])}" data-min-font-pt="{node["min_font_pt"]:g}"'
    self.body.append(f"<picture{attributes}>")
    for image in narrow:
        uri = image["uri"]
        if uri in self.builder.images:  # the URL Sphinx's visit_image gives an image
            uri = posixpath.join(self.builder.imgpath, urllib.parse.quote(self.builder.images[uri]))
        self.body.append(f'<source media="{NARROW_MEDIA}" srcset="{html.escape(uri)}" type="image/svg+xml">')
    self.visit_image(wide)
    self.depart_image(wide)
    self.body.append("</picture>\n")
    raise nodes.SkipNode


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_node(picture, html=(visit_picture_html, None))
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
