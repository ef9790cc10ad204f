"""Lesson 13's small GPT: training speed (tokens/s) and time to a target validation loss.

Usage (from the repository root):
    python benchmarks/gpt_char.py                        # CPU, writes benchmarks/results/gpt_char.md
    python benchmarks/gpt_char.py --devices cpu cuda      # also a CUDA row, on a GPU machine
    python benchmarks/gpt_char.py --max-seconds 30 --out -   # a quick look, table to stdout

Data: the review sentences of ``dlcourse.data.reviews`` as one character stream per split
(``dlcourse.pytorch.char_lm.load_review_text``: every tenth sentence held out), exactly as the
lesson. Model: the lesson's quick-profile GPT (``dlcourse.pytorch.gpt``: 2 pre-norm blocks, width
64, 4 heads, context 64), trained by ``dlcourse.pytorch.char_lm.train_lm`` (AdamW, learning rate
0.003, warm-up of 50 steps then a cosine over ``--max-steps``, clipping at 1, batches of 32 windows).
The target is the **trigram's** held-out cross-entropy on the same validation characters (the
lesson's best count-based baseline), so *time to target* answers the lesson's question: how long
this GPT trains before it beats counting. *tokens/s* counts training tokens over training time; the
validation loss is measured every ``--eval-every`` steps (evaluation time not counted).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

import torch

from dlcourse.pytorch.char_lm import load_review_text, train_lm
from dlcourse.pytorch.gpt import GPT, GPTConfig
from dlcourse.pytorch.ngram import fit_ngram

OUT = Path(__file__).parent / "results" / "gpt_char.md"
CONFIG = {"block_size": 64, "d_model": 64, "n_heads": 4, "n_layers": 2}
BATCH, LR, VAL_CHARS = 32, 3e-3, 20_000


def run(device: torch.device, max_steps: int, max_seconds: float, eval_every: int) -> dict:
    """Train in chunks of ``eval_every`` steps until the target or the time limit; return one row."""
    text = load_review_text()
    val = text.val[:VAL_CHARS]
    target = fit_ngram(text.train, 3, text.vocab_size).nats(val)
    torch.manual_seed(0)
    model = GPT(GPTConfig(text.vocab_size, **CONFIG)).to(device)
    log = train_lm(model, text.train, val, steps=max_steps, batch_size=BATCH, block_size=CONFIG["block_size"],
                   lr=LR, device=device, eval_every=eval_every, stop_after_seconds=max_seconds,
                   stop_below=target)
    steps, seconds = log.step[-1], log.seconds[-1]
    return {"device": device.type, "params": sum(p.numel() for p in model.parameters()),
            "tokens_per_s": steps * BATCH * CONFIG["block_size"] / seconds, "target": target,
            "time_to_target": log.time_to(target), "steps": steps, "seconds": seconds,
            "final": log.val_loss[-1],
            "step_at_target": next((s for s, v in zip(log.step, log.val_loss, strict=True) if v <= target),
                                   None)}


def table(rows: list[dict]) -> str:
    lines = ["| device | parameters | tokens/s | target (trigram, nats/char) | time to target | "
             "steps run | val loss at the end |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        reached = (f"{r['time_to_target']:.0f} s (step {r['step_at_target']})" if r["step_at_target"]
                   else f"not reached in {r['seconds']:.0f} s")
        lines.append(f"| {r['device']} | {r['params']:,} | {r['tokens_per_s']:,.0f} | {r['target']:.3f} | "
                     f"{reached} | {r['steps']} | {r['final']:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", nargs="+", default=["cpu"])
    parser.add_argument("--max-steps", type=int, default=4000)
    parser.add_argument("--max-seconds", type=float, default=600.0)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(OUT), help="a file, or - for stdout")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = [run(torch.device(d), args.max_steps, args.max_seconds, args.eval_every) for d in args.devices]
    if "cuda" not in args.devices:
        rows_text = table(rows) + "\n| cuda | | not measured | | not measured | | |"
    else:
        rows_text = table(rows)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    report = f"""# Benchmark: lesson 13's small GPT on the review text

Written by `benchmarks/gpt_char.py` on {datetime.date.today()}: {platform.processor() or platform.machine()},
{os.cpu_count()} logical cores, {args.threads} thread(s); Python {platform.python_version()},
torch {torch.__version__};
load average when the run ended: {load:.1f} (other jobs shared the CPU when it is above the core count:
the CPU rows are then slower than on a quiet machine).

```
python benchmarks/gpt_char.py{''.join(' ' + a for a in (argv if argv is not None else sys.argv[1:]))}
```

Model: {CONFIG} (the lesson's quick profile), batches of {BATCH} windows, AdamW at {LR}, warm-up and
a cosine over {args.max_steps} steps, clipping at 1; stopped after {args.max_seconds:.0f} s of training.
Target: the character trigram's cross-entropy on the same {VAL_CHARS:,} held-out characters.

{rows_text}
"""
    if args.out == "-":
        print(report)
    else:
        Path(args.out).write_text(report)
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
