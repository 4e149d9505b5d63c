"""``lossprep quiz export-anki FILE.apkg``: the whole card bank as an Anki deck (``genanki``).

Re-importing updates instead of duplicating: Anki matches notes by GUID, and both the GUID
and the note id are derived from the card id alone (never from the text, the export time or
the card's position), so a card keeps its note when its wording changes or cards are added.
Formulas use Anki's MathJax delimiters ``\\(...\\)`` and ``\\[...\\]``.

Card kinds map to notes as follows: recall and numeric cards to a front/back note, multiple
choice to a front/back note listing the choices, cloze to Anki's cloze note.

- Multiple-choice options are shuffled, seeded by the card id: the right answer is not always
  "a)", and every export writes the same order, so re-importing changes nothing.
- A numeric card shows one fixed, non-degenerate draw of its parameters
  (:func:`lossprep.quiz.numeric.fixed_instance`), its answer with the worked computation, and a
  line saying that Anki shows this one instance while ``lossprep quiz`` draws fresh numbers.
- Inside a formula, ``}}`` is written ``} }`` so that it cannot close a cloze early.

The output file is never overwritten unless asked (``--force``), and is written to a temporary
file first and then renamed, so a failed export leaves no half-written deck.
"""

from __future__ import annotations

import argparse
import html
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from lossprep.quiz import cards
from lossprep.quiz.cards import Card
from lossprep.quiz.common import bank_from
from lossprep.quiz.numeric import fixed_instance, fmt_number
from lossprep.quiz.render import to_anki
from lossprep.quiz.scheduler import fsrs_id

__all__ = [
    "DECK_ID",
    "BASIC_MODEL_ID",
    "CLOZE_MODEL_ID",
    "note_id",
    "note_guid",
    "note_fields",
    "choice_order",
    "FIXED_INSTANCE_NOTE",
    "build_package",
    "export",
    "run_export",
]

DECK_ID = 1_764_000_000_001
BASIC_MODEL_ID = 1_764_000_000_101
CLOZE_MODEL_ID = 1_764_000_000_102
_CSS = (
    ".card { font-family: sans-serif; font-size: 20px; text-align: left; } "
    ".where, .note { color: #888; font-size: 14px; }"
)
FIXED_INSTANCE_NOTE = "Anki shows this one fixed instance; lossprep quiz draws fresh numbers every time."
LETTERS = "abcdef"


def choice_order(card: Card) -> list[int]:
    """The order in which the export lists a multiple-choice card's options (indices into
    ``card.choices``): shuffled, seeded by the card id, so it is the same on every export."""
    return cards.choice_order(card, seed=f"anki:{card.id}")


def note_id(card_id: str) -> int:
    """Stable Anki note id for a card: a millisecond timestamp, as Anki's ids are, and one in the
    past (2001 to 2017): Anki gives a note whose id lies in the future a new id on import."""
    return 1_000_000_000_000 + fsrs_id(card_id) % 500_000_000_000


def note_guid(card_id: str) -> str:
    import genanki

    return str(genanki.guid_for("lossprep", card_id))


def note_fields(card: Card) -> list[str]:
    """The Anki fields of ``card``: ``[Front, Back, Section]`` or ``[Text, Back Extra, Section]``."""
    where = html.escape(f"{card.chapter} · {card.section}")
    if card.kind == "cloze":
        return [to_anki(card.front), to_anki(card.back), where]
    if card.kind == "mcq":
        assert card.answer is not None
        order = choice_order(card)
        front = (
            to_anki(card.front)
            + "<br>"
            + "<br>".join(f"{LETTERS[pos]}) {to_anki(card.choices[idx])}" for pos, idx in enumerate(order))
        )
        right = order.index(card.answer)
        back = f"{LETTERS[right]}) {to_anki(card.choices[card.answer])}" + (
            f"<br><br>{to_anki(card.back)}" if card.back else ""
        )
        return [front, back, where]
    if card.kind == "numeric":
        assert card.generator is not None
        inst = fixed_instance(card.generator, card.id)
        front = (
            to_anki(card.front.format_map(inst.params)) + f'<div class="note">{html.escape(FIXED_INSTANCE_NOTE)}</div>'
        )
        back = (
            fmt_number(inst.answer)
            + (f"<br>{html.escape(inst.steps)}" if inst.steps else "")
            + (f"<br><br>{to_anki(card.back)}" if card.back else "")
        )
        return [front, back, where]
    return [to_anki(card.front), to_anki(card.back), where]


def _models() -> tuple[Any, Any]:
    import genanki

    basic = genanki.Model(
        BASIC_MODEL_ID,
        "lossprep basic",
        fields=[{"name": "Front"}, {"name": "Back"}, {"name": "Section"}],
        templates=[
            {
                "name": "Card 1",
                "qfmt": "{{Front}}",
                "afmt": '{{FrontSide}}<hr id="answer">{{Back}}<div class="where">{{Section}}</div>',
            }
        ],
        css=_CSS,
    )
    cloze = genanki.Model(
        CLOZE_MODEL_ID,
        "lossprep cloze",
        fields=[{"name": "Text"}, {"name": "Back Extra"}, {"name": "Section"}],
        templates=[
            {
                "name": "Cloze",
                "qfmt": "{{cloze:Text}}",
                "afmt": '{{cloze:Text}}<br>{{Back Extra}}<div class="where">{{Section}}</div>',
            }
        ],
        css=_CSS,
        model_type=genanki.Model.CLOZE,
    )
    return basic, cloze


def build_package(cards: Iterable[Card]) -> Any:
    """A ``genanki.Package`` holding one note per card, with stable GUIDs and note ids."""
    import genanki

    class _StableNote(genanki.Note):  # type: ignore[misc]
        """A note whose database id is fixed by the card id (genanki would use the clock)."""

        def __init__(self, stable_id: int, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.stable_id = stable_id

        def write_to_db(self, cursor: Any, timestamp: float, deck_id: int, id_gen: Any) -> None:
            ids = iter([self.stable_id])

            class _Gen:
                def __next__(self_inner) -> int:
                    return next(ids, None) or next(id_gen)

            super().write_to_db(cursor, timestamp, deck_id, _Gen())

    basic, cloze = _models()
    deck = genanki.Deck(DECK_ID, "lossprep: loss functions")
    for card in cards:
        model = cloze if card.kind == "cloze" else basic
        tags = [f"lossprep::{card.chapter}", f"kind::{card.kind}"] + [t.replace(" ", "_") for t in card.tags]
        deck.add_note(
            _StableNote(
                note_id(card.id),
                model=model,
                fields=note_fields(card),
                guid=note_guid(card.id),
                tags=tags,
                sort_field=card.id,
            )
        )
    return genanki.Package(deck)


def export(cards: Iterable[Card], path: Path, *, force: bool = False) -> int:
    """Write ``cards`` to the ``.apkg`` at ``path``; returns the number of notes.

    Refuses (``FileExistsError``) to replace an existing file unless ``force``; writes a
    temporary file beside it and renames it into place.
    """
    cards = list(cards)
    path = Path(path)
    if path.exists() and not force:
        raise FileExistsError(f"{path} already exists; pass --force to replace it")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        build_package(cards).write_to_file(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return len(cards)


def run_export(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if path.suffix.lower() != ".apkg":
        raise ValueError(f"Expected an output file ending in .apkg, got {str(path)!r}")
    if not path.parent.is_dir():
        raise ValueError(f"Expected an existing folder for {str(path)!r}")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a file name ending in .apkg")
    if path.exists() and not getattr(args, "force", False):
        raise ValueError(f"{path} already exists; pass --force to replace it")
    bank = bank_from(args)
    try:
        n = export(bank.cards, path, force=True)
    except OSError as exc:
        raise ValueError(f"cannot write {path}: {exc.strerror}") from None
    print(f"wrote {n} notes from {len(bank.chapters)} chapter(s) to {path}")
    return 0
