"""``lossprep device``: which device the demos will use, and why."""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="check this device instead of the automatic choice")


def run(args: argparse.Namespace) -> int:
    from lossprep.device import ENV_VAR, DeviceError, available_devices, describe, get_device

    try:
        dev = get_device(args.name)
    except DeviceError as exc:
        print(f"lossprep: {exc}", file=sys.stderr)
        return 2
    source = "argument" if args.name else (f"${ENV_VAR}" if os.environ.get(ENV_VAR, "").strip() else "automatic")
    print(f"device: {describe(dev)} ({source})")
    print(f"available: {', '.join(available_devices())}")
    return 0
