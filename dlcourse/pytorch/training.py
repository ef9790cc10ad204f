"""A small, reusable PyTorch training loop (lesson 07), and what it needs around it.

:func:`fit` trains a model for a number of epochs and returns a :class:`History` of per-epoch
metrics. Along the way it can

- show a progress bar (:mod:`dlcourse.env.progress`) and print one rounded line per epoch;
- measure validation loss and accuracy after each epoch (:func:`evaluate`);
- step a learning-rate schedule, per epoch or per batch;
- use mixed precision (``amp=True``: autocast in the 16-bit type the device supports, with a
  gradient scaler for float16; see :mod:`dlcourse.env.accelerator`);
- stop early when the validation loss stops improving (:class:`EarlyStopping`);
- call your callbacks after each epoch, e.g. a live learning-curve plot (:class:`LivePlot`);
- save a checkpoint after every epoch and resume from it: model, optimiser, scheduler, gradient
  scaler, early-stopping state, history and every random number generator's state. A run that
  is interrupted (a Colab disconnect) and resumed ends with the same weights as a run that was
  not, bit for bit on a CPU, and loses at most the epoch that was in progress.

Data can come from any iterable of ``(x, y)`` batches with a length: a
:class:`torch.utils.data.DataLoader` over an :class:`ArrayDataset`, or :class:`TensorBatches`
(both in :mod:`dlcourse.pytorch.batches`, re-exported here so that lessons import the loop and
its data from one place).

Why one module of over 300 lines: the loop's features interlock. A checkpoint holds the model,
optimiser, scheduler, gradient scaler, early-stopping state, history and random state, and
resuming must restore each before the next epoch; the history records feed early stopping, the
verbose line, the progress bar and the callbacks. Kept together, one reading shows the order in
which an epoch does these things; the data, which stands apart, lives in its own module.

The history's keys are the course's one vocabulary for training histories (the NumPy loop,
:class:`dlcourse.numpy_nn.training.History`, uses the same): ``epoch``, ``train_loss``,
``train_acc``, ``val_loss``, ``val_acc``, ``seconds`` (and ``lr`` here).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlcourse.env.accelerator import mixed_precision_dtype, needs_grad_scaler
from dlcourse.env.progress import progress
from dlcourse.env.seeding import rng_state, set_rng_state
from dlcourse.pytorch.batches import ArrayDataset, Batch, TensorBatches, images_to_tensor

__all__ = ["Batch", "images_to_tensor", "ArrayDataset", "TensorBatches",  # from .batches
           "StopTraining", "History", "evaluate", "EarlyStopping", "plot_history", "LivePlot",
           "save_checkpoint", "load_checkpoint", "fit"]


class StopTraining(Exception):
    """Raise from a callback to end :func:`fit` cleanly after the current epoch."""


# --------------------------------------------------------------------------------------------
# History, evaluation, early stopping, plots
# --------------------------------------------------------------------------------------------

class History:
    """Per-epoch metrics: ``history.records`` is a list of dicts, one per finished epoch.

    Keys: ``epoch`` (1-based), ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc`` (when
    there is validation data), ``lr`` (of the first parameter group) and ``seconds``.
    ``history["val_acc"]`` returns one key as a list.
    """

    def __init__(self, records: Sequence[dict[str, float]] = ()) -> None:
        self.records: list[dict[str, float]] = [dict(r) for r in records]

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: str) -> list[float]:
        return [r[key] for r in self.records if key in r]

    @property
    def last(self) -> dict[str, float]:
        return self.records[-1]

    def append(self, record: dict[str, float]) -> None:
        self.records.append(dict(record))


def amp_dtype(device: torch.device, amp: bool | torch.dtype | None) -> torch.dtype | None:
    """The autocast type that ``amp`` asks for on ``device``: ``None`` means float32.

    ``True`` chooses by capability (:func:`dlcourse.env.accelerator.mixed_precision_dtype`);
    ``torch.bfloat16`` or ``torch.float16`` asks for that type; ``False`` or ``None`` for none.
    """
    if amp is None or amp is False:
        return None
    if amp is True:
        return mixed_precision_dtype(device)
    if amp not in (torch.bfloat16, torch.float16):
        raise ValueError(f"amp must be True, False, None, torch.bfloat16 or torch.float16; got {amp!r}")
    return amp


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _forward(model: nn.Module, loss_fn: Callable, x: torch.Tensor, y: torch.Tensor,
             device: torch.device, dtype: torch.dtype | None) -> tuple[torch.Tensor, ...]:
    """Move one batch to ``device``; return ``(y, logits (B, C), loss)``, autocast to ``dtype`` if any."""
    x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
    with _autocast(device, dtype):
        logits = model(x)
        loss = loss_fn(logits, y)
    return y, logits, loss


class _Tally:
    """Running sums over batches: the mean loss per example and the accuracy."""

    def __init__(self) -> None:
        self.total_loss, self.correct, self.count = 0.0, 0, 0

    def add(self, y: torch.Tensor, logits: torch.Tensor, loss: torch.Tensor) -> None:
        self.total_loss += loss.item() * len(y)
        self.correct += (logits.argmax(dim=1) == y).sum().item()
        self.count += len(y)

    @property
    def mean_loss(self) -> float:
        return self.total_loss / self.count

    @property
    def accuracy(self) -> float:
        return self.correct / self.count


@torch.no_grad()
def evaluate(model: nn.Module, batches: Iterable[Batch], loss_fn: Callable | None = None,
             device: torch.device | str | None = None,
             amp: bool | torch.dtype | None = False) -> dict[str, float]:
    """Return the mean loss and the accuracy of ``model`` over ``batches``, in eval mode.

    Args:
        model: maps inputs ``(B, ...)`` to class scores (logits) ``(B, C)``.
        batches: ``(x, y)`` pairs, ``y`` int64 class indices ``(B,)``.
        loss_fn: default cross-entropy (mean over a batch); the result is the mean over examples.
        device: where to compute (default: where the model's parameters are).
        amp: mixed precision, as in :func:`fit`.

    Returns:
        ``{"loss": float, "acc": float}``; the model's train/eval mode is restored afterwards.
    """
    loss_fn = loss_fn or nn.functional.cross_entropy
    device = torch.device(device) if device is not None else next(model.parameters()).device
    dtype = amp_dtype(device, amp)
    was_training = model.training
    model.eval()
    tally = _Tally()
    for x, y in batches:
        y, logits, loss = _forward(model, loss_fn, x, y, device, dtype)
        tally.add(y, logits, loss)
    model.train(was_training)
    if tally.count == 0:
        raise ValueError("evaluate() got no batches")
    return {"loss": tally.mean_loss, "acc": tally.accuracy}


class EarlyStopping:
    """Stop when a monitored metric has not improved for ``patience`` epochs.

    Args:
        patience: epochs without improvement to tolerate.
        monitor: a key of the history record (``"val_loss"``, ``"val_acc"``, ...).
        mode: ``"min"`` (loss) or ``"max"`` (accuracy).
        min_delta: how much better a value must be to count as an improvement.
        restore_best: at the end of training, load the weights of the best epoch.
    """

    def __init__(self, patience: int = 3, monitor: str = "val_loss", mode: str = "min",
                 min_delta: float = 0.0, restore_best: bool = True) -> None:
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
        if patience < 1:
            raise ValueError(f"patience must be at least 1, got {patience}")
        self.patience, self.monitor, self.mode = patience, monitor, mode
        self.min_delta, self.restore_best = min_delta, restore_best
        self.best: float | None = None
        self.best_epoch = 0
        self.bad_epochs = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stopped = False

    def step(self, record: dict[str, float], model: nn.Module) -> bool:
        """Record one epoch; return True when training should stop."""
        if self.monitor not in record:
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, but the epoch record has only "
                           f"{sorted(record)}: pass validation data to fit() or monitor another key.")
        value = record[self.monitor]
        better = (self.best is None or
                  (value < self.best - self.min_delta if self.mode == "min"
                   else value > self.best + self.min_delta))
        if better:
            self.best, self.best_epoch, self.bad_epochs = value, int(record["epoch"]), 0
            if self.restore_best:
                self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            self.bad_epochs += 1
        self.stopped = self.bad_epochs >= self.patience
        return self.stopped

    def state_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("best", "best_epoch", "bad_epochs", "best_state", "stopped")}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for key, value in state.items():
            setattr(self, key, value)


def plot_history(history: History, axes: Sequence[Any] | None = None, title: str = "Learning curves"):
    """Draw loss and accuracy per epoch (training and, when present, validation).

    Args:
        history: what :func:`fit` returned.
        axes: two matplotlib axes to draw on (default: a new figure with two panels).
        title: the figure's title.

    Returns:
        The matplotlib figure.
    """
    import matplotlib.pyplot as plt

    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    else:
        fig = axes[0].figure
    epochs = history["epoch"]
    for ax, metric, label in ((axes[0], "loss", "cross-entropy loss (nats)"),
                              (axes[1], "acc", "accuracy (fraction correct)")):
        ax.clear()
        ax.plot(epochs, history[f"train_{metric}"], marker="o", label="training")
        if history[f"val_{metric}"]:
            ax.plot(epochs, history[f"val_{metric}"], marker="s", label="validation")
        ax.set(xlabel="epoch", ylabel=label)
        ax.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


class LivePlot:
    """A :func:`fit` callback that redraws the learning curves after every epoch, in place.

    In Jupyter the figure updates in its output area; elsewhere (scripts, tests) it does nothing.
    """

    def __init__(self, title: str = "Learning curves") -> None:
        self.title = title
        self._handle = None
        self._fig = None

    def __call__(self, history: History, model: nn.Module) -> None:
        try:
            from IPython import get_ipython
            from IPython.display import display
        except ImportError:
            return
        if get_ipython() is None:
            return
        import matplotlib.pyplot as plt

        if self._fig is None:
            self._fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
            plt.close(self._fig)  # shown through the display handle only
        plot_history(history, self._fig.axes, self.title)
        if self._handle is None:
            self._handle = display(self._fig, display_id=True)
        else:
            self._handle.update(self._fig)


# --------------------------------------------------------------------------------------------
# Checkpoints
# --------------------------------------------------------------------------------------------

def save_checkpoint(path: Path | str, **state: Any) -> None:
    """Save ``state`` (state dicts, numbers, lists) to ``path`` atomically.

    The file is written next to ``path`` and renamed into place, so a crash while saving leaves
    the previous checkpoint intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: Path | str, map_location: torch.device | str | None = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint` (tensors go to ``map_location``)."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=False)
    except FileNotFoundError:
        raise
    except Exception as err:  # a truncated or foreign file
        raise ValueError(f"{path} is not a readable checkpoint ({err}). Delete it to start "
                         "training from scratch, or pass resume=False to fit().") from err


# --------------------------------------------------------------------------------------------
# The loop
# --------------------------------------------------------------------------------------------



def fit(model: nn.Module, optimizer: torch.optim.Optimizer, train_batches: Iterable[Batch],
        val_batches: Iterable[Batch] | None = None, *, epochs: int,
        loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
        scheduler: Any | None = None, scheduler_step: str = "epoch",
        device: torch.device | str | None = None, amp: bool | torch.dtype | None = False,
        checkpoint: Path | str | None = None, resume: bool = True,
        early_stopping: EarlyStopping | None = None,
        callbacks: Sequence[Callable[[History, nn.Module], None]] = (),
        verbose: bool = True, progress_bar: bool = True) -> History:
    """Train ``model`` for up to ``epochs`` epochs and return its :class:`History`.

    One epoch: for each batch ``(x, y)``, compute ``loss_fn(model(x), y)``, back-propagate,
    take an optimiser step (and a scheduler step when ``scheduler_step="batch"``); then evaluate on
    ``val_batches``, step the scheduler (``"epoch"``), record the metrics, save the checkpoint,
    check early stopping and call the callbacks.

    Args:
        model: maps ``x`` ``(B, ...)`` to logits ``(B, C)``; moved to ``device``.
        optimizer: built on ``model.parameters()``.
        train_batches: an iterable of ``(x, y)`` with ``len()``, ``y`` int64 ``(B,)``.
        val_batches: the same for validation, or ``None``.
        epochs: the total number of epochs of the run (also when resuming).
        loss_fn: default ``torch.nn.functional.cross_entropy``.
        scheduler: a ``torch.optim.lr_scheduler`` object, or ``None``.
        scheduler_step: ``"epoch"`` or ``"batch"``: when to call ``scheduler.step()``.
        device: default: where the model's parameters are.
        amp: mixed precision: ``True`` autocasts to the 16-bit type ``device`` supports
            (bfloat16 on recent GPUs and CPUs, float16 on older GPUs), or name the type
            (``torch.bfloat16``, ``torch.float16``); float16 adds gradient scaling, since its
            small gradients would round to zero. ``False`` or ``None``: float32.
        checkpoint: a file to save after every epoch and, with ``resume=True``, to resume from
            when it exists.
        resume: continue from ``checkpoint`` when it exists (``False``: start over, overwrite it).
        early_stopping: an :class:`EarlyStopping`, or ``None``.
        callbacks: called as ``callback(history, model)`` after each epoch; one may raise
            :class:`StopTraining`.
        verbose: print one rounded line per epoch.
        progress_bar: show a progress bar over epochs.

    Returns:
        The :class:`History` of all epochs run so far (including those before a resume).
    """
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    loss_fn = loss_fn or nn.functional.cross_entropy
    device = torch.device(device) if device is not None else next(model.parameters()).device
    model.to(device)
    dtype = amp_dtype(device, amp)
    scaler = torch.amp.GradScaler(device.type, enabled=needs_grad_scaler(dtype))
    history, start = History(), 1

    if checkpoint is not None and resume and Path(checkpoint).exists():
        state = load_checkpoint(checkpoint, map_location=device)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        scaler.load_state_dict(state["scaler"])
        if early_stopping is not None and state.get("early_stopping") is not None:
            early_stopping.load_state_dict(state["early_stopping"])
        history = History(state["history"])
        set_rng_state(state["rng"])
        start = int(state["epoch"]) + 1
        if verbose:
            print(f"resumed from {Path(checkpoint).name}: {state['epoch']} epoch(s) already done")
        if early_stopping is not None and early_stopping.stopped:
            start = epochs + 1  # the run had already stopped early

    bar = progress(range(start, epochs + 1), desc="training", total=epochs, initial=start - 1,
                   disable=not progress_bar)
    for epoch in bar:
        tic = time.perf_counter()
        model.train()
        tally = _Tally()
        for x, y in train_batches:
            y, logits, loss = _forward(model, loss_fn, x, y, device, dtype)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            if scheduler is not None and scheduler_step == "batch":
                scheduler.step()
            tally.add(y, logits, loss)
        record = {"epoch": epoch, "train_loss": tally.mean_loss, "train_acc": tally.accuracy,
                  "lr": optimizer.param_groups[0]["lr"]}
        if val_batches is not None:
            metrics = evaluate(model, val_batches, loss_fn, device, dtype)
            record.update(val_loss=metrics["loss"], val_acc=metrics["acc"])
        if scheduler is not None and scheduler_step == "epoch":
            scheduler.step()
        record["seconds"] = time.perf_counter() - tic
        history.append(record)
        stop = early_stopping.step(record, model) if early_stopping is not None else False
        if checkpoint is not None:
            save_checkpoint(checkpoint, epoch=epoch, model=model.state_dict(),
                            optimizer=optimizer.state_dict(),
                            scheduler=scheduler.state_dict() if scheduler is not None else None,
                            scaler=scaler.state_dict(),
                            early_stopping=early_stopping.state_dict() if early_stopping else None,
                            history=history.records, rng=rng_state())
        if verbose:
            line = (f"epoch {epoch:>2}/{epochs}  train loss {record['train_loss']:.3f} "
                    f"acc {record['train_acc']:.3f}")
            if "val_loss" in record:
                line += f"  | val loss {record['val_loss']:.3f} acc {record['val_acc']:.3f}"
            print(line + f"  | lr {record['lr']:.3g}  | {record['seconds']:.2f} s")
        bar.set_postfix({k: round(v, 3) for k, v in record.items() if k.endswith(("loss", "acc"))})
        try:
            for callback in callbacks:
                callback(history, model)
        except StopTraining:
            stop = True
        if stop:
            if verbose and early_stopping is not None and early_stopping.stopped:
                print(f"early stop: no better {early_stopping.monitor} for "
                      f"{early_stopping.patience} epoch(s); best at epoch {early_stopping.best_epoch}")
            break
    bar.close()
    if early_stopping is not None and early_stopping.restore_best and early_stopping.best_state:
        model.load_state_dict(early_stopping.best_state)
    return history
