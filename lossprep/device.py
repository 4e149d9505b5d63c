"""Choose the torch device every demo runs on.

Order of preference: ``cuda``, then ``mps``, then ``cpu``. The environment variable
``LOSSPREP_DEVICE`` (or an explicit argument) overrides the choice; an unknown or unavailable
device is refused with a :class:`DeviceError` that says what is available.

Example::

    >>> from lossprep.device import get_device
    >>> get_device("cpu")
    device(type='cpu')
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

ENV_VAR = "LOSSPREP_DEVICE"
KNOWN_TYPES = ("cpu", "cuda", "mps")


class DeviceError(ValueError):
    """An unknown or unavailable device was asked for."""


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Names of the devices this machine can run on, best first."""
    names = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    if _mps_available():
        names.append("mps")
    names.append("cpu")
    return names


def _parse(name: str) -> torch.device:
    text = name.strip().lower()
    try:
        dev = torch.device(text)
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in KNOWN_TYPES:
        raise DeviceError(
            f"Unknown device {name!r}: expected one of cpu, cuda, cuda:N, mps "
            f"(available here: {', '.join(available_devices())})"
        )
    return dev


def _check_available(dev: torch.device, requested: str) -> torch.device:
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"Device {requested!r} was requested but CUDA is not available on this machine "
                f"(available here: {', '.join(available_devices())})"
            )
        count = torch.cuda.device_count()
        if dev.index is not None and dev.index >= count:
            raise DeviceError(
                f"Device {requested!r} was requested but this machine has {count} CUDA device(s) "
                f"(available here: {', '.join(available_devices())})"
            )
    if dev.type == "mps" and not _mps_available():
        raise DeviceError(
            f"Device {requested!r} was requested but MPS is not available on this machine "
            f"(available here: {', '.join(available_devices())})"
        )
    return dev


def get_device(name: str | torch.device | None = None) -> torch.device:
    """Return the device to run on.

    Args:
        name: an explicit device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``). When ``None``,
            ``$LOSSPREP_DEVICE`` is used if set and non-empty, else the best available device.

    Raises:
        DeviceError: the device is unknown or not available on this machine.
    """
    if isinstance(name, torch.device):
        return _check_available(name, str(name))
    requested = name if name is not None else os.environ.get(ENV_VAR, "").strip() or None
    if requested is None:
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    source = requested if name is not None else f"{requested} (from ${ENV_VAR})"
    return _check_available(_parse(requested), source)


def describe(device: torch.device) -> str:
    """A one-line description for the top of a chapter: ``cpu`` or ``cuda (NVIDIA H100)``."""
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


# ---------------------------------------------------------------------------------------------
# ``lossprep device``: which device the demos will use, and why.


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="check this device instead of the automatic choice")


def run(args: argparse.Namespace) -> int:
    try:
        dev = get_device(args.name)
    except DeviceError as exc:
        print(f"lossprep: {exc}", file=sys.stderr)
        return 2
    source = "argument" if args.name else (f"${ENV_VAR}" if os.environ.get(ENV_VAR, "").strip() else "automatic")
    print(f"device: {describe(dev)} ({source})")
    print(f"available: {', '.join(available_devices())}")
    return 0
