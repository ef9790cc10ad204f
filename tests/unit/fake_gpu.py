"""A pretend CUDA GPU for unit tests on a machine without one, faked at the facts torch reads.

``torch.cuda.is_bf16_supported`` asks, in this order: is this a ROCm build (``torch.version.hip``),
is CUDA available (``torch.cuda.is_available``), which device is current
(``torch.cuda.current_device``), what is its compute capability
(``torch.cuda.get_device_properties(...).major``), and, for the emulated bfloat16 it counts by
default, whether a bfloat16 tensor can be created on the device (``torch.tensor(..., device=...)``,
cached by device). :func:`pretend_gpu` fakes exactly those facts, so that torch's own functions
(``is_bf16_supported``, ``is_tf32_supported``, ``get_device_capability``) run and decide, and so
does every dlcourse function built on them.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

import pytest
import torch

#: name -> (compute capability, total memory in GiB as torch reports it)
GPUS = {
    "Tesla T4": ((7, 5), 14.75),       # Colab's free GPU (Turing): no native bfloat16, no TF32
    "NVIDIA A100-SXM4-40GB": ((8, 0), 39.5),
    "NVIDIA H100 80GB HBM3": ((9, 0), 79.2),
}


def pretend_gpu(monkeypatch: pytest.MonkeyPatch, name: str) -> SimpleNamespace:
    """Make torch see one CUDA GPU ``name`` of :data:`GPUS` until the test ends; return its properties.

    As on a real card, a bfloat16 tensor can be created on it whatever its capability (a T4
    emulates bfloat16); the tensor is made on the CPU.
    """
    (major, minor), memory_gib = GPUS[name]
    props = SimpleNamespace(name=name, major=major, minor=minor, total_memory=int(memory_gib * 2**30))
    monkeypatch.setattr(torch.version, "hip", None)
    monkeypatch.setattr(torch.version, "cuda", "12.6")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: props)
    real_tensor = torch.tensor

    def tensor(data, *args, device=None, **kwargs):
        on_gpu = isinstance(device, int) or (device is not None and torch.device(device).type == "cuda")
        return real_tensor(data, *args, device="cpu" if on_gpu else device, **kwargs)

    monkeypatch.setattr(torch, "tensor", tensor)
    # torch caches the bfloat16 creation test by device index: a fresh cache for this test only
    check = torch.cuda._check_bf16_tensor_supported
    monkeypatch.setattr(torch.cuda, "_check_bf16_tensor_supported", lru_cache(maxsize=16)(check.__wrapped__))
    return props
