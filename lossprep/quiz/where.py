"""Where to re-read a card: the chapter's title, the section's title, and the built page.

A card's ``section`` is ``page#heading-slug`` (``regression#huber-loss``). :func:`locate`
turns it into what a reader can open: the chapter title and section heading read from
``book/<page>.md``, and, when the book has been built (``_build/html`` exists), the built
page's ``file://`` address with the anchor. Slugs follow MyST's ``myst_heading_anchors``
(levels 1 to 3) as the HTML has them after docutils (:func:`heading_slug`); headings inside
code fences are skipped. Only the standard library is used, so the quiz stays light.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from lossprep.book.toc import ROOT
from lossprep.quiz.render import to_terminal

__all__ = ["Location", "heading_slug", "headings", "locate"]

_FENCE = re.compile(r"^(`{3,}|~{3,})")
# docutils' own transliterations before it drops what is not ASCII (docutils.nodes.make_id)
_DOCUTILS_ID = str.maketrans(
    {"ß": "sz", "æ": "ae", "œ": "oe", "ȸ": "db", "ȹ": "qp"}
    | dict(zip("øđħıłŧƀƃƈƌƒƙƚƞƥƫƭƴƶǥȥȴȵȶȷȼȿɀɇɉɋɍɏ", "odhiltbbcdfklnpttyzgzlntjcszejqry", strict=True))
)
_HEADING = re.compile(r"^(#{1,3})\s+(.*?)\s*#*\s*$")


def heading_slug(title: str) -> str:
    """The HTML anchor of a heading: MyST's slug (code spans and ``$`` keep their text), then
    docutils' id rules (ASCII letters, digits and single hyphens, starting with a letter)."""
    text = re.sub(r"`([^`]*)`", r"\1", title)
    text = re.sub(r"\$([^$]*)\$", r"\1", text)
    slug = re.sub(r"[^\w\u4e00-\u9fff\- ]", "", text.lower().replace(" ", "-"))
    slug = unicodedata.normalize("NFKD", slug.translate(_DOCUTILS_ID)).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", " ".join(slug.split()))
    return re.sub(r"^[^a-z]+|[^a-z0-9]+$", "", slug)


@functools.cache
def headings(source: Path) -> tuple[tuple[int, str, str], ...]:
    """``(level, title, slug)`` of every heading of levels 1 to 3 outside code fences."""
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError:
        return ()
    found: list[tuple[int, str, str]] = []
    fence: str | None = None
    for line in lines:
        m = _FENCE.match(line.strip())
        if m:
            if fence is None:
                fence = m.group(1)
            elif line.strip().startswith(fence) and line.strip().strip(fence[0]) == "":
                fence = None
            continue
        if fence is None and (h := _HEADING.match(line)):
            found.append((len(h.group(1)), h.group(2), heading_slug(h.group(2))))
    return tuple(found)


@dataclass(frozen=True)
class Location:
    """A card's section, as a reader finds it."""

    section: str  # page#slug, as in the card
    chapter: str | None  # the chapter's title, if its source was found
    heading: str | None  # the section's heading, if found
    page: Path | None  # the built HTML page, if the book is built
    anchor: str | None

    @property
    def title(self) -> str:
        """``Regression losses › Huber loss`` (or the raw section when the source is unknown)."""
        if self.chapter is None:
            return self.section
        return self.chapter + (f" › {self.heading}" if self.heading else "")

    @property
    def url(self) -> str | None:
        """The built page's ``file://`` address with its anchor, or None when not built."""
        if self.page is None:
            return None
        return self.page.as_uri() + (f"#{self.anchor}" if self.anchor else "")


def locate(section: str, root: Path = ROOT) -> Location:
    """Where ``page#slug`` lives in the book under ``root``."""
    page, _, anchor = section.partition("#")
    found = headings(root / "book" / f"{page}.md")
    chapter = next((to_terminal(t) for level, t, _ in found if level == 1), None)
    heading = next((to_terminal(t) for _, t, slug in found if anchor and slug == anchor), None)
    built = root / "_build" / "html" / "book" / f"{page}.html"
    return Location(section, chapter, heading, built if built.is_file() else None, anchor or None)
