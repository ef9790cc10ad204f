"""Device selection: cuda -> mps -> cpu, explicit overrides, clear errors, never a GPU assertion."""

import pytest
import torch

from dlcourse.env import device as dev
from tests.unit.fake_gpu import pretend_gpu


def test_default_on_this_machine_is_the_best_available():
    assert dev.get_device().type == dev.available_devices()[0]
    assert dev.available_devices()[-1] == "cpu"


def test_order_is_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(dev, "_mps_available", lambda: True)
    assert dev.available_devices() == ["cuda", "mps", "cpu"]
    assert dev.get_device().type == "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.get_device().type == "mps"
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    assert dev.get_device() == torch.device("cpu")


def test_explicit_choice_and_environment_override(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert dev.get_device("cpu") == torch.device("cpu")
    monkeypatch.setenv(dev.DEVICE_ENV, "cpu")
    assert dev.get_device() == torch.device("cpu")
    assert dev.get_device("cuda:0") == torch.device("cuda:0")  # the argument beats the variable


def test_unavailable_or_unknown_device_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    with pytest.raises(ValueError, match=r"'cuda' was requested .* not available here; available: \['cpu'\]"):
        dev.get_device("cuda")
    with pytest.raises(ValueError, match="Unknown device 'tpu'"):
        dev.get_device("tpu")
    monkeypatch.setenv(dev.DEVICE_ENV, "cuda")
    with pytest.raises(ValueError, match=r"\$DLCOURSE_DEVICE"):
        dev.get_device()


def test_cuda_index_beyond_the_gpus_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="has 1 CUDA GPU"):
        dev.get_device("cuda:3")


def test_describe_cpu():
    info = dev.describe_device("cpu")
    assert info.device == "cpu" and info.name and info.memory_gib is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_describe_cuda_reports_name_and_memory():
    info = dev.describe_device("cuda")
    assert info.name == torch.cuda.get_device_name(0)
    assert info.memory_gib > 1


def test_describe_a_pretend_t4_reads_its_properties(monkeypatch):
    pretend_gpu(monkeypatch, "Tesla T4")
    assert dev.describe_device("cuda") == dev.DeviceInfo("cuda", "Tesla T4", 14.8)  # 14.75 GiB, rounded
