"""Trained models judged by what they are, not by what a kernel says about them.

An exercise that trains a model fixes its **architecture**; what it grades is the trained
**parameters**. A :class:`ModelTask` is that contract, in one place for the learner and the grader:

- ``build()``: a fresh model of the architecture the exercise fixes;
- ``state(model)`` / ``load(model, state)``: the parameters as plain arrays, and back (for a torch
  module, its ``state_dict``, buffers included);
- ``measure(model)``: the numbers that matter (an accuracy on data the measuring process loads
  itself, the modes a generator covers), never a number the learner's code computed;
- ``requirements``: what those numbers must reach; ``seconds``: the time budget of the test cell.

``check.model(name, model, task)`` (:mod:`dlcourse.checks`) sends ``state(model)`` and nothing
else. For a learner, the check measures in the notebook at once. When grading, the grader's own
process rebuilds the model with ``build()``, loads the parameters sent, and measures it with
:func:`judge`, the same function: a kernel can send only numbers, and numbers that are not a
model of this architecture, with the right shapes, finite, reaching the requirement within the
time the grader observed, fail with a message that says which.

Each task lives in a module of ``dlcourse.model_tasks`` named like the task (``ring_gan``), with a module
attribute ``TASK``. Files a task measures on that a graded kernel must never read (the
Fashion-MNIST test split) are listed by :func:`held_out_files`; the grader's sandbox hides them.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["ModelTask", "Requirement", "get_task", "judge", "held_out_files", "TASK_NAMES",
           "torch_state", "torch_load"]

#: Every task, by name: the module ``dlcourse.model_tasks.<name>`` defines it as ``TASK``.
TASK_NAMES = ("digits_mlp", "regularised_mlp", "small_cnn", "fine_tune", "char_classifier",
              "ring_gan")


@dataclass(frozen=True)
class Requirement:
    """A measured number's bound: ``metric >= at_least`` and/or ``metric <= at_most``."""

    metric: str
    at_least: float | None = None
    at_most: float | None = None

    def failure(self, value: float) -> str | None:
        """Why ``value`` misses the bound (None when it meets it; NaN never does)."""
        if not math.isfinite(value):
            return f"{self.metric} is {value}"
        if self.at_least is not None and not value >= self.at_least:
            return f"{self.metric} is {value:.4g}; it must be at least {self.at_least:g}"
        if self.at_most is not None and not value <= self.at_most:
            return f"{self.metric} is {value:.4g}; it must be at most {self.at_most:g}"
        return None


def torch_state(model: Any) -> dict[str, np.ndarray]:
    """A torch module's ``state_dict`` as NumPy arrays (parameters and buffers), by name."""
    return {name: value.detach().cpu().numpy() for name, value in model.state_dict().items()}


def torch_load(model: Any, state: dict[str, np.ndarray]) -> None:
    """Load ``state`` (from :func:`torch_state`) into ``model``, each entry in its own dtype."""
    import torch

    own = model.state_dict()
    model.load_state_dict({name: torch.as_tensor(state[name]).to(own[name].dtype) for name in own})


@dataclass(frozen=True)
class ModelTask:
    """What an exercise's trained model must be and reach (see the module docstring)."""

    name: str
    #: the architecture in words, for the messages (``gan_mlp([2, 64, 64, 2])``)
    architecture: str
    build: Callable[[], Any]
    measure: Callable[[Any], dict[str, float]]
    requirements: tuple[Requirement, ...]
    #: the test cell's time budget in seconds (None: none)
    seconds: float | None = None
    state: Callable[[Any], dict[str, np.ndarray]] = torch_state
    load: Callable[[Any, dict[str, np.ndarray]], None] = torch_load
    #: files ``measure`` reads that a graded kernel must not
    held_out: Callable[[], list[Path]] = field(default=lambda: [])

    def report(self, metrics: dict[str, float]) -> str:
        """The measured numbers, as one line for the learner."""
        return ", ".join(f"{name} {value:.4g}" for name, value in metrics.items())


def get_task(name: str) -> ModelTask:
    """The task called ``name`` (one of :data:`TASK_NAMES`)."""
    if name not in TASK_NAMES:
        raise ValueError(f"no model task called {name!r}; the tasks are {', '.join(TASK_NAMES)}")
    return importlib.import_module(f"dlcourse.model_tasks.{name}").TASK


def held_out_files() -> list[Path]:
    """Every file a task measures on that a graded kernel must never read."""
    return sorted({path for name in TASK_NAMES for path in get_task(name).held_out()})


class Verdict:
    """The outcome of :func:`judge`: a failure (``kind``, ``message``) or None, and the metrics."""

    def __init__(self, kind: str | None, message: str, metrics: dict[str, float] | None = None):
        self.kind, self.message, self.metrics = kind, message, metrics or {}

    @property
    def passed(self) -> bool:
        return self.kind is None


def _arrays(state: Any) -> dict[str, np.ndarray] | str:
    """``state`` as named numeric arrays, or why it is not that."""
    if state is None:
        return "got None instead of a model"
    if not isinstance(state, dict):
        described = getattr(state, "text", None) or type(state).__name__
        return f"expected a model's parameters, got {described}"
    arrays = {}
    for name, value in state.items():
        if not isinstance(name, str) or not isinstance(value, np.ndarray):
            why = getattr(value, "text", "")  # what the kernel's to_plain said (too large, ...)
            return (f"parameter {str(name)[:80]!r} is not an array of numbers"
                    + (f": {str(why)[:200]}" if why else ""))
        if value.dtype.kind not in "biuf":
            return f"parameter {name[:80]!r} holds {value.dtype} values, not numbers"
        arrays[name] = value
    return arrays


def judge(task: ModelTask, state: Any, seconds: float | None = None) -> Verdict:
    """Rebuild ``task``'s model from ``state`` (plain data, as sent), measure it, and decide.

    ``state`` is what ``from_plain(to_plain(task.state(model)))`` gives: a dict of arrays.
    ``seconds`` is how long the test cell ran, as the judging process observed it. Never raises:
    everything wrong with ``state`` is a failed verdict with a message.
    """
    arrays = _arrays(state)
    if isinstance(arrays, str):
        return Verdict("type", f"{arrays} (the exercise fixes the architecture: "
                               f"{task.architecture})")
    model = task.build()
    wanted = {name: np.shape(value) for name, value in task.state(model).items()}
    missing, extra = sorted(set(wanted) - set(arrays)), sorted(set(arrays) - set(wanted))
    if missing or extra:
        parts = ([f"missing {', '.join(missing[:5])}"] if missing else []) + (
            [f"unexpected {', '.join(extra[:5])}"] if extra else [])
        return Verdict("shape", f"the parameters are not those of {task.architecture}: "
                                f"{'; '.join(parts)}")
    for name, shape in wanted.items():
        if arrays[name].shape != shape:
            return Verdict("shape", f"parameter {name!r} has shape {arrays[name].shape}, but "
                                    f"{task.architecture} has {shape}")
        if arrays[name].dtype.kind == "f" and not np.isfinite(arrays[name]).all():
            return Verdict("nan", f"parameter {name!r} holds NaN or infinite values: training "
                                  "diverged (a smaller learning rate?)")
    try:
        task.load(model, arrays)
        metrics = {k: float(v) for k, v in task.measure(model).items()}
    except Exception as error:
        return Verdict("type", f"the parameters do not make a working {task.architecture}: "
                               f"{type(error).__name__}: {str(error)[:200]}")
    for requirement in task.requirements:
        why = requirement.failure(metrics.get(requirement.metric, math.nan))
        if why is not None:
            return Verdict("score", f"{why} (measured: {task.report(metrics)})", metrics)
    if task.seconds is not None and seconds is not None and seconds > task.seconds:
        return Verdict("time", f"the cell took {seconds:.0f} s, more than its {task.seconds:g} s "
                               "budget", metrics)
    return Verdict(None, task.report(metrics), metrics)
