"""Time a full book build from an empty cache, then a rebuild with no change.

Both builds use the strict flags of `make book`, into a temporary output folder so the
checkout's own _build is left alone. Run from the repository root:

    .venv/bin/python benchmarks/book_build.py [--repeat 3]

Prints one line per build and the medians.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(out: Path) -> float:
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [
        str(jb),
        "build",
        "--all",
        "--warningiserror",
        "--nitpick",
        "--keep-going",
        "--path-output",
        str(out),
        str(ROOT),
    ]
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"book build failed (exit {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeat", type=int, default=1, help="full builds to run (each followed by a no-change rebuild)"
    )
    args = parser.parse_args()
    full, again = [], []
    for i in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="lossprep-bench-") as tmp:
            full.append(build(Path(tmp)))
            again.append(build(Path(tmp)))
        print(f"run {i + 1}: full build {full[-1]:.1f} s, no-change rebuild {again[-1]:.1f} s", flush=True)
    print(f"median full build: {statistics.median(full):.1f} s")
    print(f"median no-change rebuild: {statistics.median(again):.1f} s")
    print(f"ratio: {statistics.median(full) / statistics.median(again):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
