"""Time ``lossprep edition`` and the edition's check, side by side in one run. From the
repository root, after ``make book`` (the edition reuses its execution cache):

    .venv/bin/python benchmarks/edition.py [--repeat 3]

- ``lossprep edition OUT``: the whole command into an empty temporary folder (copy, notebooks,
  the strict Sphinx build of the edition's book, README), without and with ``--git``;
- ``lossprep check --visible`` of the medical_loss release with its solution code (what the
  edition's check does) against ``lossprep check`` of the same notebook with the hidden tests,
  both in the sandbox when bubblewrap works here.

Runs alternate after one warm-up round; the medians are printed and written to
``benchmarks/results/edition.json``. No target: this says what an instructor and a student wait.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
LOSSPREP = Path(sys.executable).parent / "lossprep"
NAME = "medical_loss"


def _timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.strip()[-500:]}")
    return time.perf_counter() - start


def _solved(folder: Path) -> Path:
    """The release with the solution's code in its solution cells."""
    source = nbformat.read(ROOT / "solutions" / NAME / f"{NAME}.ipynb", as_version=4)
    code = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    nb = nbformat.read(ROOT / "exercises" / NAME / f"{NAME}.ipynb", as_version=4)
    for cell in nb.cells:
        cell.source = code.get(cell.metadata.get("nbgrader", {}).get("grade_id"), cell.source)
    path = folder / "mine.ipynb"
    nbformat.write(nb, path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3)")
    args = parser.parse_args()
    times: dict[str, list[float]] = {"edition": [], "edition --git": [], "check --visible": [], "check": []}
    with tempfile.TemporaryDirectory(prefix="lossprep-bench-") as tmp:
        folder = Path(tmp)
        notebook = _solved(folder)
        for r in range(args.repeat + 1):
            runs = {
                "edition": [str(LOSSPREP), "edition", str(folder / f"plain-{r}")],
                "edition --git": [str(LOSSPREP), "edition", str(folder / f"git-{r}"), "--git"],
                "check --visible": [str(LOSSPREP), "check", str(notebook), "--json", "--visible"],
                "check": [str(LOSSPREP), "check", str(notebook), "--json"],
            }
            for name, argv in runs.items():
                seconds = _timed(argv)
                if r:  # the first round warms the caches
                    times[name].append(seconds)
            for made in folder.glob("*-*"):
                shutil.rmtree(made)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, median in medians.items():
        print(f"{name:<16} median {median:6.2f} s  ({', '.join(f'{t:.2f}' for t in times[name])})")
    out = ROOT / "benchmarks" / "results" / "edition.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"medians": medians, "runs": times}, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
