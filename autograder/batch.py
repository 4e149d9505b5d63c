"""``lossprep grade NAME [NAME ...]``: grade every submission of one or more assignments, in
parallel, resumable, on this machine or on a Dask cluster, into nbgrader's gradebook. Several
assignments (names or globs: ``"*"``, as for ``nbgrader autograde``) share one pool of warm
workers, so the sandboxes start once.

Run from the course directory (where ``nbgrader_config.py`` is), after ``nbgrader
generate_assignment NAME``. The steps:

    plan    which submissions in ``submitted/*/NAME/`` need grading: new ones, changed ones (a
            digest of the notebooks and of ``timestamp.txt``) and ones whose grading never
            completed; the others are skipped (``--force``: grade all)
    grade   in workers: ``--jobs N`` processes here (default: one per core), or the workers of
            the Dask cluster at ``--scheduler``. Each grades with the engine in the sandbox, its
            children forked from a warm worker (``autograder.warm``); only reports come back
    write   here, in this one process, one submission at a time, in ONE database transaction:
            nbgrader's own autograde pipeline (its ``Autograde`` converter: the submission and
            its timestamp, the restored cells, ``SaveAutoGrades``, ``AssignLatePenalties``, the
            notebook in ``autograded/``) with the worker's report in place of ``GradeCells``,
            and this module's record of what was graded (table ``lossprep_graded``). Stopped
            at any point (Ctrl-C, kill -9), the gradebook holds whole submissions only; the
            same command grades the rest
    report  a progress bar, a summary (scores, flags, who needs a human look), a CSV

Nothing of Dask is imported without ``--scheduler``.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import logging
import os
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

__all__ = ["add_arguments", "run", "Task", "Graded", "grade_task", "one_transaction", "TABLE"]

TABLE = "lossprep_graded"  # what lossprep grade wrote, one row per (assignment, student), in the gradebook


# ---------------------------------------------------------------- the workers' side


@dataclass(frozen=True)
class Task:
    """One submission to grade: the bytes of its notebooks (notebook id -> bytes), so a worker
    on another machine needs no access to ``submitted/``."""

    student: str
    assignment: str
    notebooks: dict[str, bytes]
    limits: Any  # autograder.sandbox.Limits
    protected: tuple[str, ...] = ()
    unsafe: bool = False


@dataclass
class Graded:
    """What a worker sends back: a report per notebook, or the error that stopped grading (the
    sandbox did not start: not the submission's fault)."""

    student: str
    reports: dict[str, Any] = field(default_factory=dict)  # notebook id -> autograder.engine.Report
    seconds: float = 0.0
    worker: str = ""
    error: str | None = None
    assignment: str = ""


_HERE = threading.local()  # this worker thread's warm sandbox


def _sandbox(unsafe: bool) -> Any:
    from autograder.sandbox import find_sandbox
    from autograder.warm import Warm

    base = find_sandbox(require=not unsafe)  # bubblewrap whenever it works, unsafe or not
    key = "safe" if base.isolated else "unsafe"
    warm = getattr(_HERE, key, None)
    if warm is None:
        warm = Warm(base)
        setattr(_HERE, key, warm)
    return warm


def grade_task(task: Task) -> Graded:
    """Grade one submission (in a worker process here, or on a Dask worker): each notebook with
    the engine, in this worker's warm sandbox."""
    from autograder import assignment
    from autograder.engine import CheckError, GradingError, grade, ungraded
    from autograder.sandbox import SandboxUnavailable

    _judge_on_one_thread()  # a Dask worker too
    started = time.monotonic()
    where = f"{socket.gethostname()}:{os.getpid()}"
    try:
        sandbox = _sandbox(task.unsafe)
    except SandboxUnavailable as e:
        return Graded(
            task.student,
            worker=where,
            error=f"{where}: {e}: batch grading runs only in the sandbox",
            assignment=task.assignment,
        )
    reports = {}
    for notebook, data in task.notebooks.items():
        try:
            reports[notebook] = grade(
                data, sandbox=sandbox, limits=task.limits, expect=task.assignment, protected=task.protected
            )
        except CheckError as e:
            reports[notebook] = ungraded(assignment.load(task.assignment), f"not graded: {e}")
        except GradingError as e:
            return Graded(task.student, worker=where, error=f"{where}: {e}", assignment=task.assignment)
    return Graded(task.student, reports, time.monotonic() - started, where, assignment=task.assignment)


def _worker_init(prestart: bool = False) -> None:
    """A local worker process: it dies with the grading process (even killed with -9), and
    leaves Ctrl-C to it. ``prestart``: its sandbox's warm worker starts booting now (it imports
    torch), while this process imports the engine and the grading process reads the course."""
    import ctypes
    import signal

    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if prestart:
        from autograder.sandbox import SandboxUnavailable

        with contextlib.suppress(SandboxUnavailable):  # no bubblewrap: the first submission says so
            _sandbox(False).prestart()
    _judge_on_one_thread()
    import autograder.engine  # noqa: F401  (torch, while the warm worker boots)


def _judge_on_one_thread() -> None:
    """The judges' tensors are small: one torch thread. Torch's default, a thread per core, makes
    every grading process compete with the sandboxed children for all the cores, and its idle
    threads spin (measured: a worker used 4.8 s of CPU in 20 s with them, 0.6 s without)."""
    import torch

    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


def _started() -> None:
    """Nothing: submitted once per worker so that the pool starts them all now."""


# ---------------------------------------------------------------- pools: local or Dask


class _Local:
    """``jobs`` worker processes on this machine (spawned: nothing of this process is shared)."""

    def __init__(self, jobs: int, *, prestart: bool = False) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.jobs = jobs
        self.pool = ProcessPoolExecutor(
            jobs, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init, initargs=(prestart,)
        )
        self.where = f"{jobs} worker process{'es' if jobs > 1 else ''} here"
        if prestart:  # one process per submit while none is idle: all of them start now
            for _ in range(jobs):
                self.pool.submit(_started)

    def submit(self, task: Task) -> Any:
        return self.pool.submit(grade_task, task)

    def wait(self, pending: set[Any]) -> tuple[set[Any], set[Any]]:
        from concurrent.futures import FIRST_COMPLETED, wait

        done, left = wait(pending, return_when=FIRST_COMPLETED)
        return set(done), set(left)

    def close(self, *, cancel: bool = False) -> None:
        if cancel:  # stop now: the workers and their sandboxes go with them
            for process in list((getattr(self.pool, "_processes", None) or {}).values()):
                with contextlib.suppress(Exception):
                    process.kill()
        self.pool.shutdown(wait=not cancel, cancel_futures=cancel)


class _Dask:
    """The workers of a Dask distributed cluster (each runs the same sandbox on its host)."""

    def __init__(self, scheduler: str) -> None:
        from distributed import Client

        self.client = Client(scheduler, timeout="30s")
        workers = self.client.scheduler_info().get("workers", {})
        if not workers:
            self.client.close()
            raise RuntimeError(f"the Dask cluster at {scheduler} has no worker")
        self.jobs = sum(int(w.get("nthreads", 1)) for w in workers.values())
        self.where = f"{len(workers)} Dask worker{'s' if len(workers) > 1 else ''} ({self.jobs} threads) at {scheduler}"

    def submit(self, task: Task) -> Any:
        return self.client.submit(grade_task, task, pure=False)

    def wait(self, pending: set[Any]) -> tuple[set[Any], set[Any]]:
        from distributed import wait

        done, left = wait(list(pending), return_when="FIRST_COMPLETED")
        return set(done), set(left)

    def close(self, *, cancel: bool = False) -> None:
        self.client.close()


# ---------------------------------------------------------------- the one writer


@contextlib.contextmanager
def one_transaction(db: Any) -> Iterator[Any]:
    """One database transaction for everything nbgrader's pieces write while it is open: every
    ``Gradebook`` they open shares one SQLAlchemy connection, whose sessions join its
    transaction (their commits do not end it); it commits when the block ends, and rolls back
    when it raises (Ctrl-C included). A kill in the middle leaves nothing of it in the file.

    ``db``: the database's URL, or an SQLAlchemy engine to reuse (its cache of compiled
    statements then serves every transaction: nbgrader's queries are compiled once per run, not
    once per submission)."""
    import nbgrader.api as api
    from sqlalchemy import create_engine
    from sqlalchemy.engine import Connection

    class Shared(Connection):
        def dispose(self) -> None:  # Gradebook.close() disposes its engine: here, the shared one stays
            pass

    owned = isinstance(db, str)
    engine = create_engine(db, future=True) if owned else db
    try:
        with engine.connect() as conn:
            transaction = conn.begin()
            conn.__class__ = Shared
            original = api.create_engine
            api.create_engine = lambda *a, **k: conn
            try:
                yield conn
            except BaseException:
                transaction.rollback()
                raise
            else:
                transaction.commit()
            finally:
                api.create_engine = original
                conn.__class__ = Connection
    finally:
        if owned:
            engine.dispose()


def _ensure_table(db_url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url, future=True)
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (assignment TEXT NOT NULL, student TEXT NOT NULL, "
                "digest TEXT NOT NULL, flags TEXT NOT NULL, status TEXT NOT NULL, reason TEXT NOT NULL, "
                "seconds REAL NOT NULL, worker TEXT NOT NULL, graded_at TEXT NOT NULL, "
                "PRIMARY KEY (assignment, student))"
            )
        )
    engine.dispose()


@dataclass(frozen=True)
class Submission:
    student: str
    notebooks: dict[str, Path]  # notebook id -> the submitted file
    digest: str


class Course:
    """The course directory as nbgrader sees it (its own app, configured as ``nbgrader
    autograde NAME`` is), and the one writer of its gradebook."""

    def __init__(self, name: str, logfile: Path) -> None:
        from nbgrader.apps import AutogradeApp

        self.name = name
        self.app = AutogradeApp()
        self.app.initialize([name, f"--CourseDirectory.root={Path.cwd()}"])
        self.app.coursedir.assignment_id = name
        self.logfile = logfile
        # nbgrader's log goes to the file, the bar to the screen. Every assignment's app logs to
        # one logger (named after its class): one handler, the same file, for all of them.
        file_handler = logging.FileHandler(logfile, encoding="utf-8")
        file_handler.setFormatter(logging.Formatter("[%(levelname)s %(asctime)s] %(message)s"))
        logging.captureWarnings(True)  # nbgrader's own SQLAlchemy warnings (stock autograde prints them too)
        for logger in (self.app.log, logging.getLogger("py.warnings")):
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
                handler.close()
            logger.addHandler(file_handler)
            logger.propagate = False
        self.app.log.setLevel(logging.INFO)
        self.coursedir = self.app.coursedir
        self.root = Path(self.coursedir.root).resolve()
        self.db_url = self.coursedir.db_url
        config = self.app.config
        grading = config.get("GradeCells", {})
        self.cell_seconds = float(grading.get("cell_seconds", 30.0))
        self.part_seconds = float(grading.get("part_seconds", 60.0))
        self.unsafe = bool(grading.get("unsafe_without_sandbox", False))
        self._engine: Any = None
        _validate_metadata_with_one_validator()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    @property
    def engine(self) -> Any:
        """The writer's one SQLAlchemy engine (one cache of compiled statements for the run)."""
        if self._engine is None:
            from sqlalchemy import create_engine

            self._engine = create_engine(self.db_url, future=True)
        return self._engine

    def check(self) -> str | None:
        """Why this course cannot be graded here, or ``None``."""
        from nbgrader.api import Gradebook, MissingEntry
        from nbgrader.converters import Autograde

        steps = Autograde(coursedir=self.coursedir, parent=self.app).autograde_preprocessors
        if not any(_is_grade_cells(pp) for pp in steps):
            return "this course's nbgrader_config.py does not grade with autograder.nbgrader_ext.GradeCells"
        with Gradebook(self.db_url, self.coursedir.course_id) as gb:
            try:
                self.notebook_ids = [nb.name for nb in gb.find_assignment(self.name).notebooks]
            except MissingEntry:
                return f"no assignment {self.name!r} in the gradebook: run `nbgrader generate_assignment {self.name}` first"
        return None

    def submissions(self) -> list[Submission]:
        """Every handed-in submission of the assignment (the gradebook's notebooks that are there)."""
        found = []
        pattern = self.coursedir.format_path(self.coursedir.submitted_directory, "*", glob.escape(self.name))
        excluded = set(filter(None, self.coursedir.student_id_exclude.split(",")))
        for folder in sorted(map(Path, glob.glob(pattern))):
            student = folder.parent.name
            if student in excluded or not folder.is_dir():
                continue
            notebooks = {n: folder / f"{n}.ipynb" for n in self.notebook_ids if (folder / f"{n}.ipynb").is_file()}
            digest = hashlib.sha256()
            for notebook, path in sorted(notebooks.items()):
                digest.update(f"{notebook}\0".encode() + path.read_bytes() + b"\0")
            stamp = folder / "timestamp.txt"  # where nbgrader reads the submission time
            digest.update(b"timestamp\0" + (stamp.read_bytes() if stamp.is_file() else b""))
            found.append(Submission(student, notebooks, digest.hexdigest()))
        return found

    def done(self) -> dict[str, str]:
        """student -> digest of what was graded completely (in the gradebook, autograded
        notebooks in place)."""
        from nbgrader.api import Gradebook
        from sqlalchemy import create_engine, text

        with Gradebook(self.db_url, self.coursedir.course_id) as gb:
            in_gradebook = {s.student.id for s in gb.assignment_submissions(self.name)}
        engine = create_engine(self.db_url, future=True)
        with engine.connect() as conn:
            rows = conn.execute(
                text(f"SELECT student, digest FROM {TABLE} WHERE assignment = :a"), {"a": self.name}
            ).fetchall()
        engine.dispose()
        done = {}
        for student, digest in rows:
            autograded = Path(self.coursedir.format_path(self.coursedir.autograded_directory, student, self.name))
            if student in in_gradebook and all((autograded / f"{n}.ipynb").is_file() for n in self.notebook_ids):
                done[student] = digest
        return done

    def write(self, submission: Submission, graded: Graded) -> None:
        """Write one graded submission, in one transaction: nbgrader's autograde pipeline with
        the worker's reports in place of GradeCells, then this module's record."""
        from nbgrader.converters import Autograde
        from nbgrader.converters.base import NbGraderException
        from sqlalchemy import text

        from autograder.nbgrader_ext import ApplyReport

        with one_transaction(self.engine) as conn:
            self.coursedir.student_id = glob.escape(submission.student)
            converter = Autograde(coursedir=self.coursedir, parent=self.app)
            converter.force = True  # a resubmission, or a grading that never completed: replaced
            converter.autograde_preprocessors = [
                ApplyReport(graded.reports, parent=converter) if _is_grade_cells(pp) else pp
                for pp in converter.autograde_preprocessors
            ]
            try:
                converter.start()
            except NbGraderException as e:
                raise RuntimeError(f"nbgrader could not write it ({e}; see {self.logfile})") from None
            reports = list(graded.reports.values())
            flags = sorted({f for r in reports for f in r.flags})
            unread = [r.notes[0] for r in reports if r.notes and r.notes[0].startswith("not graded")]
            conn.execute(
                text(
                    f"INSERT OR REPLACE INTO {TABLE} VALUES "
                    "(:assignment, :student, :digest, :flags, :status, :reason, :seconds, :worker, :at)"
                ),
                {
                    "assignment": self.name,
                    "student": submission.student,
                    "digest": submission.digest,
                    "flags": json.dumps(flags),
                    "status": "not graded" if unread else "graded",
                    "reason": "; ".join(unread),
                    "seconds": graded.seconds,
                    "worker": graded.worker,
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )
        self.coursedir.student_id = "*"

    def rows(self) -> list[dict[str, Any]]:
        """Every graded submission of the assignment, as the CSV has it."""
        from nbgrader.api import Gradebook
        from sqlalchemy import create_engine, text

        engine = create_engine(self.db_url, future=True)
        with engine.connect() as conn:
            ours = {
                r[0]: r
                for r in conn.execute(
                    text(f"SELECT student, flags, status, reason, graded_at FROM {TABLE} WHERE assignment = :a"),
                    {"a": self.name},
                )
            }
        engine.dispose()
        out = []
        with Gradebook(self.db_url, self.coursedir.course_id) as gb:
            for sub in sorted(gb.assignment_submissions(self.name), key=lambda s: s.student.id):
                grades = [g for nb in sub.notebooks for g in nb.grades]
                student = sub.student.id
                _, flags, status, reason, graded_at = ours.get(student, (student, "[]", "", "", ""))
                out.append(
                    {
                        "student": student,
                        "score": round(sub.score, 6),
                        "max_score": round(sub.max_score, 6),
                        "auto_score": round(sum(g.auto_score or 0.0 for g in grades), 6),
                        "late_penalty": round(sub.late_submission_penalty or 0.0, 6),
                        "needs_manual_grade": bool(sub.needs_manual_grade),
                        "flags": " ".join(json.loads(flags)),
                        "status": status or "graded by nbgrader autograde",
                        "reason": reason,
                        "timestamp": sub.timestamp.isoformat() if sub.timestamp else "",
                        "graded_at": graded_at,
                    }
                )
        return out


def _validate_metadata_with_one_validator() -> None:
    """nbgrader validates each cell's metadata with ``jsonschema.validate(meta, schema)``, which
    checks the schema itself against the JSON Schema meta-schema first, for every cell: 90 % of
    the validation's time, a tenth of the writer's. Here one validator per schema, checked once,
    raises the same error (jsonschema's ``best_match``) for the same metadata."""
    import types

    import jsonschema
    from nbgrader.nbgraderformat import common

    if getattr(common.jsonschema, "lossprep", False):
        return
    validators: dict[int, tuple[dict[str, Any], Any]] = {}  # id(schema) -> (the schema, kept alive; its validator)

    def validate(instance: Any, schema: dict[str, Any]) -> None:
        _, validator = validators.get(id(schema), (None, None))
        if validator is None:
            cls = jsonschema.validators.validator_for(schema)
            cls.check_schema(schema)
            validator = cls(schema)
            validators[id(schema)] = (schema, validator)
        error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error

    common.jsonschema = types.SimpleNamespace(validate=validate, lossprep=True)


def _is_grade_cells(pp: Any) -> bool:
    name = pp if isinstance(pp, str) else getattr(pp, "__name__", type(pp).__name__)
    return name.rpartition(".")[2] == "GradeCells"


# ---------------------------------------------------------------- the command


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "assignment",
        nargs="+",
        help='the assignments to grade: names or globs ("*": all of them, as for nbgrader autograde)',
    )
    parser.add_argument(
        "--jobs", type=int, default=None, help="worker processes on this machine (default: one per core)"
    )
    parser.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="grade on the workers of this Dask cluster instead (each needs the course and bubblewrap)",
    )
    parser.add_argument(
        "--force", action="store_true", help="grade every submission again, even those graded completely before"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds for each cell and for each part's hidden tests (default: nbgrader_config.py's GradeCells)",
    )
    parser.add_argument(
        "--csv", type=Path, default=None, help="where to write the grades (default: grades-ASSIGNMENT.csv)"
    )
    parser.add_argument(
        "--unsafe-without-sandbox",
        action="store_true",
        help=(
            "grade where bubblewrap is missing or not permitted (resource limits only). UNSAFE: the "
            "submissions' code can then read the hidden tests, the solutions and the gradebook"
        ),
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar (the summary still prints)")


def _fail(message: str) -> int:
    print(f"lossprep grade: {message}".splitlines()[0], file=sys.stderr)
    return 2


def assignments_of(patterns: list[str]) -> list[str]:
    """The assignments the command names, in the course's order: names or globs (``"*"``: all,
    as for ``nbgrader autograde``). ``ValueError`` names a pattern that matches none."""
    import fnmatch

    from autograder import assignment

    known = assignment.names()
    chosen: set[str] = set()
    for pattern in patterns:
        matched = fnmatch.filter(known, pattern)
        if not matched:
            raise ValueError(f"no assignment {pattern!r} (the course has {', '.join(known)})")
        chosen.update(matched)
    return [n for n in known if n in chosen]


def run(args: argparse.Namespace) -> int:
    patterns = args.assignment if isinstance(args.assignment, list) else [args.assignment]
    if args.jobs is not None and args.jobs < 1:
        return _fail(f"--jobs must be at least 1, got {args.jobs}")
    if not Path("nbgrader_config.py").is_file():
        return _fail("no nbgrader_config.py here: run it from the course directory")
    try:
        names = assignments_of(patterns)
    except ValueError as e:
        return _fail(str(e))
    args.explicit = set(patterns)  # named, not only matched by a glob: a problem with it is an error
    if args.csv is not None and len(names) > 1:
        return _fail(f"--csv names one file: grade one assignment with it, not {len(names)}")
    started = time.monotonic()
    # The local workers start first: each one's sandbox boots (torch, ~3 s) while this process
    # reads the course (nbgrader, ~1 s); on an early return they are stopped.
    local = None if args.scheduler else _Local(args.jobs or os.cpu_count() or 1, prestart=True)
    try:
        return _run(args, names, local, started)
    finally:
        if local is not None:
            local.close(cancel=True)  # a no-op after a normal end, which shut it down already


@dataclass
class _Plan:
    """One assignment of the command: its course, what to grade, what was skipped."""

    course: Course
    todo: list[Submission]
    skipped: int
    csv_path: Path
    results: list[Graded] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (student, why it was not written)


def _run(args: argparse.Namespace, names: list[str], local: _Local | None, started: float) -> int:
    from autograder.nbgrader_ext import protected_paths
    from autograder.sandbox import Limits, SandboxUnavailable, find_sandbox

    logfile = Path(f"grades-{'+'.join(names)}.log").resolve()  # nbgrader forbids + in assignment names
    plans: dict[str, _Plan] = {}
    tasks: list[Task] = []
    for name in names:
        try:
            course = Course(name, logfile)
            problem = course.check()
        except Exception as e:  # nbgrader's configuration or database: one line, no traceback
            return _fail(f"cannot open the course: {type(e).__name__}: {e}")
        if problem:
            if name in args.explicit:
                return _fail(problem)
            continue  # "*" means the assignments handed out and handed in, as for nbgrader autograde
        unsafe = args.unsafe_without_sandbox or course.unsafe
        if not args.scheduler:  # on a cluster the workers check for themselves
            try:
                find_sandbox(require=not unsafe)
            except SandboxUnavailable as e:
                return _fail(
                    f"{e}: batch grading runs only in the sandbox. Install bubblewrap, or accept the risk with "
                    "--unsafe-without-sandbox"
                )
        seconds = (course.cell_seconds, course.part_seconds) if args.timeout is None else (args.timeout,) * 2
        limits = Limits(cell_seconds=seconds[0], part_seconds=seconds[1])
        protected = tuple(str(p) for p in protected_paths(course.coursedir))
        _ensure_table(course.db_url)
        submissions = course.submissions()
        if not submissions:
            if name in args.explicit:
                return _fail(f"no submission of {name} in {course.coursedir.submitted_directory}/*/{name}/")
            continue
        done = {} if args.force else course.done()
        todo = [s for s in submissions if done.get(s.student) != s.digest]
        plans[name] = _Plan(course, todo, len(submissions) - len(todo), args.csv or Path(f"grades-{name}.csv"))
        tasks += [
            Task(s.student, name, {n: p.read_bytes() for n, p in s.notebooks.items()}, limits, protected, unsafe)
            for s in todo
        ]

    if not plans:
        return _fail(f"no submission of {' or '.join(map(repr, sorted(args.explicit)))} to grade in this course")
    try:
        pool: _Local | _Dask = local or _Dask(args.scheduler)
    except Exception as e:
        return _fail(f"cannot reach the workers: {type(e).__name__}: {e}")
    queue = iter(tasks)
    by_key = {(name, s.student): s for name, plan in plans.items() for s in plan.todo}
    if args.scheduler:
        started = time.monotonic()
    bar = _progress(len(tasks), ", ".join(names), disabled=args.no_progress)
    interrupted = stopped = None
    pending: set[Any] = set()
    owner: dict[Any, tuple[str, str]] = {}  # future -> (assignment, student)
    writing = 0.0  # seconds spent writing the gradebook

    def submit(task: Task) -> None:
        future = pool.submit(task)
        owner[future] = (task.assignment, task.student)
        pending.add(future)

    def graded_so_far() -> tuple[list[Graded], list[tuple[str, str]]]:
        return [g for p in plans.values() for g in p.results], [x for p in plans.values() for x in p.problems]

    try:
        for task in _take(queue, 2 * pool.jobs):
            submit(task)
        while pending:
            done_now, pending = pool.wait(pending)
            for future in done_now:
                name, student = owner.pop(future)
                plan = plans[name]
                try:
                    graded: Graded = future.result()
                except BrokenProcessPool as e:  # a worker process died (killed from outside, out of memory)
                    stopped = f"a worker process died ({e})"
                    break
                except Exception as e:  # a Dask worker lost, ...: this submission only
                    plan.problems.append((student, f"its worker failed: {type(e).__name__}: {e}"))
                    bar.update(1)
                    continue
                if graded.error:  # the sandbox did not start: every other submission would fail the same way
                    stopped = graded.error
                    break
                before = time.monotonic()
                try:
                    plan.course.write(by_key[(name, student)], graded)
                    plan.results.append(graded)
                except Exception as e:
                    plan.problems.append((student, f"{type(e).__name__}: {e}"))
                writing += time.monotonic() - before
                bar.update(1)
                minutes = (time.monotonic() - started) / 60
                results, problems = graded_so_far()
                bar.set_postfix_str(
                    f"{len(results) / max(minutes, 1e-9):.0f}/min, {_failures(results, problems)} failed", refresh=False
                )
                for task in _take(queue, 1):
                    submit(task)
            if stopped:
                break
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
        # nothing to grade: no need to wait for the workers' start
        pool.close(cancel=bool(interrupted or stopped or not tasks))
    elapsed = time.monotonic() - started
    results, problems = graded_so_far()
    where = f"{pool.where}; writing the gradebook {writing:.1f} s"
    out = []
    if len(plans) > 1:
        rate = len(results) / (elapsed / 60) if elapsed > 0 and results else 0.0
        out.append(
            f"{len(plans)} assignments: graded {len(results)} submission{'s' if len(results) != 1 else ''} in "
            f"{elapsed:.1f} s ({rate:.1f} per minute, {where}); "
            f"{sum(p.skipped for p in plans.values())} already graded, skipped"
        )
    for name, plan in plans.items():
        plan.course.close()
        rows = plan.course.rows()
        _write_csv(plan.csv_path, rows)
        timing = (elapsed, where) if len(plans) == 1 else None
        out.append(_summary(name, plan.results, plan.problems, rows, plan.skipped, timing, plan.course, plan.csv_path))
    try:
        print("\n\n".join(out), flush=True)
    except BrokenPipeError:  # `lossprep grade NAME | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    left = len(tasks) - len(results) - len(problems)
    if interrupted or stopped:
        why = "interrupted" if interrupted else f"stopped: {stopped}"
        print(
            f"lossprep grade: {why}; {len(results)} graded and saved, {left} left: run the same command again",
            file=sys.stderr,
        )
        return 130 if interrupted else 1
    return 1 if problems else 0


def _take(iterator: Iterator[Task], n: int) -> list[Task]:
    out = []
    for _ in range(n):
        try:
            out.append(next(iterator))
        except StopIteration:
            break
    return out


def _failures(results: list[Graded], problems: list[tuple[str, str]]) -> int:
    """Submissions not graded: not a notebook of this assignment, or not written."""
    unread = sum(any(r.notes and r.notes[0].startswith("not graded") for r in g.reports.values()) for g in results)
    return unread + len(problems)


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def _progress(total: int, name: str, *, disabled: bool) -> Any:
    if disabled or total == 0:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=f"grading {name}", unit="submission", file=sys.stderr, dynamic_ncols=True)


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    import csv

    columns = [
        "student",
        "score",
        "max_score",
        "auto_score",
        "late_penalty",
        "needs_manual_grade",
        "flags",
        "status",
        "reason",
        "timestamp",
        "graded_at",
    ]
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def _summary(
    name: str,
    results: list[Graded],
    problems: list[tuple[str, str]],
    rows: list[dict[str, Any]],
    skipped: int,
    timing: tuple[float, str] | None,
    course: Course,
    csv_path: Path,
) -> str:
    graded = f"{name}: graded {len(results)} submission{'s' if len(results) != 1 else ''}"
    if timing is not None:  # one assignment: its time (several: the command's, said once above)
        elapsed, where = timing
        rate = len(results) / (elapsed / 60) if elapsed > 0 and results else 0.0
        graded += f" in {elapsed:.1f} s ({rate:.1f} per minute, {where})"
    lines = [f"{graded}; {skipped} already graded, skipped"]
    reports = [(g.student, r) for g in results for r in g.reports.values()]
    if reports:
        scores = [r.score for _, r in reports]
        top = reports[0][1].max_score
        lines.append(
            f"automatic scores: mean {statistics.mean(scores):.2f} / {top:g}, median {statistics.median(scores):g}; "
            f"full marks {sum(s >= top - 1e-9 for s in scores)}, zero {sum(s == 0 for s in scores)}"
        )
        sandboxes = Counter(r.sandbox for _, r in reports)
        if "none" in sandboxes:
            lines.append(f"WITHOUT the sandbox: {sandboxes['none']} submission(s) ran unisolated (unsafe mode)")
    flags = Counter(f for _, r in reports for f in r.flags)
    lines.append("flags: " + (", ".join(f"{f} {n}" for f, n in sorted(flags.items())) or "none"))
    look = [(s, "; ".join(r.lines()[:3])) for s, r in reports if r.flags or _unread(r)]
    look += [(s, f"not written: {why}") for s, why in problems]
    if look:
        lines.append(f"need a human look ({len(look)}):")
        lines += [f"  {s}: {why[:200]}" for s, why in sorted(look)]
    pending = sum(r["needs_manual_grade"] for r in rows)
    if pending:
        lines.append(f"{pending} submission(s) wait for hand grading of the written answers: nbgrader formgrade")
    lines.append(f"grades: {csv_path} ({len(rows)} submissions); nbgrader's log: {course.logfile}")
    return "\n".join(lines)


def _unread(report: Any) -> bool:
    return bool(report.notes) and report.notes[0].startswith("not graded")
