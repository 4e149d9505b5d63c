"""The glossary page, built from :data:`lossprep.symbols.GLOSSARY` when the book is built.

``book/glossary.md`` holds the directive::

    ```{symbol-glossary}
    ```

and this Sphinx extension (``_config.yml``: ``sphinx: extra_extensions``) replaces it with a
table of every symbol, its meaning and its name in ``lossprep.symbols`` (column "code"). The page is therefore
the module the chapters import their symbols from, and cannot drift from it.

Imports SymPy, never torch.
"""

from __future__ import annotations

from typing import Any

__all__ = ["glossary_markdown", "setup"]


def _python_names() -> dict[int, str]:
    from lossprep import symbols

    return {id(getattr(symbols, name)): name for name in symbols.__all__}


def glossary_markdown() -> str:
    """The glossary as a MyST Markdown table: symbol, meaning, name in ``lossprep.symbols``."""
    from lossprep.symbols import GLOSSARY

    names = _python_names()
    rows = ["| symbol | meaning | code |", "| :-- | :-- | :-- |"]
    for obj, tex, meaning in GLOSSARY:
        if "|" in tex + meaning:
            raise ValueError(f"Expected no '|' in the glossary entry for {tex} (write \\lvert, \\mid)")
        name = names.get(id(obj))
        if name is None:
            raise ValueError(f"Expected the glossary's {tex} to be a name of lossprep.symbols.__all__")
        written = f"${tex}(\\cdot)$" if isinstance(obj, type) else f"${tex}$"
        rows.append(f"| {written} | {meaning} | `{name}` |")
    return "\n".join(rows)


def setup(app: Any) -> dict[str, Any]:
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class SymbolGlossary(SphinxDirective):
        """``{symbol-glossary}``: the table of :func:`glossary_markdown`."""

        has_content = False

        def run(self) -> list[nodes.Node]:
            container = nodes.container(classes=["symbol-glossary"])
            self.state.nested_parse(StringList(glossary_markdown().splitlines(), "lossprep.symbols"), 0, container)
            return [container]

    app.add_directive("symbol-glossary", SymbolGlossary)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
