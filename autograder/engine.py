"""The grading engine: one chain of small steps over one :class:`Assignment`, used by
``lossprep check`` and by ``nbgrader autograde`` (``autograder.nbgrader_ext``).

    read       the file or bytes -> a notebook (CheckError for what is not one)
    identify   which assignment, from the grade ids (``NAME-KIND-PART``)
    restore    the cells to run: locked cells as released (edits and deletions noted), the
               student's cells as written; test and demo cells do not run
    run        in the sandbox (``autograder.sandbox``): the cells, then each part's hidden calls,
               each with its own time limit; a crash or a kill skips the cell or part to blame
               and runs the rest again
    judge      every value in this process, against the reference; messages per part
    report     scores, the notes a student reads, and the flags, decided in one place
               (:data:`FLAG_OF`) from typed incidents

Nothing the student's process says is trusted: it only sends values (plain tensors, numbers,
strings) and observations, which are checked here.
"""

from __future__ import annotations

import difflib
import enum
import json
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from autograder import ROOT, assignment
from autograder.assignment import Assignment, Cell, grade_id, source_text
from autograder.sandbox import Attempt, End, Limits, Sandbox, find_sandbox
from autograder.spec import Call, Kind, Outcome, Verdict

__all__ = [
    "CheckError",
    "GradingError",
    "Flag",
    "Incident",
    "FLAG_OF",
    "TestResult",
    "CellRun",
    "Report",
    "read",
    "identify",
    "which",
    "restore",
    "run",
    "run_in",
    "judge",
    "notes",
    "grade",
    "ungraded",
]

MAX_ATTEMPTS = 4  # a crash or a kill in a cell or part: run again without it, up to this many runs
FORBIDDEN = ("autograder",)  # packages the student's code may not import
# What the student's code must not read (the sandbox does not mount them; the audit hook reports
# attempts): the grading package, the solutions, nbgrader's gradebook and folders, git.
PROTECTED = ("autograder", "solutions", "gradebook.db", "submitted", "autograded", "feedback", "release", ".git")


class CheckError(Exception):
    """The file cannot be graded: missing, not a notebook, not one of ours."""


class GradingError(Exception):
    """Grading itself failed (the sandbox did not start): not the submission's fault."""


class Flag(enum.StrEnum):
    """What a submission tried or suffered, as the report lists it."""

    TAMPERED = "tampered"
    FORBIDDEN_IMPORT = "forbidden-import"
    SANDBOX_DENIED = "sandbox-denied"
    NETWORK = "network"
    MEMORY = "memory"
    TIMEOUT = "timeout"
    KILLED = "killed"
    OUTPUT_LIMIT = "output-limit"


class Incident(enum.Enum):
    """What happened, typed: seen by the engine (restore, how the child ended) or reported by
    the sandboxed child (the values of ``autograder.runner.INCIDENTS``)."""

    EDITED_CELL = "edited-cell"
    DELETED_CELL = "deleted-cell"
    MONKEYPATCH = "monkeypatch"
    TENSOR_SUBCLASS = "tensor-subclass"
    BROKEN_PROTOCOL = "broken-protocol"
    FORBIDDEN_IMPORT = "forbidden-import"
    DENIED_READ = "denied-read"
    DENIED_WRITE = "denied-write"
    NETWORK = "network"
    MEMORY = "memory"
    TIMEOUT = "timeout"
    KILLED_AFTER_TIMEOUT = "killed-after-timeout"
    OUTPUT_LIMIT = "output-limit"
    FLOODED = "flooded"
    PROCESSES = "processes"
    CRASHED = "crashed"
    EXITED = "exited"


# The one place where flags are decided.
FLAG_OF: dict[Incident, Flag] = {
    Incident.EDITED_CELL: Flag.TAMPERED,
    Incident.DELETED_CELL: Flag.TAMPERED,
    Incident.MONKEYPATCH: Flag.TAMPERED,
    Incident.TENSOR_SUBCLASS: Flag.TAMPERED,
    Incident.BROKEN_PROTOCOL: Flag.TAMPERED,
    Incident.FORBIDDEN_IMPORT: Flag.FORBIDDEN_IMPORT,
    Incident.DENIED_READ: Flag.SANDBOX_DENIED,
    Incident.DENIED_WRITE: Flag.SANDBOX_DENIED,
    Incident.NETWORK: Flag.NETWORK,
    Incident.MEMORY: Flag.MEMORY,
    Incident.TIMEOUT: Flag.TIMEOUT,
    Incident.KILLED_AFTER_TIMEOUT: Flag.TIMEOUT,
    Incident.OUTPUT_LIMIT: Flag.OUTPUT_LIMIT,
    Incident.FLOODED: Flag.OUTPUT_LIMIT,
    Incident.PROCESSES: Flag.KILLED,
    Incident.CRASHED: Flag.KILLED,
    Incident.EXITED: Flag.KILLED,
}

# How the child ended -> the incident it is (a finished child is none; a child that never
# started is the grader's failure, not the submission's).
INCIDENT_OF_END = {
    End.TIMEOUT: Incident.KILLED_AFTER_TIMEOUT,
    End.OUTPUT: Incident.FLOODED,
    End.BROKEN: Incident.BROKEN_PROTOCOL,
    End.SIGNALED: Incident.CRASHED,
    End.EXITED: Incident.EXITED,
}


@dataclass(frozen=True)
class Event:
    """One incident: what, where (a cell's name, ``part GRADE_ID`` or empty) and the detail."""

    incident: Incident
    where: str
    detail: str

    @property
    def flag(self) -> Flag:
        return FLAG_OF[self.incident]

    def line(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"{where}{_SAYS[self.incident]}{f' ({self.detail})' if self.detail else ''}"


_SAYS = {
    Incident.EDITED_CELL: "was edited; the original ran instead (edits to locked and test cells do not count)",
    Incident.DELETED_CELL: "was missing; the original was put back",
    Incident.MONKEYPATCH: "replaced functions of torch, numpy, builtins or the grader; they were put back",
    Incident.TENSOR_SUBCLASS: "returned a tensor subclass; only plain tensors are accepted",
    Incident.BROKEN_PROTOCOL: "wrote into the grader's channel; the run was stopped",
    Incident.FORBIDDEN_IMPORT: "tried to import the grading package",
    Incident.DENIED_READ: "tried to read the grader's files; the sandbox refused",
    Incident.DENIED_WRITE: "tried to write outside its scratch folder; the sandbox refused",
    Incident.NETWORK: "tried to use the network; the sandbox has none",
    Incident.MEMORY: "ran out of memory",
    Incident.TIMEOUT: "ran past its time limit and was stopped",
    Incident.KILLED_AFTER_TIMEOUT: "ran past its time limit, would not stop, and was killed",
    Incident.OUTPUT_LIMIT: "printed more than the output limit; the rest was dropped",
    Incident.FLOODED: "wrote more than the output limit to the process's own output and was killed",
    Incident.PROCESSES: "left processes running; they were stopped",
    Incident.CRASHED: "crashed the Python process",
    Incident.EXITED: "ended the Python process",
}


# What the remaining tests of a part say when the child ended while they ran.
_PART_STOPPED = {
    Incident.CRASHED: "the Python process crashed while these tests ran",
    Incident.EXITED: "the Python process ended while these tests ran",
    Incident.KILLED_AFTER_TIMEOUT: "these tests ran past the part's time limit and would not stop",
    Incident.FLOODED: "these tests wrote more than the output limit",
    Incident.BROKEN_PROTOCOL: "the grader's channel was written into while these tests ran",
}


@dataclass(frozen=True)
class TestResult:
    """One line of a grade: the contract's ``{"id", "score", "max_score", "message"}``."""

    id: str
    score: float
    max_score: float
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "score": round(self.score, 6),
            "max_score": round(self.max_score, 6),
            "message": self.message,
        }


@dataclass
class CellRun:
    """How one of the submission's cells ran: ``status`` is ok, error, timeout or skipped."""

    index: int
    grade_id: str | None
    status: str
    error: str | None = None
    output: str = ""


@dataclass
class Report:
    """A grade. ``to_dict`` is what ``lossprep check --json`` prints; ``parts`` (grade id ->
    points earned) and ``cells`` (submission cell index -> how it ran) are what nbgrader gets."""

    assignment: str
    tests: list[TestResult]
    events: list[Event] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    manual_points: float = 0.0
    parts: dict[str, float] = field(default_factory=dict)
    part_tests: dict[str, list[TestResult]] = field(default_factory=dict)
    cells: dict[int, CellRun] = field(default_factory=dict)
    sandbox: str = "bubblewrap"

    @property
    def flags(self) -> list[str]:
        """The flags of every incident, each once, in :class:`Flag`'s order."""
        seen = {e.flag for e in self.events}
        return [f.value for f in Flag if f in seen]

    @property
    def score(self) -> float:
        return round(sum(self.parts.values()), 6)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 6)

    def lines(self) -> list[str]:
        """What the student reads besides the tests: the notes, then one line per incident."""
        return self.notes + [e.line() for e in self.events]

    def to_dict(self) -> dict[str, Any]:
        return {
            "assignment": self.assignment,
            "score": self.score,
            "max_score": self.max_score,
            "tests": [t.to_dict() for t in self.tests],
            "flags": self.flags,
            "notes": self.lines(),
        }

    def headline(self) -> str:
        """The table's first line: what the score counts."""
        return f"{self.assignment}: {self.score:g} / {self.max_score:g} points on the automatic tests"

    def table(self) -> str:
        width = max([len(t.id) for t in self.tests] + [10])
        out = [self.headline()]
        for t in self.tests:
            mark = "PASS" if t.score >= t.max_score - 1e-9 else "FAIL"
            message = "" if t.message == "ok" else t.message
            out.append(f"  {mark}  {t.id:<{width}}  {t.score:>5.3g} / {t.max_score:<5.3g} {message}".rstrip())
        if self.manual_points:
            out.append(f"The written answers ({self.manual_points:g} points) are graded by hand.")
        out += [f"note: {line}" for line in self.lines()]
        if self.flags:
            out.append("flags: " + ", ".join(self.flags))
        return "\n".join(out)


# ---------------------------------------------------------------- read, identify, restore


def read(source: Path | bytes) -> dict[str, Any]:
    """The notebook in ``source`` (a path or the file's bytes) as JSON; :class:`CheckError`
    with one line of reason for anything that is not a Jupyter notebook."""
    if isinstance(source, Path):
        if not source.exists():
            raise CheckError(f"no such file: {source}")
        if not source.is_file():
            raise CheckError(f"not a file: {source}")
        data = source.read_bytes()
    else:
        data = source
    if not data.strip():
        raise CheckError("not a Jupyter notebook: the file is empty")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CheckError("not a Jupyter notebook: the file is not UTF-8 text") from None
    try:
        nb = json.loads(text)
    except json.JSONDecodeError as e:
        raise CheckError(f"not a Jupyter notebook: invalid or truncated JSON (line {e.lineno})") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list) or nb.get("nbformat") != 4 or not all(isinstance(c, dict) for c in cells):
        raise CheckError("not a Jupyter notebook: no list of cells in nbformat 4")
    for cell in cells:
        if cell.get("cell_type") not in ("code", "markdown", "raw") or not isinstance(
            cell.get("source", ""), str | list
        ):
            raise CheckError("not a Jupyter notebook: a cell without a type or source")
    return nb


def identify(nb: dict[str, Any]) -> Assignment:
    """The assignment whose grade ids the notebook carries (:class:`CheckError` if none or two)."""
    return assignment.load(which(nb, assignment.names()))


def which(nb: dict[str, Any], known: Iterable[str]) -> str:
    """The one name of ``known`` whose grade ids the notebook carries (:class:`CheckError` if
    none or two)."""
    known = tuple(known)
    found = sorted({(grade_id(c) or "").partition("-")[0] for c in nb["cells"]} & set(known))
    if not found:
        raise CheckError(f"not one of the course's exercise notebooks (no grade ids of {', '.join(known)})")
    if len(found) > 1:
        raise CheckError(f"the notebook mixes cells of several exercises ({', '.join(found)})")
    return found[0]


@dataclass(frozen=True)
class RunCell:
    """A cell to run: its index in the submission (``-1`` for a cell put back), its grade id."""

    index: int
    grade_id: str | None
    source: str


@dataclass
class Restored:
    cells: list[RunCell]
    events: list[Event]
    present: set[str]  # grade ids found in the submission


def restore(nb: dict[str, Any], a: Assignment, *, visible: bool = False) -> Restored:
    """The cells to run, in the submission's order: locked code cells as released (edits noted),
    the student's code cells as written; locked code cells that are missing are put back (noted):
    setup cells at the front, test and demo cells at the end. Test, demo and markdown cells do
    not run, unless ``visible`` (the student edition's check runs the visible test cells)."""

    def runs(c: Cell) -> bool:
        return c.runs or (visible and c.cell_type == "code")

    cells: list[RunCell] = []
    events: list[Event] = []
    seen: set[str] = set()
    for i, cell in enumerate(nb["cells"]):
        gid = grade_id(cell)
        original = a.locked.get(gid or "")
        if original is not None and gid not in seen:
            seen.add(original.grade_id)
            text = source_text(cell)
            if cell.get("cell_type") != original.cell_type or text not in (original.released, original.source):
                events.append(Event(Incident.EDITED_CELL, f"cell {gid}", ""))
            if runs(original):
                cells.append(RunCell(i, gid, original.released))
        elif cell.get("cell_type") == "code" and original is None:
            cells.append(RunCell(i, gid, source_text(cell)))
    missing = [c for gid, c in a.locked.items() if gid not in seen and c.cell_type == "code"]
    events += [Event(Incident.DELETED_CELL, f"cell {c.grade_id}", "") for c in missing]
    back = [RunCell(-1 - k, c.grade_id, c.released) for k, c in enumerate(missing) if runs(c)]
    first = [c for c in back if a.locked[c.grade_id or ""].runs]
    last = [c for c in back if c not in first]
    return Restored(first + cells + last, events, {g for g in map(grade_id, nb["cells"]) if g})


# ---------------------------------------------------------------- run


@dataclass
class Observed:
    """What the runs of the child gave: per cell, per part, the incidents, the function names."""

    cells: dict[int, CellRun] = field(default_factory=dict)
    outcomes: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    stopped: dict[str, str] = field(default_factory=dict)  # part -> why its remaining tests did not run
    events: list[Event] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    calls: dict[str, dict[str, list[Call]]] = field(default_factory=dict)


def _settings(extra_protected: Iterable[Path]) -> dict[str, Any]:
    protected = [str(ROOT / p) for p in PROTECTED] + [str(Path(p).resolve()) for p in extra_protected]
    return {"protected": protected, "forbidden": list(FORBIDDEN), "threads": 1}


def run(
    restored: Restored,
    a: Assignment,
    sandbox: Sandbox,
    limits: Limits,
    scratch: Path,
    *,
    only: Iterable[str] | None = None,
    protected: Iterable[Path] = (),
) -> Observed:
    """Run the cells, then the hidden calls of each part (``only``: these parts), in the
    sandbox. When the child crashes, exits or is killed in a cell, that cell is skipped and
    the notebook runs again; in a part, that part scores what it had and the others run again."""
    by_index = {c.index: c for c in restored.cells}
    names = {c.index: _cell_name(c) for c in restored.cells}
    wanted = [p.grade_id for p in a.parts if only is None or p.grade_id in set(only)]
    seen = Observed()
    skip: set[int] = set()
    settings = _settings(protected)
    why = f"not run: the notebook crashed {MAX_ATTEMPTS} times"

    def parts() -> list[dict[str, Any]]:
        for gid in wanted:
            if gid not in seen.calls:
                seen.calls[gid] = a.calls(gid)
        return [
            {
                "id": gid,
                "seconds": limits.part_seconds,
                "calls": {t: [c.to_dict() for c in cs] for t, cs in seen.calls[gid].items()},
            }
            for gid in wanted
            if gid not in seen.outcomes and gid not in seen.stopped
        ]

    for number in range(MAX_ATTEMPTS):
        job = {
            "cells": [
                {"index": c.index, "source": c.source, "seconds": limits.cell_seconds}
                for c in restored.cells
                if c.index not in skip
            ],
            "settings": settings,
        }
        folder = scratch / f"run-{number}"
        folder.mkdir(parents=True, exist_ok=True)
        attempt = sandbox.run(job, parts, limits, folder)
        _absorb(seen, attempt, names, by_index)
        if attempt.end is End.FINISHED:
            break
        if attempt.end is End.STARTUP:
            raise GradingError(f"the sandbox did not start: {attempt.stream_head.strip()[-300:] or 'no output'}")
        incident = INCIDENT_OF_END[attempt.end]
        where = _where(attempt.during, names)
        detail = _end_detail(attempt, limits)
        seen.events.append(Event(incident, where, detail))
        if attempt.during and attempt.during.startswith("cell "):
            index = int(attempt.during.split()[1])
            skip.add(index)
            seen.cells[index] = CellRun(index, by_index[index].grade_id, "skipped", f"{_SAYS[incident]} ({detail})")
        elif attempt.during and attempt.during.startswith("part "):
            seen.stopped[attempt.during.split()[1]] = f"not run: {_PART_STOPPED[incident]} ({detail})"
        else:  # it ended between two steps: nothing to leave out, nothing more to learn
            why = f"not run: the Python process ended before these tests ({detail})"
            break
        if not parts():
            break
    for gid in wanted:
        if gid not in seen.outcomes and gid not in seen.stopped:
            seen.stopped[gid] = why
    return seen


def _cell_name(c: RunCell) -> str:
    return f"cell {c.grade_id}" if c.grade_id else f"your cell #{c.index + 1}"


def _where(during: str | None, names: dict[int, str]) -> str:
    if during is None:
        return ""
    kind, _, what = during.partition(" ")
    return names.get(int(what), during) if kind == "cell" else f"the hidden tests of {what}"


def _end_detail(attempt: Attempt, limits: Limits) -> str:
    if attempt.end is End.SIGNALED:
        import signal

        try:
            return f"signal {signal.Signals(attempt.code or 0).name}"
        except ValueError:
            return f"signal {attempt.code}"
    if attempt.end is End.EXITED:
        return f"exit status {attempt.code}"
    if attempt.end is End.TIMEOUT:
        return f"limit {limits.cell_seconds:g} s per cell, {limits.part_seconds:g} s per part"
    if attempt.end is End.OUTPUT:
        return f"limit {limits.stream_bytes >> 20} MB"
    return ""


def _absorb(seen: Observed, attempt: Attempt, names: dict[int, str], by_index: dict[int, RunCell]) -> None:
    """Take in one attempt's events, checking each as untrusted input."""
    for ev in attempt.events:
        try:
            kind = ev["event"]
            if kind == "cell":
                i = int(ev["index"])
                if i in by_index:
                    seen.cells[i] = CellRun(
                        i, by_index[i].grade_id, str(ev["status"]), _str(ev.get("error")), _str(ev.get("output")) or ""
                    )
            elif kind == "part" and ev["id"] in seen.calls and isinstance(ev["outcomes"], dict):
                seen.outcomes[ev["id"]] = ev["outcomes"]
                if ev.get("stopped"):
                    seen.stopped[ev["id"]] = (
                        f"not run: the part ran past its time limit, {_place(str(ev['stopped']), names)}"
                    )
            elif kind == "incident":
                where = _where(str(ev["where"]), names) if str(ev["where"]).startswith(("cell ", "part ")) else ""
                seen.events.append(Event(Incident(ev["kind"]), where, _place(_str(ev.get("detail")) or "", names)))
            elif kind == "names" and isinstance(ev["functions"], list):
                seen.functions = [str(f) for f in ev["functions"]]
        except (KeyError, TypeError, ValueError):
            seen.events.append(Event(Incident.BROKEN_PROTOCOL, "", "an event the grader cannot read"))
    seen.events = list(dict.fromkeys(seen.events))


def _str(v: Any) -> str | None:
    """A string the child sent, bounded and printable (lone surrogates replaced)."""
    return v[:2000].encode("utf-8", "replace").decode("utf-8") if isinstance(v, str) else None


def _place(stopped: str, names: dict[int, str]) -> str:
    """``"in f of cell 4"`` with the cell's name: ``"in f of cell NAME-sol-f"``."""
    head, sep, index = stopped.rpartition("cell ")
    if sep and index.isdigit() and int(index) in names:
        return head + names[int(index)]
    return stopped


# ---------------------------------------------------------------- judge


def judge(
    a: Assignment, restored: Restored, seen: Observed, only: Iterable[str] | None = None
) -> dict[str, list[TestResult]]:
    """Every test of every part (``only``: these parts), judged here; part -> its results."""
    from autograder.checks import explain  # torch: only where grading happens (the writer reads reports)

    results: dict[str, list[TestResult]] = {}
    for part in a.parts:
        if only is not None and part.grade_id not in set(only):
            continue
        calls = seen.calls.get(part.grade_id) or a.calls(part.grade_id)
        got = seen.outcomes.get(part.grade_id, {})
        verdicts = [
            _verdict(t, calls[t.id], got.get(t.id), seen.stopped.get(part.grade_id), a, restored, seen)
            for t in part.tests
        ]
        results[part.grade_id] = [
            TestResult(t.id, 0.0 if v else share, share, m)
            for t, share, v, m in zip(part.tests, part.shares(), verdicts, explain(verdicts), strict=True)
        ]
    return results


def _verdict(test, calls, outs, stopped, a, restored, seen) -> Verdict | None:  # type: ignore[no-untyped-def]
    if not isinstance(outs, list) or len(outs) != len(calls):
        return Verdict(Kind.NOT_RUN, stopped or "not run")
    if any(isinstance(o, dict) and o.get("error") == "monkeypatch" for o in outs):
        patched = next(o.get("patched") for o in outs if o.get("error") == "monkeypatch")
        return Verdict(
            Kind.TAMPERED, f"changed {', '.join(map(str, patched or []))} while running: monkeypatching does not count"
        )
    try:
        outcomes = [Outcome.from_dict(o) for o in outs]
        verdict = test.judge(calls, outcomes)
    except Exception as e:  # a value that breaks the judge is the student's failure, not a crash
        return Verdict(Kind.WRONG_TYPE, f"returns something that cannot be checked ({type(e).__name__})")
    if verdict is not None and verdict.kind is Kind.UNDEFINED:
        return Verdict(Kind.UNDEFINED, _undefined(calls[0].fn, a, restored, seen))
    return verdict


def _undefined(fn: str, a: Assignment, restored: Restored, seen: Observed) -> str:
    """Why ``fn`` is not defined, as far as the grader can tell."""
    gid = a.solution_cell(fn)
    base = f"{fn} is not defined"
    if gid is not None:
        if gid not in restored.present:
            return f"{base}: the notebook has no cell {gid} (deleted?)"
        run = next((r for r in seen.cells.values() if r.grade_id == gid), None)
        if run is not None and run.status == "error":
            return f"{base}: its cell {gid} raised {run.error}"
        if run is not None and run.status in ("timeout", "skipped"):
            return f"{base}: its cell {gid} was stopped ({run.error})"
    close = difflib.get_close_matches(fn, seen.functions, n=1, cutoff=0.6)
    return f"{base} (the notebook defines {close[0]}: renamed?)" if close else base


# ---------------------------------------------------------------- the chain


def grade(
    source: Path | bytes,
    *,
    sandbox: Sandbox | None = None,
    limits: Limits | None = None,
    scratch: Path | None = None,
    expect: str | None = None,
    only: Iterable[str] | None = None,
    protected: Iterable[Path] = (),
) -> Report:
    """Grade one notebook (a path or its bytes): read, identify, restore, run, judge, report.

    ``sandbox``: where the student's code runs (default: bubblewrap, else unsandboxed);
    ``scratch``: the folder the sandbox may write to (default: a temporary one);
    ``expect``: the assignment being graded (nbgrader) - another one's notebook scores 0;
    ``only``: grade these parts only; ``protected``: more paths the student's code must not read.
    Raises :class:`CheckError` for a file that is not a notebook of this course."""
    nb = read(source)
    a = identify(nb)
    if expect is not None and a.name != expect:
        return ungraded(assignment.load(expect), f"not graded: this is the {a.name} notebook, not {expect}")
    limits = limits or Limits()
    sandbox = sandbox or find_sandbox(require=False)
    restored = restore(nb, a)
    seen = run_in(scratch, restored, a, sandbox, limits, only=only, protected=protected)
    results = judge(a, restored, seen, only)
    return Report(
        assignment=a.name,
        tests=[t for ts in results.values() for t in ts],
        events=restored.events + seen.events,
        notes=notes(sandbox, restored, seen),
        manual_points=a.manual_points,
        parts={gid: min(round(sum(t.score for t in ts), 6), a.part(gid).points) for gid, ts in results.items()},
        part_tests=results,
        cells=seen.cells,
        sandbox=sandbox.name,
    )


def run_in(scratch: Path | None, *args: Any, **kwargs: Any) -> Observed:
    """:func:`run` with ``scratch`` as its scratch folder, or a temporary one when ``None``."""
    if scratch is not None:
        return run(*args, scratch=scratch, **kwargs)
    with tempfile.TemporaryDirectory(prefix="lossprep-grade-") as tmp:
        return run(*args, scratch=Path(tmp), **kwargs)


def notes(sandbox: Sandbox, restored: Restored, seen: Observed, leave_out: Iterable[int] = ()) -> list[str]:
    """What a student reads besides the tests: that the sandbox was missing, and each cell
    (but those in ``leave_out``, by index) that raised."""
    said = [] if sandbox.isolated else [f"ran without the sandbox: {getattr(sandbox, 'reason', 'unsafe mode')}"]
    for cell in restored.cells:
        ran = seen.cells.get(cell.index)
        if ran is not None and ran.status == "error" and cell.index not in set(leave_out):
            said.append(f"{_cell_name(cell)} raised {ran.error}")
    return said


def ungraded(a: Assignment, reason: str) -> Report:
    """A report of ``a`` with every test at 0 for ``reason`` (the file is not a notebook, or is
    another exercise's)."""
    tests = {
        p.grade_id: [TestResult(t.id, 0.0, share, reason) for t, share in zip(p.tests, p.shares(), strict=True)]
        for p in a.parts
    }
    return Report(
        assignment=a.name,
        tests=[t for ts in tests.values() for t in ts],
        notes=[reason],
        manual_points=a.manual_points,
        parts=dict.fromkeys(tests, 0.0),
        part_tests=tests,
    )
