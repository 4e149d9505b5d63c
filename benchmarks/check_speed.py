"""Time ``lossprep check`` of the medical_loss solution against stock ``nbgrader autograde`` of
the same submission, side by side in one run. Run from the repository root:

    .venv/bin/python benchmarks/check_speed.py [--repeat 5]

``lossprep check``: the whole command, sandbox included (bubblewrap when it works here; the
report says which), from launch to the printed JSON.

Stock nbgrader: a course directory with nbgrader's own configuration (its ``Execute``
preprocessor: a Jupyter kernel runs every cell of the notebook) grading the same notebook with
``nbgrader autograde medical_loss --force``. The hidden region of the course's test cells only
raises an error (the course grades with its own engine), so this times nbgrader's execution of
the notebook without any hidden test: a lower bound of what stock grading costs.

Also timed, for information: ``nbgrader autograde`` with the course's configuration (the engine
in place of ``Execute``). Runs alternate (check, stock, course) after one warm-up round; the
medians and the ratio are printed and written to ``benchmarks/results/check_speed.json``.
Targets (issue 10): check median under 5 s, at least 2x faster than stock.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NAME = "medical_loss"
BIN = Path(sys.executable).parent
STOCK_CONFIG = """c = get_config()  # noqa: F821
c.CourseDirectory.root = "."
c.CourseDirectory.course_id = "stock"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"
"""


def _env() -> dict[str, str]:
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


def _timed(argv: list[str], cwd: Path, timeout: float = 900) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout)
    return time.perf_counter() - start, proc


def _course(folder: Path, config: str | None) -> Path:
    """A course with the medical_loss source, its release, and the solution handed in by alice."""
    folder.mkdir()
    if config is None:
        shutil.copy(ROOT / "nbgrader_config.py", folder / "nbgrader_config.py")
    else:
        (folder / "nbgrader_config.py").write_text(config, encoding="utf-8")
    shutil.copytree(ROOT / "solutions" / NAME, folder / "solutions" / NAME)
    subprocess.run(
        [str(BIN / "nbgrader"), "generate_assignment", NAME, "--force"],
        cwd=folder,
        env=_env(),
        check=True,
        capture_output=True,
    )
    target = folder / "submitted" / "alice" / NAME / f"{NAME}.ipynb"
    target.parent.mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / NAME / f"{NAME}.ipynb", target)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each (default 5)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="check-speed-") as tmp:
        tmp_path = Path(tmp)
        submission = tmp_path / "submission.ipynb"
        shutil.copy(ROOT / "solutions" / NAME / f"{NAME}.ipynb", submission)
        stock, course = _course(tmp_path / "stock", STOCK_CONFIG), _course(tmp_path / "course", None)
        runs = {
            "lossprep check": ([str(BIN / "lossprep"), "check", str(submission), "--json"], ROOT),
            "stock nbgrader autograde": ([str(BIN / "nbgrader"), "autograde", NAME, "--force"], stock),
            "nbgrader autograde (course config)": ([str(BIN / "nbgrader"), "autograde", NAME, "--force"], course),
        }
        times: dict[str, list[float]] = {k: [] for k in runs}
        report = {}
        for round_ in range(args.repeat + 1):
            for label, (argv, cwd) in runs.items():
                seconds, proc = _timed(argv, cwd)
                if proc.returncode != 0:
                    print(f"{label} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                    return 1
                if label == "lossprep check":
                    report = json.loads(proc.stdout)
                if round_ > 0:  # the first round warms the caches
                    times[label].append(seconds)
                    print(f"  run {round_}: {label:<36} {seconds:6.2f} s", flush=True)
    medians = {k: statistics.median(v) for k, v in times.items()}
    ratio = medians["stock nbgrader autograde"] / medians["lossprep check"]
    print()
    for label, median in medians.items():
        print(f"median {label:<36} {median:6.2f} s")
    print(f"stock nbgrader / lossprep check: {ratio:.2f}x")
    print(f"lossprep check scored {report.get('score')} / {report.get('max_score')}, notes {report.get('notes')}")
    ok = medians["lossprep check"] < 5 and ratio >= 2
    print(
        "targets (check under 5 s, at least 2x stock):",
        "met" if ok else "NOT met",
        f"(load average {os.getloadavg()[0]:.1f})",
    )
    out = ROOT / "benchmarks" / "results" / "check_speed.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": times, "medians": medians, "ratio": ratio, "report": report}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
