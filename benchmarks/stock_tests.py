"""The hidden tests as stock nbgrader runs them: in the student's kernel, for the stock course
of ``benchmarks/grade_class.py`` only (never in the course itself: the student's code can patch
all of this, which is why the course grades with its own engine).

Each test cell's hidden region of the stock course's source notebooks becomes
``part_score(GRADE_ID, globals())``: the part's hidden calls (the same inputs as the engine's,
``Assignment.calls``) are made on the student's functions right there, judged by the same
judges, and the part's points come back as the cell's value, where nbgrader reads partial
credit. So both pipelines give the same scores wherever the student's code leaves the kernel
alone.
"""

from __future__ import annotations

from typing import Any

__all__ = ["part_score", "HIDDEN"]

# the hidden region of a stock test cell
HIDDEN = (
    "### BEGIN HIDDEN TESTS\n"
    "import sys\n"
    "sys.path.insert(0, {folder!r})\n"
    "from stock_tests import part_score\n"
    "part_score({gid!r}, globals())\n"
    "### END HIDDEN TESTS"
)


def part_score(gid: str, namespace: dict[str, Any]) -> float:
    """The points of the graded part ``gid`` for the functions defined in ``namespace``."""
    from autograder import assignment, runner
    from autograder.engine import Observed, Restored, judge

    a = assignment.load(gid.split("-", 1)[0])
    calls = a.calls(gid)
    caller = runner.Session.__new__(runner.Session)  # only its way of calling, not a new shell
    caller.incident = lambda kind, detail: None
    outcomes: dict[str, list[dict[str, Any]]] = {}
    for test_id, test_calls in calls.items():
        outcomes[test_id] = []
        for call in test_calls:
            fn = namespace.get(call.fn)
            if not callable(fn):
                outcomes[test_id].append({"error": f"NameError: {call.fn} is not defined"})
                continue
            try:
                outcomes[test_id].append(caller._call(fn, call.to_dict()))
            except Exception as e:
                outcomes[test_id].append({"error": f"{type(e).__name__}: {e}"})
    seen = Observed(outcomes={gid: outcomes}, calls={gid: calls})
    results = judge(a, Restored([], [], set()), seen, [gid])[gid]
    return round(min(sum(r.score for r in results), a.part(gid).points), 6)
