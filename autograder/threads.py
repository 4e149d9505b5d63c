"""Run small trainings on one CPU thread.

On a busy 2-core machine, thread hand-offs cost far more than the tiny matrix products they
split: a 0.3 s training took up to 14 s with torch's default threads. Shared by the reference
trainers of every assignment.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Set torch to one intra-op thread inside the block; restore the previous count after."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
