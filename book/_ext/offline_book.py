"""Build fixes so that the book loads in a browser with no console error, offline.

Loaded from ``_config.yml`` (``sphinx: local_extensions``). Two things, both checked by
``tests/test_browser.py``:

- sphinx-thebe's inline configuration script (``const THEBE_JS_URL = ...``) reaches each page
  twice under Jupyter Book 1.x, and the second copy throws "Identifier 'THEBE_JS_URL' has
  already been declared". Each page keeps one copy of every script.
- pydata-sphinx-theme reads the colour mode from ``html_context["default_mode"]``; Jupyter
  Book leaves it empty and the theme logs "Got invalid theme mode". The book uses the light
  mode (its figures are drawn on white); the reader can still switch.
- pydata-sphinx-theme 0.17 renders its own top navbar (a search field and two sidebar buttons)
  unless ``navbar_persistent`` is set, and sphinx-book-theme renders the sidebar buttons again
  in the article header. Both pairs carry the classes ``primary-toggle`` and
  ``secondary-toggle``; the theme's script wires only the first of each, the navbar's, which
  is hidden, so on a phone the visible buttons only showed a tooltip
  (pydata-sphinx-theme#2451, sphinx-book-theme#988). With ``navbar_persistent`` empty the
  navbar is not rendered at all: one button of each kind, the visible one, and it works. The
  navbar's search field duplicated the sidebar's; the article header keeps a search button.
- Sphinx's search page fetches each result's page for an excerpt: from a file (file://) the
  browser refuses and the console shows "Failed to fetch", and over HTTP the excerpts show the
  formulas' raw TeX. ``_static/lossprep-search.js`` lists titles only, with a note, from a file
  and turns TeX into plain text in excerpts.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config


def _theme_config(app: Sphinx, config: Config) -> None:
    config.html_context.setdefault("default_mode", "light")
    # before pydata-sphinx-theme's builder-inited hook, which defaults it to a search field
    config.html_theme_options.setdefault("navbar_persistent", [])


def _unique_scripts(app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any) -> None:
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[Any] = set()
    unique = []
    for script in scripts:
        # the same inline script may come twice (filename None, then ""): keep the first
        key = (
            getattr(script, "filename", script) or "",  # None and "" both mean inline
            tuple(sorted(getattr(script, "attributes", {}).items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", _theme_config)
    # deferred: runs after searchtools.js (which the search page loads after the theme's scripts)
    app.add_js_file("lossprep-search.js", loading_method="defer")
    # late, after the themes and sphinx-thebe have added their scripts
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
