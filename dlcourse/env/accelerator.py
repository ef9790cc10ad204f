"""What a lesson needs from a GPU, in one place: timing, memory, and the precision it supports.

CUDA work is asynchronous: a kernel launch returns before the GPU has finished, so a timer must
wait for the device (:func:`synchronize`) before it reads the clock. A GPU's memory is the limit a
learner meets first (:func:`peak_memory_mib`, :func:`reset_peak_memory`; :func:`is_out_of_memory`
recognises the error). Mixed precision computes most operations in a 16-bit type:
:func:`mixed_precision_dtype` picks bfloat16 where the hardware supports it (Ampere GPUs and
newer, and every CPU) and float16 elsewhere (older cards such as Colab's T4), which then needs a
gradient scaler (:func:`needs_grad_scaler`). On a CPU or Apple GPU the CUDA-only calls do nothing
and the memory figures are ``None``, so lessons call them without testing the device themselves.

What a lesson can measure on any device lives here too. :class:`SavedTensorMemory` counts the
bytes autograd keeps for the backward pass (the activations, which grow with the batch size) and
can play a small GPU: given ``limit_mib``, it raises ``torch.OutOfMemoryError`` when a step would
keep more, so :func:`fit_batch_size`, which halves the batch on an out-of-memory error, runs its
recovery path on a CPU too. :func:`pin_memory` page-locks a tensor where a CUDA GPU can use it,
:func:`round_to_tf32` shows on any device what TensorFloat-32 does to float32's inputs, and
:func:`compile_backend` picks what ``torch.compile`` generates code with.

>>> import torch
>>> synchronize(torch.device("cpu"))         # nothing to wait for
>>> peak_memory_mib(torch.device("cpu")) is None
True
>>> mixed_precision_dtype(torch.device("cpu"))
torch.bfloat16
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable, Iterable

import torch

__all__ = ["synchronize", "seconds_per_call", "reset_peak_memory", "peak_memory_mib", "format_mib",
           "is_out_of_memory", "free_cached_memory", "SavedTensorMemory", "fit_batch_size",
           "can_pin_memory", "pin_memory", "mixed_precision_dtype", "needs_grad_scaler",
           "tf32_enabled", "set_tf32", "round_to_tf32", "COMPILE_BACKEND_ENV", "compile_backend"]


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


def format_mib(mib: float | None, digits: int = 2) -> str:
    """``"12.50 MiB"``, or ``"n/a (no CUDA GPU)"`` for the ``None`` of :func:`peak_memory_mib` off CUDA."""
    return "n/a (no CUDA GPU)" if mib is None else f"{mib:.{digits}f} MiB"


def is_out_of_memory(err: BaseException) -> bool:
    """Whether ``err`` is a GPU out-of-memory error (``torch.OutOfMemoryError`` or its message)."""
    oom = getattr(torch, "OutOfMemoryError", None) or getattr(torch.cuda, "OutOfMemoryError", None)
    if oom is not None and isinstance(err, oom):
        return True
    return isinstance(err, RuntimeError) and "out of memory" in str(err).lower()


def free_cached_memory(device: torch.device | str) -> None:
    """Collect garbage and hand the CUDA allocator's cached blocks back (CUDA); only collect elsewhere.

    Call it after an out-of-memory error has been caught *and its ``except`` block has ended*: the
    error's traceback holds the failed step's frames, and with them its tensors.
    """
    gc.collect()
    if _as_device(device).type == "cuda":
        torch.cuda.empty_cache()


class SavedTensorMemory:
    """Count the bytes autograd saves for the backward pass while the ``with`` block runs.

    A forward pass that builds a graph keeps some tensors until ``backward()``: a linear layer's
    input, a ReLU's output, the log-probabilities of the loss. They are the *activation memory*,
    which grows in proportion to the batch size, while the parameters, their gradients and the
    optimiser's state do not. Each storage is counted once (a tensor saved by two operations, or
    two views of one storage, cost its storage's bytes once), on any device. Storages of the
    tensors in ``exclude`` (pass ``model.parameters()``) are not counted: they exist anyway.

    With ``limit_mib`` it plays a GPU with that much memory free for activations: the save that
    would go past the limit raises ``torch.OutOfMemoryError``, the error a CUDA GPU raises, so
    the recovery (:func:`fit_batch_size`) can be run and tested on a CPU. This is a simulation
    of one part of a GPU's memory, stated as such in the message; a real card also holds the
    parameters, gradients, optimiser state, temporary buffers and its allocator's cache.

    Attributes:
        nbytes: bytes of the distinct storages saved so far.
        count: how many distinct storages.

    >>> x = torch.ones(8, 4, requires_grad=True)
    >>> with SavedTensorMemory() as saved:
    ...     y = torch.sigmoid(x)   # saves its output, 8 * 4 float32 values
    >>> saved.nbytes, saved.count
    (128, 1)
    """

    def __init__(self, exclude: Iterable[torch.Tensor] = (), limit_mib: float | None = None) -> None:
        if limit_mib is not None and limit_mib <= 0:
            raise ValueError(f"limit_mib must be positive, got {limit_mib}")
        self.limit_mib = limit_mib
        self._exclude = {_storage_key(t) for t in exclude}
        self._seen: set[tuple[str, int]] = set()
        self.nbytes = 0
        self.count = 0
        self._hooks: torch.autograd.graph.saved_tensors_hooks | None = None

    @property
    def mib(self) -> float:
        """:attr:`nbytes` in MiB (2**20 bytes)."""
        return self.nbytes / 2**20

    def _pack(self, t: torch.Tensor) -> torch.Tensor:
        key = _storage_key(t)
        if key not in self._seen and key not in self._exclude:
            size = t.untyped_storage().nbytes()
            if self.limit_mib is not None and (self.nbytes + size) / 2**20 > self.limit_mib:
                raise torch.OutOfMemoryError(
                    f"out of memory on a pretend GPU with {self.limit_mib:.2f} MiB free for activations "
                    f"(simulated by dlcourse's SavedTensorMemory): saving {size / 2**20:.2f} MiB for the "
                    f"backward pass with {self.mib:.2f} MiB already saved. Use a smaller batch.")
            self._seen.add(key)
            self.nbytes += size
            self.count += 1
        return t

    def __enter__(self) -> SavedTensorMemory:
        self._hooks = torch.autograd.graph.saved_tensors_hooks(self._pack, lambda t: t)
        self._hooks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._hooks is not None
        self._hooks.__exit__(*exc)
        self._hooks = None


def _storage_key(t: torch.Tensor) -> tuple[str, int]:
    return (str(t.device), t.untyped_storage().data_ptr())


def fit_batch_size(step: Callable[[int], object], batch_size: int, device: torch.device | str,
                   min_batch_size: int = 1) -> tuple[int, list[tuple[int, str]]]:
    """Run ``step(batch_size)``, halving the batch after each out-of-memory error until one fits.

    Args:
        step: runs one training step at the given batch size (its return value is ignored).
        batch_size: the size to try first.
        device: where ``step`` computes; cached GPU memory is freed before each retry.
        min_batch_size: give up below this size.

    Returns:
        ``(batch_size, tries)``: the first size that ran, and every size tried with ``"ok"`` or
        the out-of-memory message it raised.

    Raises:
        torch.OutOfMemoryError: when even ``min_batch_size`` does not fit (the last error, chained).
        Any other error ``step`` raises, at once: only running out of memory is retried.
    """
    if not 1 <= min_batch_size <= batch_size:
        raise ValueError(f"need 1 <= min_batch_size <= batch_size, got {min_batch_size} and {batch_size}")
    tries: list[tuple[int, str]] = []
    while True:
        failed: BaseException | None = None
        try:
            step(batch_size)
        except Exception as err:  # noqa: BLE001 -- anything but running out of memory is re-raised
            if not is_out_of_memory(err):
                raise
            tries.append((batch_size, str(err)))
            failed = err if batch_size // 2 < min_batch_size else None
        else:
            tries.append((batch_size, "ok"))
            return batch_size, tries
        if failed is not None:
            raise torch.OutOfMemoryError(f"even batch size {batch_size} does not fit: {failed}") from failed
        free_cached_memory(device)  # outside the except block: the error's frames are gone
        batch_size //= 2


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
    default = "inductor" if _as_device(device).type == "cuda" else "eager"
    return os.environ.get(COMPILE_BACKEND_ENV) or default
