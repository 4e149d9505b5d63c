"""Build fixes so that the book loads in a browser with no console error, offline.

Loaded from ``_config.yml`` (``sphinx: local_extensions``). Two things, both checked by
``tests/test_browser.py``:

- sphinx-thebe's inline configuration script (``const THEBE_JS_URL = ...``) reaches each page
  twice under Jupyter Book 1.x, and the second copy throws "Identifier 'THEBE_JS_URL' has
  already been declared". Each page keeps one copy of every script.
- pydata-sphinx-theme reads the colour mode from ``html_context["default_mode"]``; Jupyter
  Book leaves it empty and the theme logs "Got invalid theme mode". The book uses the light
  mode (its figures are drawn on white); the reader can still switch.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config


def _default_mode(app: Sphinx, config: Config) -> None:
    config.html_context.setdefault("default_mode", "light")


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
    app.connect("config-inited", _default_mode)
    # late, after the themes and sphinx-thebe have added their scripts
    app.connect("html-page-context", _unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
