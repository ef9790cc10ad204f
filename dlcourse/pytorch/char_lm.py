"""Training a character-level language model (lesson 13): text as ids, batches, schedule, evaluation.

- :class:`CharText` turns the review sentences of :mod:`dlcourse.data.reviews` into one stream of
  character ids per split (every tenth sentence held out, so both corpora are in both splits);
- :func:`random_blocks` draws training batches: ``B`` random windows of ``T + 1`` characters,
  inputs ``(B, T)`` and the same shifted by one as targets;
- :func:`warmup_cosine` is the learning-rate multiplier: linear warm-up, then a cosine decay to 10 %;
- :func:`train_lm` trains any model mapping ``(B, T)`` ids to ``(B, T, V)`` logits with AdamW
  (weight decay on matrices only), that schedule and gradient clipping; :func:`eval_nats` scores it
  on held-out text in nats per character, every character once: on consecutive blocks, or with
  sliding windows so that every character keeps (almost) a full context, as the n-grams do;
- :class:`CharGRU` is lesson 10's recurrent model (embedding, GRU, linear head) on the same task.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["CharText", "load_review_text", "random_blocks", "warmup_cosine", "TrainLog", "train_lm",
           "eval_nats", "CharGRU"]


@dataclass(frozen=True)
class CharText:
    """Character ids of a text, split in two: ``train`` and ``val`` ``(N,)`` int64, and the characters."""

    chars: str
    train: np.ndarray
    val: np.ndarray

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """``str`` -> ``(N,)`` int64 ids (every character must be in :attr:`chars`)."""
        index = {c: i for i, c in enumerate(self.chars)}
        return np.array([index[c] for c in text], dtype=np.int64)

    def decode(self, ids) -> str:
        """A sequence of ids -> ``str``."""
        return "".join(self.chars[int(i)] for i in ids)

    @classmethod
    def from_sentences(cls, sentences: list[str], every: int = 10) -> CharText:
        """One line per sentence; sentence ``i`` is held out when ``i % every == every - 1``."""
        held = [s for i, s in enumerate(sentences) if i % every == every - 1]
        kept = [s for i, s in enumerate(sentences) if i % every != every - 1]
        train_text, val_text = "\n".join(kept) + "\n", "\n".join(held) + "\n"
        chars = "".join(sorted(set(train_text) | set(val_text)))
        index = {c: i for i, c in enumerate(chars)}
        return cls(chars, np.array([index[c] for c in train_text], dtype=np.int64),
                   np.array([index[c] for c in val_text], dtype=np.int64))


def load_review_text() -> CharText:
    """The 14,313 human-rated review sentences (Amazon, then movies) as a :class:`CharText`."""
    from dlcourse.data.reviews import load_reviews

    return CharText.from_sentences([" ".join(t.split()) for t in load_reviews().texts])


def random_blocks(ids: torch.Tensor, batch_size: int, block_size: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``B`` random windows of ``ids`` ``(N,)``: inputs ``(B, T)`` and targets ``(B, T)`` (shifted by one)."""
    start = torch.randint(len(ids) - block_size - 1, (batch_size,), generator=generator)
    rows = start[:, None] + torch.arange(block_size + 1)
    window = ids[rows]
    return window[:, :-1], window[:, 1:]


def warmup_cosine(step: int, warmup: int, total: int, floor: float = 0.1) -> float:
    """Learning-rate multiplier at ``step``: linear warm-up, then a cosine to ``floor``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def eval_nats(model: nn.Module, ids: np.ndarray, block_size: int, device: torch.device,
              batch_size: int = 64, stride: int | None = None) -> float:
    """Mean cross-entropy (nats per character) of ``model`` on ``ids`` ``(N,)``: every character scored once.

    ``stride=None`` cuts ``ids`` into consecutive blocks of ``T = block_size`` (the tail that does not
    fill a block is left out): each block restarts the model's context, so the first characters of a
    block are predicted from almost nothing. ``stride=s`` (``1 <= s <= T``) slides windows of ``T``
    characters by ``s``: the first window scores all its ``T`` targets, every later one only the
    targets no window scored before (its last ``s``), so every character after the first window is
    predicted from at least ``T - s`` characters before it; ``s = 1`` is the full sliding context,
    and the cost grows as ``T / s``. A recurrent model carries its state over the whole text with
    ``block_size=len(ids) - 1`` (one block).
    """
    if stride is not None and not 1 <= stride <= block_size:
        raise ValueError(f"stride={stride} must be between 1 and block_size={block_size}.")
    was_training = model.training
    model.eval()
    last = len(ids) - 1 - block_size                                         # the last window's start
    if stride is None:
        starts = np.arange(0, last + 1, block_size)
        fresh = np.full(len(starts), block_size)                             # targets scored per window
    else:
        starts = np.arange(0, last + 1, stride)
        if starts[-1] != last:
            starts = np.append(starts, last)
        fresh = np.diff(starts, prepend=starts[0] - block_size)
    rows = torch.from_numpy(starts[:, None] + np.arange(block_size + 1))  # (W, T + 1) windows
    windows = torch.from_numpy(ids)[rows]
    scored = torch.arange(block_size) >= block_size - torch.from_numpy(fresh)[:, None]   # (W, T)
    total = 0.0
    for i in range(0, len(windows), batch_size):
        x, y = windows[i:i + batch_size, :-1].to(device), windows[i:i + batch_size, 1:].to(device)
        logits = model(x).float()                                            # (b, T, V)
        nats = F.cross_entropy(logits.transpose(1, 2), y, reduction="none")  # (b, T)
        total += nats[scored[i:i + batch_size].to(device)].sum().item()
    model.train(was_training)
    return total / int(fresh.sum())


@dataclass
class TrainLog:
    """What :func:`train_lm` recorded at each evaluation: step, seconds of training, losses, learning rate."""

    step: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)

    def time_to(self, target: float) -> float:
        """Seconds of training until the validation loss first reached ``target`` (``nan`` if never)."""
        reached = (s for s, v in zip(self.seconds, self.val_loss, strict=True) if v <= target)
        return next(reached, float("nan"))


def train_lm(model: nn.Module, train_ids: np.ndarray, val_ids: np.ndarray, *, steps: int, batch_size: int,
             block_size: int, lr: float, device: torch.device, warmup: int = 50, weight_decay: float = 0.1,
             clip: float = 1.0, eval_every: int = 100, eval_stride: int | None = None, seed: int = 0,
             progress=None, stop_after_seconds: float | None = None,
             stop_below: float | None = None) -> TrainLog:
    """Train ``model`` (ids ``(B, T)`` -> logits ``(B, T, V)``) for ``steps`` steps: a :class:`TrainLog`.

    AdamW with weight decay on the weight matrices only (not on biases, norms or embeddings),
    :func:`warmup_cosine`, gradient clipping at global norm ``clip``. The validation loss is
    measured every ``eval_every`` steps and at the end (seconds exclude evaluation), by
    :func:`eval_nats` with ``stride=eval_stride`` (``None``: consecutive blocks). Training stops
    early at an evaluation after ``stop_after_seconds`` of training, or with a validation loss at or
    below ``stop_below`` (the schedule still assumes ``steps``).
    """
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "emb" not in n and "tok" not in n
             and not n.startswith("pos")]
    rest = [p for p in model.parameters() if all(p is not q for q in decay)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: warmup_cosine(s, warmup, steps))
    ids, g, log = torch.from_numpy(train_ids), torch.Generator().manual_seed(seed), TrainLog()
    seconds, running = 0.0, []
    model.train()
    loop = progress(range(1, steps + 1)) if progress else range(1, steps + 1)
    for step in loop:
        start = time.perf_counter()
        x, y = random_blocks(ids, batch_size, block_size, g)
        logits = model(x.to(device))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1).to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        sched.step()
        running.append(loss.item())
        seconds += time.perf_counter() - start
        if step % eval_every == 0 or step == steps:
            log.step.append(step)
            log.seconds.append(seconds)
            log.train_loss.append(float(np.mean(running)))
            log.val_loss.append(eval_nats(model, val_ids, block_size, device, stride=eval_stride))
            log.lr.append(sched.get_last_lr()[0])
            running = []
            if (stop_after_seconds is not None and seconds >= stop_after_seconds) or \
                    (stop_below is not None and log.val_loss[-1] <= stop_below):
                break
    return log


class CharGRU(nn.Module):
    """Lesson 10's character model: embedding, GRU, linear head; ids ``(B, T)`` -> logits ``(B, T, V)``."""

    def __init__(self, vocab_size: int, embed: int = 32, hidden: int = 128) -> None:
        super().__init__()
        self.emb = nn.Embedding(vocab_size, embed)
        self.gru = nn.GRU(embed, hidden, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.emb(idx))                                      # (B, T, H)
        return self.head(states)
