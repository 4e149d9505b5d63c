"""``lossprep quiz export-anki``: a valid .apkg holding every card, with stable note ids."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

from lossprep.quiz.anki import export, note_guid, note_id
from lossprep.quiz.cards import cloze_answers, load_bank

ROOT = Path(__file__).resolve().parents[1]


def read_apkg(path: Path, tmp: Path) -> tuple[list[tuple], int, dict]:
    assert zipfile.is_zipfile(path)
    with zipfile.ZipFile(path) as z:
        assert z.testzip() is None
        assert "collection.anki2" in z.namelist()
        assert json.loads(z.read("media")) == {}
        db = tmp / f"{path.stem}.anki2"
        db.write_bytes(z.read("collection.anki2"))
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    notes = conn.execute("SELECT id, guid, mid, flds, tags FROM notes ORDER BY id").fetchall()
    n_cards = conn.execute("SELECT count(*) FROM cards").fetchone()[0]
    orphans = conn.execute("SELECT count(*) FROM cards WHERE nid NOT IN (SELECT id FROM notes)").fetchone()[0]
    models = json.loads(conn.execute("SELECT models FROM col").fetchone()[0])
    conn.close()
    assert orphans == 0
    return notes, n_cards, models


def test_export_holds_every_card_with_stable_ids(tmp_path: Path) -> None:
    bank = load_bank()
    first, second = tmp_path / "first.apkg", tmp_path / "second.apkg"
    proc = subprocess.run(
        [sys.executable, "-m", "lossprep.cli", "quiz", "export-anki", str(first)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"wrote {len(bank.cards)} notes" in proc.stdout
    notes, n_cards, models = read_apkg(first, tmp_path)
    assert len(notes) == len(bank.cards)
    # one Anki card per note, plus one per extra cloze deletion
    extra = sum(len(set(cloze_answers(c.front))) - 1 for c in bank.cards if c.kind == "cloze")
    assert n_cards == len(bank.cards) + extra
    by_guid = {guid: (nid, flds, tags) for nid, guid, _mid, flds, tags in notes}
    for card in bank.cards:
        nid, flds, tags = by_guid[note_guid(card.id)]
        assert nid == note_id(card.id)
        assert f"lossprep::{card.chapter}" in tags
        assert card.section in flds
        assert "$" not in flds.replace("&nbsp;", ""), f"{card.id}: a formula kept $ delimiters"
        if "$" in card.front + card.back:
            assert "\\(" in flds or "\\[" in flds, f"{card.id}: no MathJax delimiters"
    assert {m["name"] for m in models.values()} == {"lossprep basic", "lossprep cloze"}

    # A second export (another time, cards in another order) keeps every note id and guid.
    export(reversed(bank.cards), second)
    notes2, _, _ = read_apkg(second, tmp_path)
    assert sorted((nid, guid) for nid, guid, *_ in notes2) == sorted((nid, guid) for nid, guid, *_ in notes)


def test_note_ids_depend_only_on_the_card_id() -> None:
    assert note_id("a") == note_id("a") != note_id("b")
    assert note_guid("a") == note_guid("a") != note_guid("b")
    assert 10**12 <= note_id("lik-recipe") < 2 * 10**12


def test_export_refuses_a_wrong_suffix(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "lossprep.cli", "quiz", "export-anki", str(tmp_path / "deck.zip")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (
        proc.returncode == 2
        and "Expected an output file ending in .apkg" in proc.stderr
        and "Traceback" not in proc.stderr
    )
    assert not (tmp_path / "deck.zip").exists()
