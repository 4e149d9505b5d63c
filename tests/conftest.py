"""Shared fixtures. The book is built once per session, strictly, into _build/html."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def built_book() -> Path:
    """Build the whole book strictly (warnings are errors, every cell executed, results
    cached by jupyter-cache) and return the HTML folder."""
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", "--all", "--warningiserror", "--nitpick", "--keep-going", str(ROOT)]
    # The kernels must draw with matplotlib's inline backend: with MPLBACKEND=Agg (set above
    # for the tests' own plots) plt.show() in a chapter would display nothing.
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stdout + proc.stderr)[-8000:]
        pytest.fail(f"strict book build failed (exit {proc.returncode}):\n{tail}", pytrace=False)
    html = ROOT / "_build" / "html"
    assert (html / "index.html").is_file()
    return html


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny models train several times faster on one thread on a shared 2-core machine; the
    thread count is restored after the module."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
