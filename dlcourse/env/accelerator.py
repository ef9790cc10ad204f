"""What a lesson needs from a GPU, in one place: timing, memory, and the precision it supports.

CUDA work is asynchronous: a kernel launch returns before the GPU has finished, so a timer must
wait for the device (:func:`synchronize`) before it reads the clock. A GPU's memory is the limit a
learner meets first (:func:`peak_memory_mib`, :func:`reset_peak_memory`; :func:`is_out_of_memory`
recognises the error). Mixed precision computes most operations in a 16-bit type:
:func:`mixed_precision_dtype` picks bfloat16 where the hardware supports it (Ampere GPUs and
newer, and every CPU) and float16 elsewhere (older cards such as Colab's T4), which then needs a
gradient scaler (:func:`needs_grad_scaler`). On a CPU or Apple GPU the CUDA-only calls do nothing
and the memory figures are ``None``, so lessons call them without testing the device themselves.

>>> import torch
>>> synchronize(torch.device("cpu"))         # nothing to wait for
>>> peak_memory_mib(torch.device("cpu")) is None
True
>>> mixed_precision_dtype(torch.device("cpu"))
torch.bfloat16
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch

__all__ = ["synchronize", "seconds_per_call", "reset_peak_memory", "peak_memory_mib",
           "is_out_of_memory", "mixed_precision_dtype", "needs_grad_scaler", "tf32_enabled",
           "set_tf32"]


def _as_device(device: torch.device | str) -> torch.device:
    return torch.device(device)


def synchronize(device: torch.device | str) -> None:
    """Wait until ``device`` has finished its queued work (CUDA); return at once elsewhere."""
    device = _as_device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def seconds_per_call(fn: Callable[[], object], device: torch.device | str, repeats: int = 5) -> float:
    """The mean wall-clock seconds of ``fn()`` on ``device``, after one warm-up call.

    The device is synchronised before the clock starts and before it stops, so the time counts
    the GPU's work and not only the launches.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    fn()
    synchronize(device)
    tic = time.perf_counter()
    for _ in range(repeats):
        fn()
    synchronize(device)
    return (time.perf_counter() - tic) / repeats


def reset_peak_memory(device: torch.device | str) -> None:
    """Start counting :func:`peak_memory_mib` afresh (CUDA); do nothing elsewhere."""
    device = _as_device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mib(device: torch.device | str) -> float | None:
    """The most memory tensors held on ``device`` since the last reset, in MiB; ``None`` off CUDA.

    This is PyTorch's own count (``torch.cuda.max_memory_allocated``): the tensors, not the
    allocator's cache or the CUDA context, so ``nvidia-smi`` shows more.
    """
    device = _as_device(device)
    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**20


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is a GPU out-of-memory error (``torch.OutOfMemoryError`` or its message)."""
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(err, oom):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def mixed_precision_dtype(device: torch.device | str) -> torch.dtype | None:
    """The 16-bit type for ``torch.autocast`` on ``device``, chosen by what the hardware supports.

    Returns:
        ``torch.bfloat16`` on a CUDA GPU that supports it (compute capability 8.0 and newer:
        A100, H100, RTX 30xx and later) and on a CPU; ``torch.float16`` on older CUDA GPUs (T4,
        V100), which then need a gradient scaler; ``None`` where autocast is not offered (MPS).
    """
    device = _as_device(device)
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu":
        return torch.bfloat16
    return None


def needs_grad_scaler(dtype: torch.dtype | None) -> bool:
    """float16 gradients underflow without loss scaling; bfloat16 has float32's range and does not."""
    return dtype == torch.float16


def tf32_enabled() -> bool:
    """Whether float32 matrix products may use TensorFloat-32 on Ampere and newer GPUs."""
    return torch.backends.cuda.matmul.allow_tf32


def set_tf32(enabled: bool) -> None:
    """Allow or forbid TensorFloat-32 for float32 matrix products and convolutions on CUDA.

    TF32 keeps float32's range with a 10-bit mantissa (like float16's): about 3 significant
    digits per product, summed in float32. It changes nothing on a CPU.
    """
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled
