"""``lossprep quiz`` as a command: bad paths and options get one clear line, pipes close quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from quiz_helpers import quiz_env, run_quiz

from lossprep.quiz.store import Store

ROOT = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CARD = "chapter: demo\ncards:\n  - id: demo-one\n    kind: recall\n    section: demo\n    front: Q?\n    back: A.\n"


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, proc
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, proc.stderr


@pytest.mark.parametrize("sub", [[], ["stats"], ["plan"], ["export-anki", "deck.apkg"]])
def test_an_empty_card_folder_or_yaml_files_are_errors(tmp_path: Path, sub: list[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    db = ["--db", str(tmp_path / "q.sqlite3")]
    args = [a if a != "deck.apkg" else str(tmp_path / a) for a in sub]
    one_line_error(
        run_quiz(*args, "--cards", str(empty), *db), f"{empty}: no card files (<chapter>.yml) in this folder"
    )
    yaml_only = tmp_path / "yaml"
    yaml_only.mkdir()
    (yaml_only / "demo.yaml").write_text(CARD)
    one_line_error(run_quiz(*args, "--cards", str(yaml_only), *db), "card files must end in .yml; found demo.yaml")
    no_cards = tmp_path / "none"
    no_cards.mkdir()
    (no_cards / "demo.yml").write_text("chapter: demo\ncards: []\n")
    one_line_error(run_quiz(*args, "--cards", str(no_cards), *db), "the card files hold no cards")
    assert not (tmp_path / "deck.apkg").exists()


def test_now_accepts_a_date_with_a_zone(tmp_path: Path) -> None:
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "demo.yml").write_text(CARD)
    db = tmp_path / "q.sqlite3"
    proc = run_quiz("--db", str(db), "--cards", str(folder), "--now", "2026-12-04Z", input="\n3\n")
    assert proc.returncode == 0, proc.stderr
    with Store.open(db) as store:
        assert [r.reviewed_at for r in store.reviews()] == [datetime(2026, 12, 4, tzinfo=UTC)]


@pytest.mark.parametrize("sub", [["plan"], ["stats", "--days", "60"]])
def test_a_closed_pipe_ends_quietly(tmp_path: Path, sub: list[str]) -> None:
    """``lossprep quiz plan | head -1``: the reader closes the pipe before we write."""
    db = tmp_path / "q.sqlite3"
    with Store.open(db) as store:
        store.record_review("lik-recipe", 3, T0 - timedelta(days=3))
    read, write = os.pipe()
    os.close(read)  # nobody reads: the first write gets EPIPE
    proc = subprocess.run(
        [sys.executable, "-m", "lossprep.cli", "quiz", *sub, "--db", str(db), "--now", "2026-03-02T09:00:00Z"],
        cwd=ROOT,
        env=quiz_env(),
        stdout=write,
        stderr=subprocess.PIPE,
        text=True,
        timeout=120,
    )
    os.close(write)
    assert proc.stderr == "", proc.stderr
    assert proc.returncode == 141  # 128 + SIGPIPE, as `yes | head -1` reports for `yes`
    shell = subprocess.run(
        f"{sys.executable} -m lossprep.cli quiz {' '.join(sub)} --db {db} | head -1",
        shell=True,
        cwd=ROOT,
        env=quiz_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shell.returncode == 0 and shell.stderr == "" and shell.stdout.count("\n") == 1, shell


def test_stats_checks_the_plot_path_before_printing(tmp_path: Path) -> None:
    db = tmp_path / "q.sqlite3"
    with Store.open(db) as store:
        store.record_review("lik-recipe", 3, T0)
    missing = tmp_path / "missing" / "dir" / "x.png"
    proc = run_quiz("stats", "--db", str(db), "--plot", str(missing))
    one_line_error(proc, f"cannot write {missing}: the folder {missing.parent} does not exist")
    assert proc.stdout == ""
    assert not (tmp_path / "missing").exists()
    one_line_error(run_quiz("stats", "--db", str(db), "--plot", str(tmp_path)), "Expected --plot FILE.png")


def test_day_start_is_remembered_by_a_session(tmp_path: Path) -> None:
    folder = tmp_path / "cards"
    folder.mkdir()
    (folder / "demo.yml").write_text(CARD)
    db = tmp_path / "q.sqlite3"
    proc = run_quiz(
        "--db", str(db), "--cards", str(folder), "--now", "2026-03-02T05:30:00Z", "--day-start", "6", input="q\n"
    )
    assert proc.returncode == 0, proc.stderr
    # 05:30 is before a 6 o'clock day start: still Sunday 1 March for stats and plan
    proc = run_quiz("stats", "--db", str(db), "--cards", str(folder), "--now", "2026-03-02T05:30:00Z", "--days", "1")
    assert "(days start at 6:00)" in proc.stdout and "2026-03-01" in proc.stdout, proc.stdout
    proc = run_quiz(
        "stats", "--db", str(db), "--cards", str(folder), "--now", "2026-03-02T05:30:00Z", "--day-start", "4"
    )
    assert "(days start at 4:00)" in proc.stdout
