"""Choosing where tensors live: ``cuda``, then ``mps``, then ``cpu``.

Notebooks call :func:`get_device` once and move models and data there. Nothing in the
course asserts a GPU: on a laptop the same code runs on the CPU.

>>> dev = get_device()            # best available
>>> dev = get_device("cpu")       # explicit override
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch

#: Environment variable that overrides the automatic choice (``cpu``, ``cuda``, ``cuda:1``, ``mps``).
DEVICE_ENV = "DLCOURSE_DEVICE"


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def available_devices() -> list[str]:
    """Return the device types usable here, best first; ``"cpu"`` is always last."""
    found = []
    if torch.cuda.is_available():
        found.append("cuda")
    if _mps_available():
        found.append("mps")
    found.append("cpu")
    return found


def get_device(prefer: str | None = None) -> torch.device:
    """Return the device to compute on.

    Args:
        prefer: an explicit choice such as ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"mps"``.
            When omitted, ``$DLCOURSE_DEVICE`` is used if set, otherwise the best available
            device in the order ``cuda`` → ``mps`` → ``cpu``.

    Raises:
        ValueError: if the requested device type is unknown or not available on this machine;
            the message lists what is available.
    """
    choice = prefer or os.environ.get(DEVICE_ENV)
    if not choice:
        return torch.device(available_devices()[0])
    try:
        device = torch.device(choice)
    except RuntimeError as err:
        raise ValueError(
            f"Unknown device {choice!r}: use one of {available_devices()} "
            f"(for example get_device('cpu'))."
        ) from err
    if device.type not in available_devices():
        source = "get_device()" if prefer else f"${DEVICE_ENV}"
        raise ValueError(
            f"Device {choice!r} was requested through {source} but is not available here; "
            f"available: {available_devices()}. Use get_device() to pick the best one."
        )
    if device.type == "cuda" and device.index is not None:
        count = torch.cuda.device_count()
        if device.index >= count:
            raise ValueError(f"Device {choice!r} requested, but this machine has {count} CUDA GPU(s).")
    return device


@dataclass(frozen=True)
class DeviceInfo:
    """What is known about a device: its name and, for a GPU, its memory in GiB."""

    device: str
    name: str
    memory_gib: float | None = None


def describe_device(device: torch.device | str | None = None) -> DeviceInfo:
    """Return a :class:`DeviceInfo` for ``device`` (default: :func:`get_device`)."""
    device = torch.device(device) if device is not None else get_device()
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return DeviceInfo(str(device), props.name, round(props.total_memory / 2**30, 1))
    if device.type == "mps":
        return DeviceInfo(str(device), "Apple Metal (MPS)")
    import platform

    return DeviceInfo(str(device), platform.processor() or platform.machine() or "CPU")
