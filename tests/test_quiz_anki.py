"""``lossprep quiz export-anki``: a valid .apkg holding every card, with stable note ids.

Checked twice: by reading the package's SQLite tables, and by importing it with the real Anki
library (the ``anki`` package from PyPI, Anki's own backend), which also renders the cloze cards.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import yaml

from lossprep.quiz.anki import FIXED_INSTANCE_NOTE, export, note_guid, note_id
from lossprep.quiz.cards import cloze_answers, load_bank
from lossprep.quiz.numeric import fixed_instance
from lossprep.quiz.render import to_anki

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
    ids = [note_id(f"card-{i}") for i in range(1000)]
    assert all(10**12 <= i < 1.5 * 10**12 for i in ids)  # ms timestamps before now: Anki keeps them


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


def anki_import(apkg: Path, collection: Path) -> tuple[Any, Any]:
    """Import ``apkg`` into the Anki collection at ``collection`` with the real Anki library
    (``anki`` from PyPI, Anki's own Rust backend); returns the open collection and the log."""
    from anki.collection import Collection, ImportAnkiPackageOptions, ImportAnkiPackageRequest

    col = Collection(str(collection))
    out = col.import_anki_package(
        ImportAnkiPackageRequest(package_path=str(apkg), options=ImportAnkiPackageOptions(with_scheduling=False))
    )
    return col, out.log


def test_anki_imports_the_export_and_a_second_export_updates_the_same_notes(tmp_path: Path) -> None:
    folder = tmp_path / "cards"
    shutil.copytree(ROOT / "book" / "cards", folder)
    bank = load_bank(folder)
    export(bank.cards, tmp_path / "first.apkg")
    col, log = anki_import(tmp_path / "first.apkg", tmp_path / "collection.anki2")
    try:
        assert len(log.new) == len(bank.cards) and col.note_count() == len(bank.cards)
        ids = {nid: col.get_note(nid).guid for nid in col.find_notes("")}
        assert ids == {note_id(c.id): note_guid(c.id) for c in bank.cards}
        # Reword one card and export again: the import matches every note (by guid), adds none,
        # keeps every id, and carries the new wording.
        target = next(c for c in bank.cards if c.kind == "recall")
        path = folder / f"{target.chapter}.yml"
        data = yaml.safe_load(path.read_text())
        next(c for c in data["cards"] if c["id"] == target.id)["back"] = "Reworded: " + target.back
        path.write_text(yaml.safe_dump(data, allow_unicode=True))
        time.sleep(1.1)  # Anki updates a note only from a newer one, and genanki stamps whole seconds
        export(load_bank(folder).cards, tmp_path / "second.apkg")
        col.close()
        col, log = anki_import(tmp_path / "second.apkg", tmp_path / "collection.anki2")
        assert len(log.new) == 0 and {e.id.nid for e in [*log.updated, *log.duplicate]} == set(ids)
        assert {nid: col.get_note(nid).guid for nid in col.find_notes("")} == ids
        assert "Reworded:" in col.get_note(note_id(target.id)).fields[1]
    finally:
        col.close()


def test_anki_renders_every_cloze_as_the_quiz_reads_it(tmp_path: Path) -> None:
    """TeX braces inside a cloze (``{{c1::$\\frac{e^{z_k}}{...}$}}``) round-trip: Anki hides
    exactly the part the terminal session hides, and shows it whole on the answer side."""
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "demo.yml").write_text(
        "chapter: demo\ncards:\n  - id: demo-braces\n    kind: cloze\n    section: demo\n"
        "    front: 'Softmax: $p_k = $ {{c1::$\\frac{\\exp(z_k)}{Z_{\\theta}}$}}, with $Z$ the sum.'\n"
        "    back: The exponentials are normalised by their sum, so the outputs are positive and sum to one.\n"
    )
    braces = load_bank(folder).cards
    assert any("}}" in a for c in braces for a in cloze_answers(c.front)), "the demo cloze lost its TeX braces"
    cloze = [*(c for c in load_bank().cards if c.kind == "cloze"), *braces]
    export(cloze, tmp_path / "cloze.apkg")
    col, _ = anki_import(tmp_path / "cloze.apkg", tmp_path / "collection.anki2")
    try:
        for card in cloze:
            answers = cloze_answers(card.front)
            rendered = col.get_note(note_id(card.id)).cards()
            assert len(rendered) == len(answers), card.id
            for k, (anki_card, hidden) in enumerate(zip(rendered, answers, strict=True)):
                want = to_anki(hidden)
                question, answer = anki_card.question(), anki_card.answer()
                shown = re.search(r'<span class="cloze" data-ordinal="\d+">(.*?)</span>', answer, re.S)
                assert shown and shown.group(1) == want, (card.id, k, shown and shown.group(1), want)
                assert '">[...]</span>' in question and want not in question, (card.id, k)
    finally:
        col.close()


MCQ_BANK = "chapter: demo\ncards:\n" + "".join(
    f"  - id: demo-q{i}\n    kind: mcq\n    section: demo\n    front: Question {i}?\n"
    f"    choices: [right {i}, wrong {i}a, wrong {i}b, wrong {i}c]\n    answer: 0\n"
    for i in range(15)
)


def test_anki_export_shuffles_choices_stably_per_card(tmp_path: Path) -> None:
    """15 cards whose files all put the right answer first: the deck does not."""
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "demo.yml").write_text(MCQ_BANK)
    cards = load_bank(folder).cards
    export(cards, tmp_path / "a.apkg")
    export(reversed(cards), tmp_path / "b.apkg")
    notes_a, _, _ = read_apkg(tmp_path / "a.apkg", tmp_path)
    notes_b, _, _ = read_apkg(tmp_path / "b.apkg", tmp_path)
    assert sorted(n[:4] for n in notes_a) == sorted(n[:4] for n in notes_b)  # same order on every export
    letters = []
    for _nid, _guid, _mid, flds, _tags in notes_a:
        front, back, _where = flds.split("\x1f")
        right = re.match(r"([a-d])\) right \d+", back).group(1)
        assert f"{right}) right" in front
        letters.append(right)
    assert max(letters.count(x) for x in "abcd") <= 7 and len(set(letters)) >= 3, letters


def test_anki_numeric_notes_show_a_non_degenerate_instance_and_say_it_is_fixed(tmp_path: Path) -> None:
    bank = load_bank()
    numeric = [c for c in bank.cards if c.kind == "numeric"]
    export(numeric, tmp_path / "n.apkg")
    notes, _, _ = read_apkg(tmp_path / "n.apkg", tmp_path)
    assert len(notes) == len(numeric)
    for _nid, _guid, _mid, flds, _tags in notes:
        front, back, _where = flds.split("\x1f")
        assert FIXED_INSTANCE_NOTE in front
        answer = float(back.split("<br>")[0])
        assert answer != 0, back
        assert "Worked:" not in back and " = " in back.split("<br>")[1]  # the worked computation
    # log-cosh at e = 0 (answer 0) is the draw the old export froze; it is skipped now
    for card in numeric:
        inst = fixed_instance(card.generator, card.id)
        assert inst.answer != 0 and all(v != 0 for v in inst.params.values() if isinstance(v, float))


def test_export_refuses_to_overwrite_without_force_and_an_empty_bank(tmp_path: Path) -> None:
    out = tmp_path / "deck.apkg"
    out.write_bytes(b"my own deck")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "lossprep.cli", "quiz", "export-anki", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    proc = cli(str(out))
    assert proc.returncode == 2 and f"{out} already exists; pass --force to replace it" in proc.stderr, proc
    assert out.read_bytes() == b"my own deck"
    proc = cli(str(out), "--force")
    assert proc.returncode == 0, proc.stderr
    assert zipfile.is_zipfile(out)
    assert [p.name for p in tmp_path.iterdir()] == ["deck.apkg"]  # no temporary file left behind
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = cli(str(tmp_path / "x.apkg"), "--cards", str(empty))
    assert proc.returncode == 2 and "no card files" in proc.stderr and not (tmp_path / "x.apkg").exists()
