"""One small, device-agnostic training loop for the demos.

It follows the tensors' device: the model and the data are moved to ``device`` (by default the
one :func:`lossprep.device.get_device` picks), and everything it returns lives on the CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch

from lossprep.device import get_device

__all__ = ["History", "fit", "predict"]

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "adamw": torch.optim.AdamW}


@dataclass
class History:
    """What :func:`fit` did: the mean training loss of every epoch, the time, the device."""

    loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"

    @property
    def final(self) -> float:
        if not self.loss:
            raise ValueError("Expected a history with at least one epoch, got an empty one")
        return self.loss[-1]

    def __len__(self) -> int:
        return len(self.loss)


def fit(
    model: torch.nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int = 100,
    lr: float = 1e-2,
    batch_size: int | None = None,
    optimizer: str = "adam",
    weight_decay: float = 0.0,
    cosine: bool = True,
    device: torch.device | str | None = None,
    seed: int = 0,
    progress: bool = False,
) -> History:
    """Train ``model`` in place to minimise ``loss_fn(model(X), y)``.

    Args:
        model: maps a batch of ``X`` to predictions shaped like the matching batch of ``y``.
        loss_fn: takes (predictions, targets) and returns a scalar.
        X, y: the whole training set; the first dimensions must match.
        epochs: passes over the data.
        lr: learning rate; with ``cosine`` it decays to 0 along a cosine over the epochs.
        batch_size: mini-batch size; ``None`` trains on the full batch.
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"``.
        device: where to train; ``None`` picks with :func:`lossprep.device.get_device`.
        seed: seeds the shuffling, so a run is repeatable.
        progress: show a progress bar over the epochs.

    Returns:
        a :class:`History`; the model is left on ``device``.
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"Expected optimizer in {sorted(OPTIMIZERS)}, got {optimizer!r}")
    if X.shape[0] != y.shape[0]:
        raise ValueError(f"Expected X and y with the same number of rows, got {X.shape[0]} and {y.shape[0]}")
    if epochs < 1:
        raise ValueError(f"Expected epochs >= 1, got {epochs}")
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"Expected batch_size >= 1 or None, got {batch_size}")
    dev = get_device(device)
    model.to(dev)
    X, y = X.to(dev), y.to(dev)
    opt = OPTIMIZERS[optimizer](model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs) if cosine else None
    gen = torch.Generator().manual_seed(seed)
    n = X.shape[0]
    bs = n if batch_size is None else batch_size
    history = History(device=str(dev))
    epochs_iter = range(epochs)
    if progress:
        from tqdm.auto import tqdm

        epochs_iter = tqdm(epochs_iter, desc="training", unit="epoch")
    start = time.perf_counter()
    model.train()
    for _ in epochs_iter:
        order = torch.randperm(n, generator=gen).to(dev) if bs < n else None
        total = torch.zeros((), device=dev)
        for i in range(0, n, bs):
            idx = order[i : i + bs] if order is not None else slice(None)
            xb, yb = X[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            total += loss.detach() * xb.shape[0]
        if sched is not None:
            sched.step()
        history.loss.append(float(total / n))
    history.seconds = time.perf_counter() - start
    model.eval()
    return history


@torch.no_grad()
def predict(model: torch.nn.Module, X: torch.Tensor, *, batch_size: int = 65_536) -> torch.Tensor:
    """``model(X)`` in eval mode on the model's device, in batches, returned on the CPU."""
    dev = next(model.parameters()).device
    model.eval()
    outs = [model(X[i : i + batch_size].to(dev)).cpu() for i in range(0, X.shape[0], batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)
