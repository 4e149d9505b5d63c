"""The one reader of ``_toc.yml``: the book's pages and chapters, in reading order.

The package (notebooks, quiz plan, self-check) and the tests ask this module; nothing else parses
the table of contents. Imports only PyYAML, so the quiz stays light.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "TocError", "pages", "chapters", "chapter_sources", "is_chapter"]

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (the book's root: ``_toc.yml`` and ``_config.yml`` live here)."""


class TocError(ValueError):
    """``_toc.yml`` is missing an entry this module needs, or is not valid YAML."""


def _load(root: Path) -> dict[str, Any] | None:
    import yaml

    path = root / "_toc.yml"
    if not path.is_file():
        return None
    try:
        toc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TocError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(toc, dict) or "root" not in toc:
        raise TocError(f"{path}: expected a mapping with a 'root' entry")
    return toc


def _walk(entries: Iterable[dict[str, Any]]) -> Iterable[str]:
    for entry in entries or []:
        if "file" in entry:
            yield entry["file"]
        yield from _walk(entry.get("sections", []))


def pages(root: Path = ROOT) -> list[str]:
    """Every page of the table of contents as docnames (``book/index``, ``book/regression``), in
    reading order; empty when there is no ``_toc.yml``."""
    toc = _load(root)
    if toc is None:
        return []
    found = [toc["root"]]
    for part in toc.get("parts", []) or []:
        found.extend(_walk(part.get("chapters", [])))
    found.extend(_walk(toc.get("chapters", [])))
    found.extend(_walk(toc.get("sections", [])))
    return [p.removesuffix(".md").removesuffix(".ipynb") for p in found]


def is_chapter(path: Path) -> bool:
    """A teaching chapter is a notebook: a MyST markdown file whose front matter names a kernel.
    Plain pages (the landing page, the exercises list) are not chapters and have no quiz cards."""
    if not path.is_file():
        return False
    text = path.read_text(encoding="utf-8")
    if not text.startswith("---\n"):
        return False
    front = text[4 : text.find("\n---", 4)]
    return "kernelspec:" in front


def chapter_sources(root: Path = ROOT) -> list[Path]:
    """The MyST sources (``book/<name>.md``) of the teaching chapters, in reading order. The root
    page (the landing page) is never a chapter."""
    found = []
    for page in pages(root)[1:]:
        path = root / f"{page}.md"
        if page.startswith("book/") and "/" not in page.removeprefix("book/") and is_chapter(path):
            found.append(path)
    return found


def chapters(root: Path = ROOT) -> list[str]:
    """The teaching chapters' names (``likelihoods``, ``regression``), in reading order."""
    return [path.stem for path in chapter_sources(root)]
