"""The card bank: one YAML file per chapter, ``book/cards/<chapter>.yml``.

A file holds its chapter's name and a list of cards::

    chapter: regression
    cards:
      - id: regression-huber-limits        # stable: the store and Anki key on it
        kind: recall                       # recall | mcq | numeric | cloze
        section: regression#huber-loss     # page#heading-slug to re-read
        tags: [formula]
        front: What does Huber become as $\\delta \\to 0$?
        back: ...

Kinds and their extra fields:

- ``recall``: ``back`` (the answer); the reader rates Again / Hard / Good / Easy.
- ``mcq``: ``choices`` (2 to 6 strings), ``answer`` (index of the right one), optional
  ``back`` (why); graded automatically.
- ``numeric``: ``generator`` (a name in :data:`lossprep.quiz.numeric.GENERATORS`) and a
  ``front`` with ``{param}`` fields; optional ``tolerance`` (relative, default 0.01) and
  ``back``; graded automatically with fresh parameters each time.
- ``cloze``: ``front`` holding one or more ``{{c1::hidden part}}`` markers (Anki's syntax,
  optionally ``{{c1::hidden part::hint}}``), optional ``back``; the reader recalls the hidden
  part and rates. A marker ends at the first ``}}`` outside TeX braces, so a hidden formula
  such as ``{{c1::$\\frac{e^{z_k}}{\\sum_j e^{z_j}}$}}`` is read whole.

:func:`load_bank` validates every file and raises :class:`CardError` naming the file and the
card at fault.
"""

from __future__ import annotations

import os
import random
import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypedDict

__all__ = [
    "KINDS",
    "Card",
    "CardDict",
    "CardError",
    "Bank",
    "default_cards_dir",
    "load_file",
    "load_bank",
    "card_from_dict",
    "cloze_blanks",
    "cloze_answers",
    "cloze_spans",
    "ClozeSpan",
]

Kind = Literal["recall", "mcq", "numeric", "cloze"]
KINDS: tuple[str, ...] = ("recall", "mcq", "numeric", "cloze")
ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
SECTION_RE = re.compile(r"^[a-z0-9_-]+(?:#[a-z0-9_-]+)?$")
_CLOZE_OPEN = re.compile(r"\{\{c(\d+)::")
ENV_CARDS = "LOSSPREP_CARDS"

_COMMON = {"id", "kind", "section", "front", "back", "tags"}
_FIELDS: dict[str, set[str]] = {
    "recall": _COMMON,
    "mcq": _COMMON | {"choices", "answer"},
    "numeric": _COMMON | {"generator", "tolerance"},
    "cloze": _COMMON,
}


class CardError(ValueError):
    """A malformed card file; the message names the file and the card."""


class CardDict(TypedDict, total=False):
    """The serialized form of a :class:`Card` (a YAML entry, plus ``chapter``)."""

    id: str
    chapter: str
    kind: str
    section: str
    front: str
    back: str
    tags: list[str]
    choices: list[str]
    answer: int
    generator: str
    tolerance: float


@dataclass(frozen=True)
class Card:
    """One card of the bank. ``section`` is ``page#heading-slug`` in the book."""

    id: str
    chapter: str
    kind: str
    section: str
    front: str
    back: str = ""
    tags: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    answer: int | None = None
    generator: str | None = None
    tolerance: float = 0.01

    @property
    def page(self) -> str:
        """The chapter page the section lives in (before ``#``)."""
        return self.section.split("#", 1)[0]

    @property
    def anchor(self) -> str | None:
        """The heading slug (after ``#``), or None for the page itself."""
        return self.section.split("#", 1)[1] if "#" in self.section else None

    def to_dict(self) -> CardDict:
        """The serialized form; :func:`card_from_dict` reads it back."""
        d: CardDict = {
            "id": self.id,
            "chapter": self.chapter,
            "kind": self.kind,
            "section": self.section,
            "front": self.front,
        }
        if self.back:
            d["back"] = self.back
        if self.tags:
            d["tags"] = list(self.tags)
        if self.kind == "mcq":
            d["choices"] = list(self.choices)
            assert self.answer is not None
            d["answer"] = self.answer
        if self.kind == "numeric":
            assert self.generator is not None
            d["generator"] = self.generator
            d["tolerance"] = self.tolerance
        return d

    @classmethod
    def from_dict(cls, source: Mapping[str, Any]) -> Card:
        """Inverse of :meth:`to_dict` (validating)."""
        return card_from_dict(source, chapter=str(source.get("chapter", "")), where="<dict>")


@dataclass(frozen=True)
class Bank:
    """Every card of every chapter file, in file order; ``chapters`` in load order."""

    cards: tuple[Card, ...]
    chapters: tuple[str, ...]
    files: dict[str, Path] = field(default_factory=dict)

    def by_id(self) -> dict[str, Card]:
        return {c.id: c for c in self.cards}

    def chapter(self, name: str) -> list[Card]:
        return [c for c in self.cards if c.chapter == name]


def default_cards_dir() -> Path:
    """``$LOSSPREP_CARDS`` if set, else ``book/cards`` of this repository."""
    env = os.environ.get(ENV_CARDS, "").strip()
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "book" / "cards"


@dataclass(frozen=True)
class ClozeSpan:
    """One ``{{cN::answer::hint}}`` marker: its place in the text and its parts."""

    start: int
    end: int
    number: int
    answer: str
    hint: str | None


def cloze_spans(text: str) -> list[ClozeSpan]:
    """The cloze markers of ``text`` in order; ``ValueError`` for a marker that never closes.

    A marker closes at the first ``}}`` that is not inside TeX braces (``\\{`` and ``\\}``
    are escaped characters, not braces), and ``::`` splits off a hint only at that level.
    """
    spans: list[ClozeSpan] = []
    pos = 0
    while (m := _CLOZE_OPEN.search(text, pos)) is not None:
        i, depth, split = m.end(), 0, None
        while i < len(text):
            ch = text[i]
            if ch == "\\":
                i += 2
                continue
            if depth == 0 and text.startswith("}}", i):
                break
            if depth == 0 and split is None and text.startswith("::", i):
                split = i
                i += 2
                continue
            depth += {"{": 1, "}": -1}.get(ch, 0)
            i += 1
        else:
            raise ValueError(f"the cloze {m.group(0)}... starting at character {m.start()} never closes with }}}}")
        body_end = split if split is not None else i
        hint = text[split + 2 : i] if split is not None else None
        spans.append(ClozeSpan(m.start(), i + 2, int(m.group(1)), text[m.end() : body_end], hint))
        pos = i + 2
    return spans


def choice_order(card: Card, *, seed: str | None = None) -> list[int]:
    """A multiple-choice card's options in a shuffled order (indices into ``card.choices``), the
    same every time for the same ``seed`` (default: the card's id). The book's self-check and the
    Anki export show choices in such an order, so the file's order (often the right answer
    first when written) never gives the answer away."""
    order = list(range(len(card.choices)))
    random.Random(card.id if seed is None else seed).shuffle(order)
    return order


def cloze_answers(text: str) -> list[str]:
    """The hidden parts of a cloze text, in order."""
    return [span.answer for span in cloze_spans(text)]


def cloze_blanks(text: str, *, reveal: bool = False) -> str:
    """The cloze text with each ``{{cN::answer::hint}}`` as ``[...]`` / ``[hint]``, or revealed."""
    out: list[str] = []
    pos = 0
    for span in cloze_spans(text):
        out.append(text[pos : span.start])
        if reveal:
            out.append(span.answer)
        else:
            out.append(f"[{span.hint}]" if span.hint else "[...]")
        pos = span.end
    out.append(text[pos:])
    return "".join(out)


def _fail(where: str, card_id: str | None, msg: str) -> CardError:
    who = f"card {card_id!r}" if card_id else "a card"
    return CardError(f"{where}: {who}: {msg}")


def _str(d: Mapping[str, Any], key: str, where: str, cid: str | None, *, required: bool = True) -> str:
    v = d.get(key)
    if v is None:
        if required:
            raise _fail(where, cid, f"missing field {key!r}")
        return ""
    if not isinstance(v, str) or (required and not v.strip()):
        raise _fail(where, cid, f"field {key!r} must be a non-empty string, got {v!r}")
    return v.strip()


def card_from_dict(d: Mapping[str, Any], *, chapter: str, where: str) -> Card:
    """Validate one YAML entry and build its :class:`Card`; :class:`CardError` otherwise."""
    if not isinstance(d, Mapping):
        raise _fail(where, None, f"expected a mapping, got {type(d).__name__}")
    raw_id = d.get("id")
    cid = raw_id if isinstance(raw_id, str) else None
    if cid is None or not ID_RE.match(cid):
        raise _fail(
            where,
            str(raw_id) if raw_id is not None else None,
            "field 'id' must be lowercase words joined by '-', e.g. 'regression-huber-limits'",
        )
    kind = d.get("kind")
    if kind not in KINDS:
        raise _fail(where, cid, f"field 'kind' must be one of {', '.join(KINDS)}, got {kind!r}")
    unknown = set(d) - _FIELDS[kind] - {"chapter"}
    if unknown:
        raise _fail(where, cid, f"unknown field(s) for a {kind} card: {', '.join(sorted(unknown))}")
    section = _str(d, "section", where, cid)
    if not SECTION_RE.match(section):
        raise _fail(where, cid, f"field 'section' must look like 'page#heading-slug', got {section!r}")
    front = _str(d, "front", where, cid)
    back = _str(d, "back", where, cid, required=kind == "recall")
    tags = d.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise _fail(where, cid, f"field 'tags' must be a list of strings, got {tags!r}")
    if front.count("$") % 2 or back.count("$") % 2:
        raise _fail(where, cid, "unbalanced '$' in a formula")
    choices: tuple[str, ...] = ()
    answer: int | None = None
    gen: str | None = None
    tol = 0.01
    if kind == "mcq":
        ch = d.get("choices")
        if not isinstance(ch, list) or not 2 <= len(ch) <= 6 or not all(isinstance(c, str) and c.strip() for c in ch):
            raise _fail(where, cid, f"field 'choices' must be a list of 2 to 6 non-empty strings, got {ch!r}")
        if len(set(ch)) != len(ch):
            raise _fail(where, cid, "field 'choices' has duplicates")
        choices = tuple(c.strip() for c in ch)
        a = d.get("answer")
        if not isinstance(a, int) or isinstance(a, bool) or not 0 <= a < len(choices):
            raise _fail(
                where, cid, f"field 'answer' must be the index (0 to {len(choices) - 1}) of the right choice, got {a!r}"
            )
        answer = a
    elif kind == "numeric":
        from lossprep.quiz.numeric import GENERATORS

        gen = _str(d, "generator", where, cid)
        if gen not in GENERATORS:
            raise _fail(where, cid, f"unknown generator {gen!r}; known: {', '.join(sorted(GENERATORS))}")
        t = d.get("tolerance", 0.01)
        if not isinstance(t, (int, float)) or isinstance(t, bool) or not 0 < t < 1:
            raise _fail(where, cid, f"field 'tolerance' must be a relative tolerance in (0, 1), got {t!r}")
        tol = float(t)
        import random

        params = GENERATORS[gen](random.Random(0)).params
        try:
            names = {f for _, f, _, _ in string.Formatter().parse(front) if f}
        except ValueError as exc:
            raise _fail(where, cid, f"field 'front' is not a valid template: {exc}") from None
        missing = names - set(params)
        if missing:
            raise _fail(
                where,
                cid,
                f"field 'front' uses {', '.join(sorted(missing))}, which generator {gen!r} does not draw (it draws {', '.join(sorted(params))})",
            )
    elif kind == "cloze":
        try:
            spans = cloze_spans(front)
        except ValueError as exc:
            raise _fail(where, cid, f"field 'front': {exc}") from None
        if not spans:
            raise _fail(where, cid, "a cloze card needs at least one {{c1::...}} in 'front'")
    return Card(
        id=cid,
        chapter=chapter,
        kind=kind,
        section=section,
        front=front,
        back=back,
        tags=tuple(tags),
        choices=choices,
        answer=answer,
        generator=gen,
        tolerance=tol,
    )


def _yaml_load(path: Path) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with path.open(encoding="utf-8") as fh:
            return yaml.load(fh, Loader=loader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        raise CardError(f"{path}: not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from None
    except OSError as exc:
        raise CardError(f"{path}: cannot read: {exc.strerror}") from None


def load_file(path: Path) -> list[Card]:
    """Load and validate one chapter file; the chapter name is the file's stem."""
    path = Path(path)
    data = _yaml_load(path)
    where = str(path)
    if not isinstance(data, dict) or not isinstance(data.get("cards"), list):
        raise CardError(f"{where}: expected a mapping with 'chapter' and a list 'cards'")
    chapter = data.get("chapter")
    if chapter != path.stem:
        raise CardError(f"{where}: field 'chapter' must be the file's name {path.stem!r}, got {chapter!r}")
    extra = set(data) - {"chapter", "cards"}
    if extra:
        raise CardError(f"{where}: unknown top-level field(s): {', '.join(sorted(extra))}")
    cards = [card_from_dict(entry, chapter=chapter, where=where) for entry in data["cards"]]
    seen: set[str] = set()
    for c in cards:
        if c.id in seen:
            raise _fail(where, c.id, "duplicate id")
        seen.add(c.id)
    return cards


def load_bank(directory: Path | None = None, *, chapters: Iterable[str] | None = None) -> Bank:
    """Load every ``*.yml`` of ``directory`` (default :func:`default_cards_dir`), sorted by name.

    ``chapters`` restricts the bank to those files; an unknown name is a :class:`CardError`.
    Ids must be unique across the whole bank.
    """
    directory = Path(directory) if directory is not None else default_cards_dir()
    if not directory.is_dir():
        raise CardError(f"{directory}: card folder not found")
    files = {p.stem: p for p in sorted(directory.glob("*.yml"))}
    if not files:
        other = sorted(p.name for p in directory.glob("*.yaml"))
        if other:
            raise CardError(f"{directory}: card files must end in .yml; found {', '.join(other)} (rename them to .yml)")
        raise CardError(f"{directory}: no card files (<chapter>.yml) in this folder")
    if chapters is not None:
        wanted = list(dict.fromkeys(chapters))
        unknown = [c for c in wanted if c not in files]
        if unknown:
            raise CardError(
                f"{directory}: no card file for chapter(s) {', '.join(unknown)}; known: {', '.join(files) or 'none'}"
            )
        files = {c: files[c] for c in wanted}
    cards: list[Card] = []
    owner: dict[str, Path] = {}
    for _name, path in files.items():
        for c in load_file(path):
            if c.id in owner:
                raise _fail(str(path), c.id, f"duplicate id (also in {owner[c.id]})")
            owner[c.id] = path
            cards.append(c)
    if not cards:
        raise CardError(f"{directory}: the card files hold no cards ({', '.join(str(p.name) for p in files.values())})")
    return Bank(cards=tuple(cards), chapters=tuple(files), files=dict(files))
