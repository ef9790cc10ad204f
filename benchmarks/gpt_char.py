"""Lesson 13's small GPT: training speed (tokens/s) and held-out loss of candidate shapes, beside the GRU.

Usage (from the repository root):
    python benchmarks/gpt_char.py                     # CPU, 1 thread: benchmarks/results/gpt_char.md
    python benchmarks/gpt_char.py --devices cpu cuda  # also CUDA rows, on a GPU machine
    python benchmarks/gpt_char.py --steps 200 --out - # a quick look, table to stdout

Data: the review sentences of ``dlcourse.data.reviews`` as one character stream per split
(``dlcourse.pytorch.char_lm.load_review_text``: every tenth sentence held out), exactly as the
lesson, scored on its first 20,000 held-out characters. Every model is trained by
``dlcourse.pytorch.char_lm.train_lm`` with the lesson's recipe (AdamW at 0.003, warm-up of 50
steps then a cosine over ``--steps``, clipping at 1, batches of 32 windows) for the same number of
steps. The held-out loss is fair to the networks as the n-grams are to themselves: the GPT scores
every character with sliding windows (stride ``T / 2``, so at least ``T / 2`` characters of
context), the GRU carries its state over the whole text. The target is the **trigram**'s held-out
cross-entropy; *time to target* is the training time until the first evaluation (every
``--eval-every`` steps) at or below it. *tokens/s* counts training tokens over training time
(evaluations excluded), so on a loaded machine it is a lower bound: the load average is printed.
*CPU time* is the process's own CPU time over the whole run, evaluations included: with one thread,
close to what the run takes on a quiet machine (contention for caches and memory makes it a little
longer on a loaded one), so it estimates the lesson's training time on a quiet 2-core CPU.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import sys
import time
from pathlib import Path

import torch

from dlcourse.pytorch.char_lm import CharGRU, eval_nats, load_review_text, train_lm
from dlcourse.pytorch.gpt import GPT, GPTConfig
from dlcourse.pytorch.ngram import fit_ngram

OUT = Path(__file__).parent / "results" / "gpt_char.md"
#: Candidate shapes: the lesson's quick profile first, then the previous one and a wider, longer one.
SHAPES = {"GPT T=32 D=128 (lesson)": {"block_size": 32, "d_model": 128},
          "GPT T=64 D=64 (before)": {"block_size": 64, "d_model": 64},
          "GPT T=64 D=128": {"block_size": 64, "d_model": 128},
          "GRU 128, T=32": None}
BATCH, LR, VAL_CHARS = 32, 3e-3, 20_000


def run(name: str, shape: dict | None, device: torch.device, steps: int, eval_every: int,
        target: float) -> dict:
    """Train one candidate for ``steps`` steps; return its row."""
    text = load_review_text()
    val = text.val[:VAL_CHARS]
    torch.manual_seed(0)
    if shape is None:
        block, stride = 32, None
        model = CharGRU(text.vocab_size, 32, 128).to(device)
    else:
        block, stride = shape["block_size"], shape["block_size"] // 2
        model = GPT(GPTConfig(text.vocab_size, n_heads=4, n_layers=2, **shape)).to(device)
    load_before, cpu_before = os.getloadavg()[0], time.process_time()
    log = train_lm(model, text.train, val, steps=steps, batch_size=BATCH, block_size=block, lr=LR,
                   device=device, eval_every=eval_every, eval_stride=stride)
    cpu_seconds = time.process_time() - cpu_before
    final = log.val_loss[-1] if shape is not None else eval_nats(model, val, len(val) - 1, device)
    return {"name": name, "device": device.type, "params": sum(p.numel() for p in model.parameters()),
            "tokens_per_s": steps * BATCH * block / log.seconds[-1], "seconds": log.seconds[-1],
            "cpu_seconds": cpu_seconds,
            "load": f"{load_before:.1f} to {os.getloadavg()[0]:.1f}", "final": final,
            "time_to_target": log.time_to(target) if shape is not None else float("nan")}


def table(rows: list[dict], target: float, steps: int) -> str:
    lines = [f"| model | device | parameters | tokens/s | load average | training time ({steps} steps) | "
             f"CPU time | held-out nats/char | time to the trigram's {target:.3f} |", "|---" * 9 + "|"]
    for r in rows:
        if r["name"].startswith("GRU"):
            reached = "(not tracked)"
        else:
            reached = "not reached" if math.isnan(r["time_to_target"]) else f"{r['time_to_target']:.0f} s"
        lines.append(f"| {r['name']} | {r['device']} | {r['params']:,} | {r['tokens_per_s']:,.0f} | "
                     f"{r['load']} | {r['seconds']:.0f} s | {r['cpu_seconds']:.0f} s | {r['final']:.3f} | "
                     f"{reached} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=["cpu"])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--eval-every", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(OUT), help="a file, or - for stdout")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    text = load_review_text()
    target = fit_ngram(text.train, 3, text.vocab_size).nats(text.val[:VAL_CHARS])
    rows = [run(name, shape, torch.device(d), args.steps, args.eval_every, target)
            for d in args.devices for name, shape in SHAPES.items()]
    rows_text = table(rows, target, args.steps)
    if "cuda" not in args.devices:
        rows_text += "".join(f"\n| {name} | cuda | | not measured | | not measured | | | |"
                             for name in SHAPES)
    report = f"""# Benchmark: lesson 13's small GPT on the review text

Written by `benchmarks/gpt_char.py` on {datetime.date.today()}: {platform.processor() or platform.machine()},
{os.cpu_count()} logical cores, {args.threads} thread(s); Python {platform.python_version()},
torch {torch.__version__}. The load average (1 minute) before and after each run is in the table: other
jobs shared the CPU when it is above the core count, and the CPU rows are then slower than on a quiet
machine (tokens/s is a lower bound; CPU time, the process's own, estimates a quiet machine's time; the
held-out losses do not depend on the load).

```
python benchmarks/gpt_char.py{''.join(' ' + a for a in (argv if argv is not None else sys.argv[1:]))}
```

Every model: 2 pre-norm blocks and 4 heads for the GPTs, batches of {BATCH} windows, AdamW at {LR},
warm-up and a cosine over {args.steps} steps, clipping at 1. Held-out: the first {VAL_CHARS:,} held-out
characters, every character with its full context (GPT: sliding windows of stride T/2; GRU: state
carried over the whole text), the trigram's {target:.3f} nats per character on the same characters.

{rows_text}
"""
    if args.out == "-":
        print(report)
    else:
        Path(args.out).write_text(report)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
