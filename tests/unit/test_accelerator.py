"""The GPU-only calls lessons make, run here with a faked CUDA device: each calls the right torch
function on CUDA and does nothing (or returns None) elsewhere; mixed precision follows capability."""

from __future__ import annotations

import pytest
import torch

from dlcourse.env import accelerator as acc

CUDA = torch.device("cuda")
CPU = torch.device("cpu")


@pytest.fixture
def fake_cuda(monkeypatch):
    """Record every CUDA call instead of making it."""
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(("sync", device)))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats",
                        lambda device=None: calls.append(("reset", device)))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: 3 * 2**20 + 2**19)
    return calls


def test_cuda_calls_go_to_torch_cuda(fake_cuda):
    acc.synchronize(CUDA)
    acc.reset_peak_memory("cuda")
    assert fake_cuda == [("sync", CUDA), ("reset", torch.device("cuda"))]
    assert acc.peak_memory_mib(CUDA) == pytest.approx(3.5)


def test_cpu_calls_do_nothing(fake_cuda):
    acc.synchronize(CPU)
    acc.reset_peak_memory(CPU)
    assert fake_cuda == []
    assert acc.peak_memory_mib(CPU) is None
    assert acc.peak_memory_mib("mps") is None


def test_seconds_per_call_waits_for_the_device_around_the_clock(fake_cuda):
    ran = []
    seconds = acc.seconds_per_call(lambda: ran.append(len(fake_cuda)), CUDA, repeats=3)
    # a warm-up, a synchronisation, three timed calls, a synchronisation
    assert ran == [0, 1, 1, 1] and len(fake_cuda) == 2
    assert seconds >= 0
    with pytest.raises(ValueError, match="repeats must be at least 1"):
        acc.seconds_per_call(lambda: None, CPU, repeats=0)


@pytest.mark.parametrize(("bf16", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_mixed_precision_follows_the_gpus_capability(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert acc.mixed_precision_dtype(CUDA) == expected
    assert acc.needs_grad_scaler(expected) == (expected == torch.float16)


def test_mixed_precision_elsewhere():
    assert acc.mixed_precision_dtype(CPU) == torch.bfloat16
    assert acc.mixed_precision_dtype("mps") is None
    assert not acc.needs_grad_scaler(None)


def test_out_of_memory_is_recognised():
    assert acc.is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"))
    assert acc.is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not acc.is_out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied"))
    assert not acc.is_out_of_memory(ValueError("out of memory"))


def test_tf32_switch_round_trips():
    before = acc.tf32_enabled()
    try:
        acc.set_tf32(True)
        assert acc.tf32_enabled() and torch.backends.cudnn.allow_tf32
        acc.set_tf32(False)
        assert not acc.tf32_enabled() and not torch.backends.cudnn.allow_tf32
    finally:
        acc.set_tf32(before)
