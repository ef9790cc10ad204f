"""One run profile for every lesson: ``quick`` on a CPU, ``full`` on a GPU, chosen in one place.

A lesson that trains asks for its profile once, at the top, and takes every size from it: how
much data, how many epochs, how large a model, which precision. It never tests the device itself.

- ``quick``: sized for a 2-core laptop CPU (the committed subsets, a few epochs, float32). The
  committed outputs are a record of this profile.
- ``full``: the lesson as it is meant to run on a GPU (the full data sets, more epochs, larger
  models, mixed precision in the 16-bit type the GPU computes natively, see
  :func:`dlcourse.env.accelerator.mixed_precision_dtype`). On a CPU it runs too, slowly.
- ``full-tiny``: the ``full`` profile's code paths at a tiny size (every epoch and step count,
  every number of examples and every batch size, capped by :data:`TINY_LIMITS`; the model keeps
  its full shape), so that CI executes every branch
  of a lesson on a CPU in seconds. Its numbers mean nothing; its point is that nothing crashes.

The choice, first match wins: the ``name`` argument, ``$DLCOURSE_PROFILE``, then ``full`` when
the device is a CUDA GPU and ``quick`` otherwise.

>>> import torch
>>> profile = run_profile("quick", device=torch.device("cpu"))
>>> s = profile.settings(data=("subset", "full"), epochs=(12, 10))
>>> s.data, s.epochs
('subset', 12)
>>> run_profile("full-tiny", device=torch.device("cpu")).settings(epochs=(12, 10)).epochs
1
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from dlcourse.env.accelerator import mixed_precision_dtype
from dlcourse.env.device import get_device

__all__ = ["PROFILE_ENV", "PROFILES", "TINY_LIMITS", "RunProfile", "Settings", "run_profile"]

#: Environment variable that chooses the profile (``quick``, ``full`` or ``full-tiny``).
PROFILE_ENV = "DLCOURSE_PROFILE"
PROFILES = ("quick", "full", "full-tiny")
#: In ``full-tiny``, a setting named like one of these (``epochs``, or ending in ``_epochs``) is capped
#: at this value.
#: Batches are capped too: a lesson that trains for a number of steps (not epochs) would otherwise
#: run its full-sized model on full-sized batches, about two minutes for lesson 13's GPT on a CPU.
TINY_LIMITS = {"epochs": 1, "steps": 20, "examples": 512, "seeds": 1, "batch_size": 16}


def _precision_name(dtype: torch.dtype | None) -> str:
    return "float32" if dtype is None else f"{str(dtype).removeprefix('torch.')} autocast"


class Settings(Mapping[str, Any]):
    """A lesson's sizes for the chosen profile: ``settings.epochs``, ``settings["epochs"]``.

    ``str(settings)`` is a table of every setting in both profiles, the chosen one marked, so a
    lesson shows at its top what the other profile would change.
    """

    def __init__(self, profile: RunProfile, choices: dict[str, tuple[Any, Any]],
                 mixed_precision: bool = False) -> None:
        self._profile = profile
        self._choices = choices
        self._mixed_precision = mixed_precision
        self._values = {name: profile._value(name, quick, full) for name, (quick, full) in choices.items()}

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"no setting {name!r}; this lesson's settings are "
                                 f"{sorted(self.__dict__.get('_values', {}))}") from None

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __str__(self) -> str:
        p = self._profile
        rows = [("setting", "quick", "full")]
        rows += [(name, str(quick), str(full)) for name, (quick, full) in self._choices.items()]
        if self._mixed_precision:
            rows.append(("precision", _precision_name(None), "16-bit autocast (bfloat16, or float16 "
                                                                  "with a gradient scaler on older GPUs)"))
        widths = [max(len(r[i]) for r in rows) for i in range(2)]
        lines = [f"run profile: {p.name}{' (tiny sizes)' if p.tiny else ''} on {p.device.type}"
                 + (f", precision {_precision_name(p.precision)}" if self._mixed_precision else "")]
        lines += [f"  {a:<{widths[0]}}  {b:<{widths[1]}}  {c}" for a, b, c in rows]
        if not p.full:
            lines.append(f"  (the full column runs on a CUDA GPU, or anywhere with {PROFILE_ENV}=full)")
        return "\n".join(lines)

    __repr__ = __str__


@dataclass(frozen=True)
class RunProfile:
    """The chosen profile: its name, the device it computes on, and whether sizes are tiny."""

    name: str
    device: torch.device
    tiny: bool = False

    @property
    def full(self) -> bool:
        """Whether this is the ``full`` profile (also at tiny sizes)."""
        return self.name == "full"

    @property
    def precision(self) -> torch.dtype | None:
        """The autocast type for training: ``None`` (float32) in ``quick``, 16-bit in ``full``."""
        return mixed_precision_dtype(self.device) if self.full else None

    def _value(self, name: str, quick: Any, full: Any) -> Any:
        value = full if self.full else quick
        if self.tiny and isinstance(value, int):
            for size, limit in TINY_LIMITS.items():
                if name == size or name.endswith("_" + size):
                    value = min(value, limit)
        return value

    def pick(self, quick: Any, full: Any) -> Any:
        """``full`` in the full profile, else ``quick`` (not capped: use :meth:`settings` for sizes)."""
        return full if self.full else quick

    def settings(self, mixed_precision: bool = False, **choices: tuple[Any, Any]) -> Settings:
        """This lesson's settings: each keyword is a ``(quick, full)`` pair.

        ``mixed_precision=True`` says that the lesson trains in :attr:`precision`, so the table shows it.

        Settings named like a key of :data:`TINY_LIMITS` (``epochs``, ``steps``, ``examples``,
        ``seeds``, ``batch_size``, or ending in ``_epochs``, ``_steps``, ...) are capped in
        ``full-tiny``.
        """
        for name, pair in choices.items():
            if not (isinstance(pair, tuple) and len(pair) == 2):
                raise ValueError(f"setting {name!r} must be a (quick, full) pair, got {pair!r}")
        return Settings(self, choices, mixed_precision)


def run_profile(name: str | None = None, device: torch.device | str | None = None) -> RunProfile:
    """Return the run profile for this lesson.

    Args:
        name: ``"quick"``, ``"full"`` or ``"full-tiny"``; default ``$DLCOURSE_PROFILE``, else
            ``"full"`` on a CUDA GPU and ``"quick"`` elsewhere.
        device: where to compute (default :func:`dlcourse.env.device.get_device`).

    Raises:
        ValueError: for an unknown profile name, saying where it came from and what is allowed.
    """
    device = torch.device(device) if device is not None else get_device()
    choice = name or os.environ.get(PROFILE_ENV) or ("full" if device.type == "cuda" else "quick")
    if choice not in PROFILES:
        source = "run_profile()" if name else f"${PROFILE_ENV}"
        raise ValueError(f"unknown run profile {choice!r} (from {source}): use one of {', '.join(PROFILES)}.")
    return RunProfile("full" if choice.startswith("full") else "quick", device, tiny=choice == "full-tiny")
