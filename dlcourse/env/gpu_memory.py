"""GPU memory, the limit a learner meets first: how much a step keeps, and what to do when it is full.

A training step's memory is a fixed part (parameters, gradients, the optimiser's state) plus the
activations autograd keeps for the backward pass, which grow with the batch size.
:class:`SavedTensorMemory` counts those on any device, and can play a small GPU: given
``limit_mib``, it raises ``torch.OutOfMemoryError`` when a step would keep more, so
:func:`fit_batch_size`, which halves the batch on an out-of-memory error (:func:`is_out_of_memory`),
runs its recovery path on a CPU too. On CUDA, :func:`peak_memory_mib` reads what PyTorch's
allocator saw since :func:`reset_peak_memory`; elsewhere it is ``None`` and the reset does nothing,
so lessons call them without testing the device themselves.

>>> import torch
>>> peak_memory_mib(torch.device("cpu")) is None
True
>>> format_mib(None)
'n/a (no CUDA GPU)'
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable

import torch

__all__ = ["reset_peak_memory", "peak_memory_mib", "format_mib", "is_out_of_memory", "free_cached_memory",
           "SavedTensorMemory", "fit_batch_size"]


def reset_peak_memory(device: torch.device | str) -> None:
    """Start counting :func:`peak_memory_mib` afresh (CUDA); do nothing elsewhere."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mib(device: torch.device | str) -> float | None:
    """The most memory tensors held on ``device`` since the last reset, in MiB; ``None`` off CUDA.

    This is PyTorch's own count (``torch.cuda.max_memory_allocated``): the tensors, not the
    allocator's cache or the CUDA context, so ``nvidia-smi`` shows more.
    """
    device = torch.device(device)
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
    if torch.device(device).type == "cuda":
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
        except Exception as err:
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
