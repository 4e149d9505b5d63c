"""Helpers for the quiz tests: the environment of a ``lossprep quiz`` child, and running one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def quiz_env(tz: str = "UTC") -> dict[str, str]:
    """This environment without the quiz's own variables, in time zone ``tz``, unbuffered, and
    with the terminal width left to the terminal."""
    e = {k: v for k, v in os.environ.items() if not k.startswith("LOSSPREP_QUIZ")}
    e["PYTHONUNBUFFERED"] = "1"
    e["TZ"] = tz
    e.pop("COLUMNS", None)
    return e


def run_quiz(*args: str, input: str = "", tz: str = "UTC", timeout: int = 120) -> subprocess.CompletedProcess[str]:
    """``lossprep quiz ARGS`` with ``input`` on stdin; output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "lossprep.cli", "quiz", *args],
        cwd=ROOT,
        env=quiz_env(tz),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
