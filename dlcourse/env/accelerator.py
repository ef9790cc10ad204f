"""What a lesson needs from a GPU, in one place: timing, copies, and the precision it supports.

CUDA work is asynchronous: a kernel launch returns before the GPU has finished, so a timer must
wait for the device (:func:`synchronize`) before it reads the clock. Mixed precision computes
most operations in a 16-bit type. :func:`mixed_precision_dtype` picks bfloat16 on a CUDA GPU only
where its hardware computes in bfloat16 natively, which is what
``torch.cuda.is_bf16_supported(including_emulation=False)`` reports: compute capability 8.0 and
newer (Ampere: A100, RTX 30xx; Hopper: H100, H200; and later), and AMD GPUs under ROCm. Older
NVIDIA GPUs (Colab's T4, capability 7.5; V100, 7.0) get float16, which then needs a gradient
scaler (:func:`needs_grad_scaler`): torch's default check, ``is_bf16_supported()``, also counts
the bfloat16 those cards can only *emulate*, slowly, and would say True there. A CPU gets
bfloat16, autocast's CPU type (native only on CPUs with bfloat16 instructions, such as AVX-512
BF16 or AMX; converted to float32 and back elsewhere).
On a CPU or Apple GPU the CUDA-only calls do nothing, so lessons call them without testing the
device themselves. Memory, the limit a learner meets first, has its own module:
:mod:`dlcourse.env.gpu_memory`.

What a lesson can measure on any device lives here too: :func:`pin_memory` page-locks a tensor
where a CUDA GPU can use it, :func:`round_to_tf32` shows what TensorFloat-32 does to float32's
inputs (:func:`tf32_supported` says where the hardware has it, :func:`use_tf32` allows it), and
:func:`compile_backend` picks what ``torch.compile`` generates code with.

>>> import torch
>>> synchronize(torch.device("cpu"))         # nothing to wait for
>>> mixed_precision_dtype(torch.device("cpu"))
torch.bfloat16
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

__all__ = ["synchronize", "seconds_per_call", "can_pin_memory", "pin_memory", "mixed_precision_dtype",
           "needs_grad_scaler", "tf32_supported", "tf32_enabled", "use_tf32", "round_to_tf32",
           "COMPILE_BACKEND_ENV", "compile_backend"]


def synchronize(device: torch.device | str) -> None:
    """Wait until ``device`` has finished its queued work (CUDA); return at once elsewhere."""
    device = torch.device(device)
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


def can_pin_memory() -> bool:
    """Whether page-locked ("pinned") host memory can be allocated: it needs a CUDA GPU."""
    return torch.cuda.is_available()


def pin_memory(t: torch.Tensor) -> torch.Tensor:
    """A page-locked copy of the CPU tensor ``t`` where a CUDA GPU exists; ``t`` itself elsewhere.

    The GPU's copy engine reads page-locked memory directly (DMA), so a copy from it can run
    while the GPU computes (``x.to("cuda", non_blocking=True)`` returns at once). From ordinary,
    pageable memory the driver first copies into a pinned staging buffer and the host waits.
    Without a CUDA GPU there is nothing to copy to, and this PyTorch build refuses to pin.
    """
    return t.pin_memory() if can_pin_memory() else t


def mixed_precision_dtype(device: torch.device | str) -> torch.dtype | None:
    """The 16-bit type for ``torch.autocast`` on ``device``: bfloat16 only where it is native.

    Returns:
        On CUDA, ``torch.bfloat16`` where ``torch.cuda.is_bf16_supported(including_emulation=False)``
        (compute capability 8.0 and newer: A100, H100, RTX 30xx and later; ROCm GPUs), else
        ``torch.float16`` (T4, V100: bfloat16 there is only emulated, and slow), which then needs a
        gradient scaler; like torch's check, it asks about the current CUDA device. On a CPU,
        ``torch.bfloat16``. ``None`` where autocast is not offered (MPS).
    """
    device = torch.device(device)
    if device.type == "cuda":
        return torch.bfloat16 if _bf16_is_native() else torch.float16
    if device.type == "cpu":
        return torch.bfloat16
    return None


def _bf16_is_native() -> bool:
    """torch's check without emulation; an older PyTorch (no ``including_emulation``) counted only
    native bfloat16, which is compute capability 8.0 and newer (or a ROCm GPU)."""
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:
        return bool(torch.version.hip) or torch.cuda.get_device_capability() >= (8, 0)


def needs_grad_scaler(dtype: torch.dtype | None) -> bool:
    """float16 gradients underflow without loss scaling; bfloat16 has float32's range and does not."""
    return dtype == torch.float16


def tf32_supported(device: torch.device | str) -> bool:
    """Whether ``device`` has TensorFloat-32 tensor cores: a CUDA GPU of compute capability 8.0 and newer.

    ``torch.cuda.is_tf32_supported()`` decides (it asks about the current CUDA device); a T4 (7.5),
    a V100, a CPU and an Apple GPU have no TF32, so allowing it there changes nothing.
    """
    if torch.device(device).type != "cuda":
        return False
    if hasattr(torch.cuda, "is_tf32_supported"):
        return torch.cuda.is_tf32_supported()
    return not torch.version.hip and torch.cuda.get_device_capability() >= (8, 0)  # older PyTorch


def tf32_enabled() -> bool:
    """Whether float32 matrix products on CUDA may use TF32: ``torch.backends.cuda.matmul.fp32_precision``.

    It reads ``"tf32"`` when allowed; ``"ieee"``, or ``"none"`` (not set: PyTorch's default, off), when not.
    """
    matmul = torch.backends.cuda.matmul
    if not hasattr(matmul, "fp32_precision"):  # an older PyTorch has only the allow_tf32 flags
        return bool(matmul.allow_tf32)
    return matmul.fp32_precision == "tf32"


@contextmanager
def use_tf32(enabled: bool = True) -> Iterator[None]:
    """Allow (or forbid) TF32 for float32 matrix products and cuDNN convolutions and RNNs in the block.

    It sets PyTorch's current switches, ``fp32_precision`` (``"tf32"`` or ``"ieee"``) of
    ``torch.backends.cuda.matmul``, ``torch.backends.cudnn.conv`` and ``torch.backends.cudnn.rnn``
    (the ``allow_tf32`` flags are on their way out, and mixing the two APIs is an error; an older
    PyTorch, which has only those flags, gets them instead), and puts
    back exactly what was there before, PyTorch's defaults included: TF32 off for matrix products,
    on for convolutions. TF32 keeps float32's range with a 10-bit mantissa (like float16's): about
    3 significant digits per product, summed in float32. It changes nothing where
    :func:`tf32_supported` is False (a CPU, a T4).
    """
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        switches = (torch.backends.cuda.matmul, torch.backends.cudnn.conv, torch.backends.cudnn.rnn)
        name, value = "fp32_precision", "tf32" if enabled else "ieee"
    else:  # an older PyTorch: the allow_tf32 flags of matrix products and of cuDNN
        switches = (torch.backends.cuda.matmul, torch.backends.cudnn)
        name, value = "allow_tf32", enabled
    before = [getattr(s, name) for s in switches]
    try:
        for s in switches:
            setattr(s, name, value)
        yield
    finally:
        for s, previous in zip(switches, before, strict=True):
            setattr(s, name, previous)


def round_to_tf32(t: torch.Tensor) -> torch.Tensor:
    """Round float32 values to TensorFloat-32's precision: 10 mantissa bits, to nearest, ties to even.

    A TF32 tensor core rounds each input of a matrix product like this, multiplies exactly and
    sums in float32, so ``round_to_tf32(a) @ round_to_tf32(b)`` in float32 shows on any device
    the accuracy a GPU's TF32 product has. The values stay float32 (finite inputs assumed).

    >>> ulp = 2**-10   # TF32's spacing between 1 and 2
    >>> x = torch.tensor([1 + ulp, 1 + ulp / 2, 1 + 1.5 * ulp])
    >>> round_to_tf32(x).tolist() == [1 + ulp, 1, 1 + 2 * ulp]  # ties go to the even neighbour
    True
    """
    if t.dtype != torch.float32:
        raise TypeError(f"round_to_tf32 takes float32, got {t.dtype}")
    bits = t.contiguous().view(torch.int32)
    rounded = (bits + 0xFFF + ((bits >> 13) & 1)) & ~0x1FFF
    return rounded.view(torch.float32).reshape(t.shape)


#: Environment variable that overrides :func:`compile_backend` (``inductor``, ``aot_eager``, ``eager``).
COMPILE_BACKEND_ENV = "DLCOURSE_COMPILE_BACKEND"


def compile_backend(device: torch.device | str) -> str:
    """The ``torch.compile`` backend a lesson uses on ``device``: ``inductor`` on CUDA, ``eager`` elsewhere.

    ``inductor`` generates fused kernels (Triton on a GPU, C++ on a CPU): that is where the
    speed-up comes from. On our 2-core CPUs its first compilation takes from a quarter of a
    minute to over a minute, so on a CPU a lesson asks only for ``eager``: Dynamo captures the
    graph and runs the same operations, in seconds, with no speed-up. ``$DLCOURSE_COMPILE_BACKEND``
    chooses another backend anywhere.
    """
    default = "inductor" if torch.device(device).type == "cuda" else "eager"
    return os.environ.get(COMPILE_BACKEND_ENV) or default
