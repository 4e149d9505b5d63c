"""lossprep.device picks cuda, then mps, then cpu; LOSSPREP_DEVICE overrides; bad names refused."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from lossprep import device as dev


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(dev.ENV_VAR, raising=False)


def test_prefers_cuda_then_mps_then_cpu(monkeypatch, no_env):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert dev.get_device() == torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.get_device() == torch.device("mps")
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert dev.get_device() == torch.device("cpu")


def test_env_overrides_automatic_choice(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setenv(dev.ENV_VAR, "cpu")
    assert dev.get_device() == torch.device("cpu")


def test_explicit_argument_beats_env(monkeypatch):
    monkeypatch.setenv(dev.ENV_VAR, "definitely-not-a-device")
    assert dev.get_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize("name", ["tpu", "gpu", "cuda:x", "", "  cpu2"])
def test_unknown_device_refused(no_env, name):
    with pytest.raises(dev.DeviceError, match=r"Unknown device .*expected one of cpu, cuda"):
        dev.get_device(name)


def test_unavailable_cuda_refused_with_reason(monkeypatch, no_env):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(dev.DeviceError, match=r"CUDA is not available.*available here: .*cpu"):
        dev.get_device("cuda")


def test_cuda_index_out_of_range_refused(monkeypatch, no_env):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert dev.get_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(dev.DeviceError, match="has 1 CUDA device"):
        dev.get_device("cuda:3")


def test_unavailable_mps_refused(monkeypatch, no_env):
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    with pytest.raises(dev.DeviceError, match="MPS is not available"):
        dev.get_device("mps")


def test_env_error_names_the_variable(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setenv(dev.ENV_VAR, "cuda")
    with pytest.raises(dev.DeviceError, match=r"from \$LOSSPREP_DEVICE"):
        dev.get_device()


def test_cli_device_reports_and_refuses():
    ok = subprocess.run([sys.executable, "-m", "lossprep.cli", "device", "cpu"], capture_output=True, text=True)
    assert ok.returncode == 0 and "device: cpu (argument)" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "lossprep.cli", "device", "tpu"], capture_output=True, text=True)
    assert bad.returncode == 2
    assert bad.stderr.startswith("lossprep: Unknown device 'tpu'") and "Traceback" not in bad.stderr
