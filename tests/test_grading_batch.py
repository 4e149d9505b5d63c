"""Grading a whole class (``lossprep grade``, ``autograder/batch.py``) and the warm workers it
grades in (``autograder/warm.py``): nothing leaks from one submission into the next in a worker,
parallel grading writes the gradebook sequential ``nbgrader autograde`` writes, a kill -9 in the
middle loses and duplicates nothing, a resubmission is regraded, and a Dask ``LocalCluster``
writes the same gradebook."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbformat
import psutil
import pytest
from grading_helpers import BIN, LOSSPREP, SOLUTIONS, answers, fill, hand_in, make_course, run_nbgrader

from autograder import assignment
from autograder.batch import TABLE
from autograder.sandbox import End, Limits, find_sandbox
from autograder.warm import Warm

NAME = "medical_loss"
POINTS = assignment.load(NAME).part(f"{NAME}-test-medical_loss").points


# ---------------------------------------------------------------- warm workers


def test_the_hidden_calls_are_built_once_and_each_caller_gets_its_own_copy() -> None:
    """A worker grades many submissions with the same hidden inputs: built once per process,
    but a submission (or a judge) that changes its inputs changes nobody else's."""
    a = assignment.load(NAME)
    gid = f"{NAME}-test-medical_loss"
    first, second = a.calls(gid), a.calls(gid)
    test_id = next(iter(first))
    x = first[test_id][0].args[0]
    assert x.equal(second[test_id][0].args[0]) and x is not second[test_id][0].args[0]
    x.add_(1.0)
    assert not x.equal(a.calls(gid)[test_id][0].args[0])
    assert a.calls(gid)[test_id][0].args[0].equal(second[test_id][0].args[0])


def _run(warm: Warm, tmp_path: Path, cells: list[str], seconds: float = 20) -> Any:
    job = {
        "cells": [{"index": i, "source": s, "seconds": seconds} for i, s in enumerate(cells)],
        "settings": {"protected": [], "forbidden": ["autograder"]},
    }
    return warm.run(job, list, Limits(grace_seconds=3), tmp_path)


def _outputs(attempt: Any) -> list[str]:
    return [e["output"] for e in attempt.events if e["event"] == "cell"]


HOSTILE = [
    "import builtins, sys, torch, lossprep\n"
    "builtins.LEAKED = 'from the last submission'\n"
    "lossprep.LEAKED = 'from the last submission'\n"
    "sys.modules['leaked_module'] = type(sys)('leaked_module')\n"
    "torch.sum = lambda *a, **k: 42\n"
    "torch.Tensor.__eq__ = lambda self, other: True",
    "for folder in ('/tmp', '/scratch', '/dev/shm'):\n    open(folder + '/leaked', 'w').write('the last answers')",
    "import ctypes\nprint(ctypes.CDLL(None).shmget(0x10CC, 4096, 0o1000 | 0o666) >= 0)",  # IPC_CREAT: System V memory
    "import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True)\nprint('started')",
]

NEIGHBOUR = [
    "import builtins, sys, torch, lossprep\n"
    "print(hasattr(builtins, 'LEAKED'), hasattr(lossprep, 'LEAKED'), 'leaked_module' in sys.modules)\n"
    "print(float(torch.sum(torch.ones(3))), bool((torch.ones(2) == torch.zeros(2)).any()))",
    "import os\n"
    "print(any('leaked' in os.listdir(f) for f in ('/tmp', '/scratch', '/dev/shm')))\n"
    "import ctypes\nprint(ctypes.CDLL(None).shmget(0x10CC, 4096, 0) >= 0)\n"
    "print([p for p in os.listdir('/proc') if p.isdigit() and int(p) not in (1, os.getpid(), os.getppid())])",
]


def test_a_warm_workers_children_share_one_user_id_and_two_workers_do_not() -> None:
    """As root, bubblewrap draws a user id per run; a warm worker's children must all take the
    worker's (its clean-up, run as that id, kills what they leave), and two workers grading side
    by side must not share one (one process limit for both: a fork bomb would starve the other)."""
    base = find_sandbox(require=True)
    if base.settings(Limits(), Path("/scratch")).get("uid") is None:
        pytest.skip("not root: the sandbox keeps this user's id")
    one, two = Warm(base), Warm(base)
    uids = {one.settings(Limits(), Path(f"/s{i}"))["uid"] for i in range(5)}
    assert uids == {one.uid} and two.settings(Limits(), Path("/s"))["uid"] == two.uid != one.uid


@pytest.fixture
def warm() -> Iterator[Warm]:
    sandbox = Warm(find_sandbox(require=True))
    yield sandbox
    sandbox.close()


@pytest.mark.slow
def test_a_hostile_submission_does_not_affect_the_next_one_in_the_same_warm_worker(warm: Warm, tmp_path: Path) -> None:
    """A submission that sets globals, patches torch, leaves files in every writable folder, a
    System V shared memory segment and a process behind: the next child of the same worker
    sees none of it (the worker's memory is never touched: each child is a fresh fork)."""
    first = _run(warm, tmp_path / "a", HOSTILE)
    assert first.end is End.FINISHED, first
    assert _outputs(first)[2:] == ["True\n", "started\n"]  # the segment and the process were made
    assert any(e["event"] == "incident" and e["kind"] == "monkeypatch" for e in first.events)
    second = _run(warm, tmp_path / "b", NEIGHBOUR)
    assert second.end is End.FINISHED, second
    assert _outputs(second) == ["False False False\n3.0 False\n", "False\nFalse\n[]\n"]
    assert warm.started == 1, "both ran in the same warm worker"


@pytest.mark.slow
def test_a_crash_or_a_kill_costs_only_its_own_submission_and_the_worker_stays_warm(warm: Warm, tmp_path: Path) -> None:
    crashed = _run(warm, tmp_path / "a", ["import os\nos._exit(3)"])
    assert crashed.end is End.EXITED and crashed.code == 3
    stuck = _run(
        warm,
        tmp_path / "b",
        ["import signal\nsignal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})\n" + "while True:\n    pass"],
        seconds=1,
    )
    assert stuck.end is End.TIMEOUT  # it would not stop: the grader killed the child
    fine = _run(warm, tmp_path / "c", ["print(6 * 7)"])
    assert fine.end is End.FINISHED and _outputs(fine) == ["42\n"]
    assert warm.started == 1


@pytest.mark.slow
def test_a_warm_worker_that_dies_is_replaced(warm: Warm, tmp_path: Path) -> None:
    assert _outputs(_run(warm, tmp_path / "a", ["print(1)"])) == ["1\n"]
    assert warm._worker is not None
    os.killpg(warm._worker.proc.pid, signal.SIGKILL)  # the whole sandbox of the worker
    assert _outputs(_run(warm, tmp_path / "b", ["print(2)"])) == ["2\n"]
    assert warm.started == 2


@pytest.mark.slow
def test_a_worker_started_ahead_serves_the_first_run_and_a_broken_start_is_reported(tmp_path: Path) -> None:
    """``lossprep grade`` starts each warm worker before it reads the course: the first run
    waits for that worker (no second start); one whose sandbox cannot start gives the engine's
    start-up failure, not a hang."""
    ahead = Warm(find_sandbox(require=True))
    try:
        ahead.prestart()
        assert ahead.started == 1 and ahead._worker is not None and not ahead._worker.answered
        assert _outputs(_run(ahead, tmp_path / "a", ["print(6 * 7)"])) == ["42\n"]
        assert ahead.started == 1, "the first run used the worker started ahead"
    finally:
        ahead.close()
    broken = Warm(find_sandbox(require=True), modules=())
    broken.command = lambda scratch, limits: (["/nonexistent/bwrap"], None, None)  # type: ignore[method-assign]
    broken.base = types.SimpleNamespace(command=broken.command, settings=broken.base.settings)  # type: ignore[assignment]
    try:
        broken.prestart()  # no exception: the run says why
        attempt = _run(broken, tmp_path / "b", ["print(1)"])
        assert attempt.end is End.STARTUP and "/nonexistent/bwrap" in attempt.stream_head, attempt
    finally:
        broken.close()


def test_a_local_worker_judges_on_one_thread() -> None:
    """Torch's default is a thread per core; in a grading worker those threads compete with the
    sandboxed children for every core (and spin when idle): measured, a worker used 4.8 s of CPU
    in 20 s with them, 0.6 s without. (In a fresh interpreter: spawning from inside pytest
    depends on what earlier tests left in ``__main__``.)"""
    probe = (
        "import torch\nfrom autograder.batch import _Local\npool = _Local(1)\n"
        "print(pool.pool.submit(torch.get_num_threads).result(timeout=120), torch.get_num_threads())\npool.close()"
    )
    proc = subprocess.run([sys.executable, "-c", probe], env=_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    in_worker, default = map(int, proc.stdout.split())
    assert in_worker == 1, f"a worker judges on {in_worker} threads (torch's default here: {default})"


def test_the_writers_metadata_validation_refuses_what_nbgrader_refuses() -> None:
    """The writer validates each cell's nbgrader metadata with one cached validator instead of
    ``jsonschema.validate`` (which re-checks the schema for every cell): same verdicts."""
    import jsonschema
    from nbgrader.nbgraderformat import MetadataValidator

    from autograder.batch import _validate_metadata_with_one_validator

    good = {"grade": True, "grade_id": "x", "locked": False, "points": 1, "schema_version": 3, "solution": False}
    bad = [{**good, "points": "one"}, {**good, "grade_id": 7}, {k: v for k, v in good.items() if k != "grade_id"}]
    cell = nbformat.v4.new_code_cell("pass")

    def verdicts() -> list[str | None]:
        out: list[str | None] = []
        for meta in [good, *bad]:
            cell.metadata["nbgrader"] = dict(meta)
            try:
                MetadataValidator().validate_cell(cell)
                out.append(None)
            except jsonschema.ValidationError as e:
                out.append(e.message)
        return out

    before = verdicts()
    _validate_metadata_with_one_validator()
    assert verdicts() == before and before[0] is None and all(before[1:])


# ---------------------------------------------------------------- a class


def _class() -> dict[str, Any]:
    """Correct, partly wrong, broken and hostile submissions of medical_loss."""
    a = answers(NAME)
    source = nbformat.read(SOLUTIONS / NAME / f"{NAME}.ipynb", as_version=4)
    patched = fill(NAME, {"medical_loss": "import torch\ntorch.allclose = lambda *a, **k: True\n" + _sol(source)})
    leaves = fill(NAME, a.RIGHT["vectorised"])
    leaves.cells.append(
        nbformat.v4.new_code_cell("import builtins\nbuiltins.LEAK = 1\nopen('/tmp/leak', 'w').write('x')")
    )
    crashes = fill(NAME, {"medical_loss": "import os\nos._exit(1)"})
    return {
        "alice": SOLUTIONS / NAME / f"{NAME}.ipynb",
        "bob": None,  # the untouched release
        "carol": b"",  # not a notebook
        "dave": patched,
        "erin": fill(NAME, [a.medical_loss_summed, a.medical_loss_grad_vectorised]),
        "frank": leaves,
        "grace": crashes,
        "heidi": fill(NAME, a.RIGHT["loops in float64"]),
    }


def _sol(nb: nbformat.NotebookNode) -> str:
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{NAME}-sol-medical_loss"]
    return cell.source


def _course(tmp: Path, also: tuple[str, ...] = ()) -> Path:
    """The class of medical_loss (``also``: these assignments too, the solution handed in by
    alice and the release by bob)."""
    tmp.mkdir(parents=True, exist_ok=True)
    course = make_course(tmp, [NAME, *also])
    for name in (NAME, *also):
        run_nbgrader(["generate_assignment", name, "--force"], course)
    hand_in(course, NAME, _class())
    for name in also:
        hand_in(course, name, {"alice": SOLUTIONS / name / f"{name}.ipynb", "bob": None})
    for student, stamp in (("alice", "2026-11-30 10:00:00.000000 UTC"), ("heidi", "2026-12-09 10:00:00.000000 UTC")):
        (course / "submitted" / student / NAME / "timestamp.txt").write_text(stamp)
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "lossprep") as gb:  # heidi is late
        gb.update_or_create_assignment(NAME, duedate="2026-12-01 00:00:00 UTC")
    return course


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra)


def _grade(
    course: Path, *args: str, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [str(LOSSPREP), "grade", NAME, "--no-progress", *args],
        cwd=course,
        env=env or _env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if check:
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def _gradebook(course: Path) -> dict[str, Any]:
    """Everything nbgrader keeps of each submission: the timestamp, the late penalty, every
    grade and comment, and the autograded notebook (cells, outputs, the grading's metadata)."""
    from nbgrader.api import Gradebook

    out = {}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "lossprep") as gb:
        for sub in gb.assignment_submissions(NAME):
            [nb] = sub.notebooks
            autograded = nbformat.read(course / "autograded" / sub.student.id / NAME / f"{NAME}.ipynb", as_version=4)
            out[sub.student.id] = {
                "timestamp": str(sub.timestamp),
                "seconds_late": sub.total_seconds_late,
                "late_penalty": nb.late_submission_penalty,
                "grades": {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade) for g in nb.grades},
                "comments": {c.name: (c.auto_comment, c.manual_comment) for c in nb.comments},
                "metadata": autograded.metadata.get("lossprep"),
                "cells": [
                    (c.cell_type, c.source, _ADDRESS.sub(" at 0x…", json.dumps(c.get("outputs", []), sort_keys=True)))
                    for c in autograded.cells
                ],
            }
    return out


def _rows(course: Path) -> int:
    with sqlite3.connect(course / "gradebook.db") as db:
        return db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The class graded the sequential way: ``nbgrader autograde`` with the course's config."""
    course = _course(tmp_path_factory.mktemp("sequential"))
    run_nbgrader(["autograde", NAME], course)
    book = _gradebook(course)
    assert book["alice"]["grades"][f"{NAME}-test-medical_loss"][0] == POINTS  # the class is graded, not all zero
    assert book["dave"]["metadata"]["flags"] == ["tampered"] and book["heidi"]["seconds_late"] > 0
    return book


@pytest.mark.slow
def test_parallel_grading_writes_the_gradebook_sequential_nbgrader_autograde_writes(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    """``lossprep grade --jobs 2`` (and ``--jobs 1``): the same gradebook, grades, comments,
    timestamps, late seconds and autograded notebooks as ``nbgrader autograde``, a summary, a
    CSV; and nothing of Dask imported."""
    course = _course(tmp_path / "parallel")
    probe = (
        "import sys\nfrom lossprep.cli import main\nrc = main(['grade', 'medical_loss', '--jobs', '2', '--no-progress'])\n"
        "print('dask imported:', any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules))\nsys.exit(rc)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=course, env=_env(), capture_output=True, text=True, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "dask imported: False" in proc.stdout
    assert "graded 8 submissions" in proc.stdout and "0 already graded" in proc.stdout
    assert "carol: not graded: not a Jupyter notebook" in proc.stdout and "dave: " in proc.stdout
    assert _gradebook(course) == reference
    rows = (course / f"grades-{NAME}.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("student,score,max_score,auto_score") and len(rows) == 9
    assert any(r.startswith("alice,12.0,17.0,12.0,") for r in rows)

    one = _course(tmp_path / "one")
    _grade(one, "--jobs", "1")
    assert _gradebook(one) == reference


@pytest.mark.slow
def test_several_assignments_in_one_command_share_the_workers_and_write_each_gradebook(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    """``lossprep grade "*"`` (as ``nbgrader autograde "*"``): every assignment handed out and
    handed in, in one pool of warm workers, each written as its own command would write it; a
    summary per assignment and one for the command; an assignment named outright must exist."""
    other = "ranking_loss"
    course = _course(tmp_path / "both", also=(other,))
    proc = subprocess.run(
        [str(LOSSPREP), "grade", "*", "--no-progress"],
        cwd=course,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "2 assignments: graded 10 submissions in" in proc.stdout
    assert f"{NAME}: graded 8 submissions; 0 already graded" in proc.stdout
    assert f"{other}: graded 2 submissions; 0 already graded" in proc.stdout
    assert _gradebook(course) == reference
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "lossprep") as gb:
        scores = {s.student.id: s.score for s in gb.assignment_submissions(other)}
    assert scores == {"alice": sum(part.points for part in assignment.load(other).parts), "bob": 0}
    assert (course / f"grades-{other}.csv").read_text(encoding="utf-8").count("\n") == 3
    assert (course / f"grades-{NAME}+multilabel_fix+{other}.log").is_file()
    again = subprocess.run(
        [str(LOSSPREP), "grade", other, "multilabel_fix", "--no-progress"],
        cwd=course,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 2 and "no assignment 'multilabel_fix' in the gradebook" in again.stderr


@pytest.mark.slow
def test_kill_9_in_the_middle_then_a_rerun_loses_and_duplicates_nothing(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    course = _course(tmp_path / "killed")
    proc = subprocess.Popen(
        [str(LOSSPREP), "grade", NAME, "--jobs", "2", "--no-progress"],
        cwd=course,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and proc.poll() is None:
        with contextlib.suppress(psutil.Error):  # the workers and their sandboxes, to see them gone after
            workers = psutil.Process(proc.pid).children(recursive=True) or workers
        if (course / "gradebook.db").exists() and _table_rows(course) >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the batch finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, f"processes outlived the killed batch: {alive}"
    saved = _rows(course)
    assert 2 <= saved < 8

    again = _grade(course)
    assert f"graded {8 - saved} submissions" in again.stdout and f"{saved} already graded" in again.stdout
    assert _gradebook(course) == reference
    with sqlite3.connect(course / "gradebook.db") as db:
        assert db.execute("SELECT count(*) FROM submitted_assignment").fetchone()[0] == 8
        assert db.execute("SELECT count(*) FROM submitted_notebook").fetchone()[0] == 8
        assert db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0] == 8

    # nothing new: nothing graded; a resubmission (a new file, or a new timestamp): only that one
    assert "graded 0 submissions" in _grade(course).stdout
    hand_back = course / "submitted" / "bob" / NAME / f"{NAME}.ipynb"
    hand_back.write_bytes((SOLUTIONS / NAME / f"{NAME}.ipynb").read_bytes())
    (course / "submitted" / "erin" / NAME / "timestamp.txt").write_text("2026-11-30 12:00:00.000000 UTC")
    regraded = _grade(course)
    assert "graded 2 submissions" in regraded.stdout and "6 already graded" in regraded.stdout
    book = _gradebook(course)
    assert book["bob"]["grades"][f"{NAME}-test-medical_loss"][0] == POINTS
    assert book["erin"]["timestamp"].startswith("2026-11-30 12:00:00")
    assert {s: b for s, b in book.items() if s not in ("bob", "erin")} == {
        s: b for s, b in reference.items() if s not in ("bob", "erin")
    }


@pytest.mark.slow
def test_ctrl_c_saves_what_was_graded_says_so_and_a_rerun_grades_the_rest(
    tmp_path: Path, reference: dict[str, Any]
) -> None:
    course = _course(tmp_path / "interrupted")
    proc = subprocess.Popen(
        [str(LOSSPREP), "grade", NAME, "--jobs", "2", "--no-progress"],
        cwd=course,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None and _table_rows(course) < 1:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=300)
    saved = _rows(course)
    assert proc.returncode == 130 and 1 <= saved < 8, (proc.returncode, saved, err[-2000:])
    [line] = err.strip().splitlines()
    assert (
        line == f"lossprep grade: interrupted; {saved} graded and saved, {8 - saved} left: run the same command again"
    )
    assert f"graded {saved} submission" in out and "Traceback" not in out + err
    assert f"graded {8 - saved} submissions" in _grade(course).stdout
    assert _gradebook(course) == reference


def _table_rows(course: Path) -> int:
    try:
        return _rows(course)
    except sqlite3.OperationalError:  # the table is not made yet, or the file is busy
        return 0


@pytest.mark.slow
def test_the_dask_path_on_a_local_cluster_writes_the_same_gradebook(tmp_path: Path, reference: dict[str, Any]) -> None:
    """A ``LocalCluster`` of two worker processes (started apart from this test's process, as an
    instructor starts one), ``lossprep grade --scheduler``: the same gradebook; both workers
    graded."""
    launcher = (
        "import os, sys\nfrom distributed import Client, LocalCluster\n"
        "cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)\n"
        "pids = Client(cluster).run(os.getpid)\n"
        "print(cluster.scheduler_address, *pids.values(), flush=True)\nsys.stdin.read()"
    )
    cluster = subprocess.Popen(
        [sys.executable, "-c", launcher],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=_env(),
    )
    try:
        address, *pids = cluster.stdout.readline().split()  # type: ignore[union-attr]
        assert address.startswith("tcp://") and len(pids) == 2
        course = _course(tmp_path / "dask")
        out = _grade(course, "--scheduler", address).stdout
        assert "2 Dask workers" in out and "graded 8 submissions" in out
        assert _gradebook(course) == reference
        with sqlite3.connect(course / "gradebook.db") as db:
            workers = {w.rpartition(":")[2] for (w,) in db.execute(f"SELECT worker FROM {TABLE}")}
        assert workers == set(pids), "both workers of the cluster graded"
    finally:
        cluster.stdin.close()  # type: ignore[union-attr]
        cluster.wait(timeout=60)
        cluster.stdout.close()  # type: ignore[union-attr]


# ---------------------------------------------------------------- refusals


@pytest.mark.slow
def test_batch_grading_refuses_to_run_without_the_sandbox_unless_told(tmp_path: Path) -> None:
    course = make_course(tmp_path, [NAME])
    run_nbgrader(["generate_assignment", NAME, "--force"], course)
    hand_in(course, NAME, {"alice": SOLUTIONS / NAME / f"{NAME}.ipynb"})
    env = _env(LOSSPREP_BWRAP=str(tmp_path / "no-bwrap"))
    refused = _grade(course, check=False, env=env)
    assert refused.returncode == 2 and refused.stdout == ""
    [line] = refused.stderr.strip().splitlines()
    assert "batch grading runs only in the sandbox" in line and "--unsafe-without-sandbox" in line
    assert _rows_or_none(course) is None  # nothing graded, nothing written
    out = _grade(course, "--unsafe-without-sandbox", "--jobs", "1", env=env).stdout
    assert "WITHOUT the sandbox" in out and "graded 1 submission " in out
    meta = nbformat.read(course / "autograded" / "alice" / NAME / f"{NAME}.ipynb", as_version=4).metadata
    assert meta["lossprep"]["sandbox"] == "none" and meta["lossprep"]["flags"] == []


def _rows_or_none(course: Path) -> int | None:
    try:
        return _rows(course)
    except sqlite3.OperationalError:
        return None


@pytest.mark.slow
def test_what_cannot_be_graded_is_said_in_one_line(tmp_path: Path) -> None:
    cases = [
        (tmp_path, ["grade", NAME], "no nbgrader_config.py here"),
    ]
    (tmp_path / "course").mkdir()
    course = make_course(tmp_path / "course", [NAME])
    cases += [
        (course, ["grade", "nonsense"], "no assignment 'nonsense'"),
        (course, ["grade", NAME], f"run `nbgrader generate_assignment {NAME}` first"),
        (course, ["grade", NAME, "--jobs", "0"], "--jobs must be at least 1"),
    ]
    for cwd, args, words in cases:
        proc = subprocess.run([str(LOSSPREP), *args], cwd=cwd, env=_env(), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stdout == "" and "Traceback" not in proc.stderr
        [line] = proc.stderr.strip().splitlines()
        assert words in line, line
