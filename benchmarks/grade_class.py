"""Grade a whole class with stock ``nbgrader autograde`` and with ``lossprep grade``, side by
side in one run. Run from the repository root (it takes long: about 35 minutes on 2 cores):

    .venv/bin/python benchmarks/grade_class.py [--size 30] [--scaling 30 100 300] [--timeout 10]

1. A class of ``--size`` submissions per assignment (``benchmarks/make_class.py``: correct,
   partly wrong, broken and hostile mixed), in two course directories:
   - stock: nbgrader's own configuration (its ``Execute``: a Jupyter kernel per submission runs
     every cell), with hidden tests that run in the student's kernel (``benchmarks/stock_tests.py``:
     the same hidden inputs and judges as the engine), ``Execute.timeout`` = ``--timeout``;
   - lossprep: the course's configuration, graded by ``lossprep grade NAME --timeout T`` (the
     sandbox on: bubblewrap, one worker per core).
   Each assignment is graded by both; wall time and submissions per minute for both, their
   ratio, and the scores compared part by part where both could grade (hostile submissions are
   listed apart: stock nbgrader can be fooled by them, and a crashed kernel loses a submission).
   Then the whole class again, in one command each (``nbgrader autograde "*" --force`` and
   ``lossprep grade "*" --force``): an instructor grading everything handed in at once.
2. How ``lossprep grade`` time grows with the class: ``--scaling`` sizes of medical_loss.
3. The per-submission floor: the time the submissions' own cells and hidden calls take inside
   the sandbox (summed from the child's events), graded one by one in a warm worker here.

Prints a table and writes ``benchmarks/results/grade_class.json``. The goal (issue 14): at least
5x stock nbgrader's throughput on a 2-core machine, sandbox on.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

import check_speed  # noqa: E402
from make_class import generate, make_class  # noqa: E402
from stock_tests import HIDDEN  # noqa: E402

from autograder import assignment  # noqa: E402

BIN = Path(sys.executable).parent
STOCK_CONFIG = check_speed.STOCK_CONFIG + "c.Execute.timeout = {timeout}\n"
_REGION = re.compile(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", re.S)
_env = check_speed._env


def _timed(argv: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    return check_speed._timed(argv, cwd, timeout=7200)


def stock_course(folder: Path, names: list[str], submitted: Path, timeout: float) -> Path:
    """The stock course: nbgrader's own configuration, the source notebooks with hidden tests
    that run in the kernel, the same submissions."""
    cfg = folder.parent / "stock_config.py"
    cfg.write_text(STOCK_CONFIG.format(timeout=timeout), encoding="utf-8")
    make_class(folder, [], 0, config=cfg)
    for name in names:
        nb = nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", as_version=4)
        for cell in nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id", "")
            if cell.cell_type == "code" and "### BEGIN HIDDEN TESTS" in cell.source:
                hidden = HIDDEN.format(folder=str(ROOT / "benchmarks"), gid=gid)
                cell.source = _REGION.sub(lambda m, h=hidden: h, cell.source)
        target = folder / "solutions" / name / f"{name}.ipynb"
        target.parent.mkdir(parents=True)
        nbformat.write(nb, target)
        generate(folder, name)
    subprocess.run(["cp", "-r", str(submitted), str(folder / "submitted")], check=True)
    return folder


def scores(course: Path, name: str) -> dict[str, dict[str, float | None]]:
    """student -> graded part -> automatic score (``None``: not graded)."""
    from nbgrader.api import Gradebook

    out: dict[str, dict[str, float | None]] = {}
    parts = {p.grade_id for p in assignment.load(name).parts}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        for sub in gb.assignment_submissions(name):
            graded = (course / "autograded" / sub.student.id / name / f"{name}.ipynb").is_file()
            out[sub.student.id] = {
                g.name: (g.auto_score if graded else None) for nb in sub.notebooks for g in nb.grades if g.name in parts
            }
    return out


def compare(name: str, ours: dict, stock: dict, manifest: dict[str, str]) -> dict[str, Any]:
    """Part by part: equal where both graded, the differences otherwise (by what was handed in)."""
    same, differ, hostile_differ, stock_missing = 0, [], [], []
    for student, what in sorted(manifest.items()):
        mine, theirs = ours.get(student, {}), stock.get(student, {})
        if not theirs or any(v is None for v in theirs.values()):
            stock_missing.append(f"{student} ({what})")
            continue
        for part, score in mine.items():
            other = theirs.get(part)
            if other is not None and score is not None and abs(score - other) < 1e-6:
                same += 1
            else:
                line = f"{student} ({what}) {part}: lossprep {score}, stock {other}"
                (hostile_differ if what.startswith("hostile") else differ).append(line)
    return {"equal_parts": same, "differ": differ, "differ_hostile": hostile_differ, "stock_lost": stock_missing}


class _Timing:
    """A warm sandbox that sums the child's own time: its cells and hidden calls."""

    def __init__(self) -> None:
        from autograder.sandbox import find_sandbox
        from autograder.warm import Warm

        outer = self

        class Timed(Warm):
            def run(self, job, parts, limits, scratch):  # type: ignore[no-untyped-def]
                attempt = super().run(job, parts, limits, scratch)
                outer.own += sum(float(e.get("seconds", 0)) for e in attempt.events if e["event"] in ("cell", "part"))
                return attempt

        self.own = 0.0
        self.sandbox = Timed(find_sandbox(require=True))


def floor(course: Path, name: str, limits: Any) -> dict[str, float]:
    """Per submission: its own time in the sandbox, and the whole warm grading of it here."""
    from autograder.engine import CheckError, grade

    timing = _Timing()
    own, whole = [], []
    for path in sorted((course / "submitted").glob(f"*/{name}/{name}.ipynb")):
        timing.own = 0.0
        start = time.perf_counter()
        with contextlib.suppress(CheckError):  # not a notebook: nothing runs
            grade(path, sandbox=timing.sandbox, limits=limits, expect=name)
        whole.append(time.perf_counter() - start)
        own.append(timing.own)
    timing.sandbox.close()
    return {
        "own_mean": statistics.mean(own),
        "own_median": statistics.median(own),
        "warm_one_by_one_mean": statistics.mean(whole),
        "warm_one_by_one_median": statistics.median(whole),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=30, help="submissions per assignment (default 30)")
    parser.add_argument("--scaling", type=int, nargs="*", default=[30, 100, 300], help="class sizes for lossprep grade")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per cell, both pipelines (default 10)")
    parser.add_argument("--assignments", nargs="+", default=list(assignment.names()))
    args = parser.parse_args()
    from autograder.sandbox import Limits

    results: dict[str, Any] = {"cores": os.cpu_count(), "load_before": os.getloadavg(), "size": args.size}
    with tempfile.TemporaryDirectory(prefix="grade-class-") as tmp:
        tmp_path = Path(tmp)
        ours_course = tmp_path / "lossprep"
        manifest = make_class(ours_course, args.assignments, args.size)
        stock = stock_course(tmp_path / "stock", args.assignments, ours_course / "submitted", args.timeout)
        per: dict[str, Any] = {}
        for name in args.assignments:
            t_stock, p_stock = _timed([str(BIN / "nbgrader"), "autograde", name], stock)
            t_ours, p_ours = _timed(
                [str(BIN / "lossprep"), "grade", name, "--timeout", str(args.timeout), "--no-progress"], ours_course
            )
            if p_ours.returncode != 0:
                print(f"lossprep grade failed:\n{p_ours.stdout[-2000:]}{p_ours.stderr[-2000:]}", file=sys.stderr)
                return 1
            n = len(manifest[name])
            per[name] = {
                "stock_seconds": t_stock,
                "stock_exit": p_stock.returncode,
                "lossprep_seconds": t_ours,
                "stock_per_minute": n / (t_stock / 60),
                "lossprep_per_minute": n / (t_ours / 60),
                "ratio": t_stock / t_ours,
                "scores": compare(name, scores(ours_course, name), scores(stock, name), manifest[name]),
                "summary": p_ours.stdout.strip().splitlines(),
            }
            print(
                f"{name}: stock {t_stock:7.1f} s ({per[name]['stock_per_minute']:5.1f}/min)   "
                f"lossprep grade {t_ours:6.1f} s ({per[name]['lossprep_per_minute']:5.1f}/min)   "
                f"{per[name]['ratio']:.1f}x   load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        results["assignments"] = per
        total_stock = sum(p["stock_seconds"] for p in per.values())
        total_ours = sum(p["lossprep_seconds"] for p in per.values())
        n_all = sum(len(m) for m in manifest.values())
        results["total"] = {
            "submissions": n_all,
            "stock_seconds": total_stock,
            "lossprep_seconds": total_ours,
            "stock_per_minute": n_all / (total_stock / 60),
            "lossprep_per_minute": n_all / (total_ours / 60),
            "ratio": total_stock / total_ours,
        }
        # The whole class in one command each: nbgrader autograde "*" and lossprep grade "*" (the
        # workers and their sandboxes start once for the three assignments), everything regraded.
        t_stock_all, p_stock_all = _timed([str(BIN / "nbgrader"), "autograde", "*", "--force"], stock)
        t_ours_all, p_ours_all = _timed(
            [str(BIN / "lossprep"), "grade", "*", "--force", "--timeout", str(args.timeout), "--no-progress"],
            ours_course,
        )
        if p_ours_all.returncode != 0:
            print(f"lossprep grade failed:\n{p_ours_all.stdout[-2000:]}{p_ours_all.stderr[-2000:]}", file=sys.stderr)
            return 1
        results["whole_class"] = {
            "submissions": n_all,
            "stock_seconds": t_stock_all,
            "stock_exit": p_stock_all.returncode,
            "lossprep_seconds": t_ours_all,
            "stock_per_minute": n_all / (t_stock_all / 60),
            "lossprep_per_minute": n_all / (t_ours_all / 60),
            "ratio": t_stock_all / t_ours_all,
            "summary": p_ours_all.stdout.strip().splitlines()[:1],
        }
        w = results["whole_class"]
        print(
            f"whole class, one command each: stock {t_stock_all:7.1f} s ({w['stock_per_minute']:5.1f}/min)   "
            f"lossprep grade {t_ours_all:6.1f} s ({w['lossprep_per_minute']:5.1f}/min)   {w['ratio']:.2f}x   "
            f"load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        limits = Limits(cell_seconds=args.timeout, part_seconds=args.timeout)
        results["floor"] = {name: floor(ours_course, name, limits) for name in args.assignments}

        scaling = {}
        for size in args.scaling:
            course = tmp_path / f"scaling-{size}"
            make_class(course, ["medical_loss"], size)
            seconds, proc = _timed(
                [str(BIN / "lossprep"), "grade", "medical_loss", "--timeout", str(args.timeout), "--no-progress"],
                course,
            )
            scaling[size] = {"seconds": seconds, "per_minute": size / (seconds / 60), "exit": proc.returncode}
            print(f"lossprep grade, {size} medical_loss submissions: {seconds:.1f} s ({size / (seconds / 60):.1f}/min)")
        results["scaling"] = scaling
    results["load_after"] = os.getloadavg()

    print()
    t = results["total"]
    w = results["whole_class"]
    print(
        f"all {t['submissions']} submissions, one command per assignment: stock nbgrader autograde "
        f"{t['stock_seconds']:.1f} s ({t['stock_per_minute']:.1f}/min), lossprep grade {t['lossprep_seconds']:.1f} s "
        f"({t['lossprep_per_minute']:.1f}/min): {t['ratio']:.2f}x\n"
        f'all {w["submissions"]} submissions, one command for the class: stock nbgrader autograde "*" '
        f'{w["stock_seconds"]:.1f} s ({w["stock_per_minute"]:.1f}/min), lossprep grade "*" '
        f"{w['lossprep_seconds']:.1f} s ({w['lossprep_per_minute']:.1f}/min): {w['ratio']:.2f}x (goal 5x)"
    )
    for name, p in per.items():
        s = p["scores"]
        print(
            f"{name}: {s['equal_parts']} parts scored the same; differ where both graded: {len(s['differ'])} "
            f"(+{len(s['differ_hostile'])} hostile); stock lost {len(s['stock_lost'])} submissions"
        )
        for line in s["differ"] + s["differ_hostile"] + [f"stock lost {x}" for x in s["stock_lost"]]:
            print(f"    {line}")
    for name, f in results["floor"].items():
        print(
            f"floor {name}: the submission's own cells and calls {f['own_median']:.2f} s median "
            f"({f['own_mean']:.2f} mean); warm grading one by one {f['warm_one_by_one_median']:.2f} s median"
        )
    print(f"load average before {results['load_before'][0]:.1f}, after {results['load_after'][0]:.1f}")
    out = ROOT / "benchmarks" / "results" / "grade_class.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
