"""Train the course's Fashion-MNIST models on the CPU and, when present, on CUDA (float32 and mixed
precision), and write a table: images per second, time to a fixed test accuracy, final accuracy.

Usage (from the repository root):
    python benchmarks/fashion_mnist_train.py                  # every model on every device here
    python benchmarks/fashion_mnist_train.py --models mlp --epochs 5 --size subset   # a quick look
    python benchmarks/fashion_mnist_train.py --out benchmarks/results/fashion_mnist_train.md

The full Fashion-MNIST is used by default (see ``dlcourse.data.fashion_mnist``: a local copy, Debian's
``dataset-fashion-mnist``, or a download). Rows:

- ``cpu``: float32 on all logical cores (``--threads`` to change);
- ``cuda fp32`` and ``cuda bfloat16`` (or ``cuda float16`` with gradient scaling on a GPU without
  native bfloat16, compute capability below 8.0 such as Colab's T4): mixed precision as
  ``fit(amp=True)`` chooses it; only where CUDA exists.

Each run trains with :func:`dlcourse.pytorch.training.fit` (Adam, one-cycle schedule stepped per batch,
data already on the device in :class:`dlcourse.pytorch.training.TensorBatches`) and evaluates the test
accuracy after every epoch. *Images per second* counts training images over training time;
*time to target* is the training time (the per-epoch test evaluation excluded) until the test
accuracy first reaches the model's target. ``--max-seconds`` caps a run (a slow CPU row stops
early and says so; on the CPU the CNN trains on the first 6,000 images per epoch, see
:data:`CPU_IMAGES`). The models are the course's own (:mod:`dlcourse.pytorch.models`): lesson
07's MLP and lesson 09's CNN as the ``full`` run profile trains it. The goal on one H100-class
GPU: the CNN to at least 92 % test accuracy within 15 seconds of training (:data:`GOAL_SECONDS`).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from dlcourse.data.fashion_mnist import load_fashion_mnist
from dlcourse.env.accelerator import mixed_precision_dtype, synchronize
from dlcourse.env.seeding import seed_everything
from dlcourse.pytorch.models import mlp_classifier, small_cnn
from dlcourse.pytorch.training import StopTraining, TensorBatches, evaluate, fit, images_to_tensor


def lesson09_cnn() -> nn.Module:
    """Lesson 09's CNN as the full run profile trains it: 32 and 64 filters, a 256-unit dense layer."""
    return small_cnn(channels=(32, 64), hidden=256, dropout=0.3)


#: name -> (builder, target test accuracy, epochs, max learning rate, batch size)
MODELS = {
    "mlp": (mlp_classifier, 0.88, 15, 3e-3, 256),
    "cnn": (lesson09_cnn, 0.92, 12, 3e-3, 256),
}
#: The goal on one H100-class GPU: lesson 09's CNN at the target within this much training time.
GOAL_SECONDS = 15.0
#: On the CPU, the CNN trains on the first this many training images per epoch (a full epoch
#: would take many minutes on 2 cores); images per second are still measured honestly.
CPU_IMAGES = {"mlp": None, "cnn": 6000}


@dataclass
class Result:
    model: str
    setting: str
    epochs_run: int
    epochs_planned: int
    images_per_s: float
    time_to_target_s: float | None
    target: float
    final_acc: float
    train_s: float
    note: str = ""


class TestAccuracy:
    """A fit() callback: test accuracy after each epoch, timed apart from training."""

    def __init__(self, batches, amp: bool, target: float, max_seconds: float, start: float) -> None:
        self.batches, self.amp, self.target, self.max_seconds = batches, amp, target, max_seconds
        self.start, self.eval_s = start, 0.0
        self.accs: list[float] = []
        self.time_to_target: float | None = None

    def __call__(self, history, model) -> None:
        tic = time.perf_counter()
        self.accs.append(evaluate(model, self.batches, amp=self.amp)["acc"])
        self.eval_s += time.perf_counter() - tic
        train_s = time.perf_counter() - self.start - self.eval_s
        if self.time_to_target is None and self.accs[-1] >= self.target:
            self.time_to_target = train_s
        if train_s > self.max_seconds:
            raise StopTraining


def run(name: str, device: torch.device, amp: bool, data, max_seconds: float,
        epochs: int | None, limit: int | None = None) -> Result:
    build, target, default_epochs, lr, batch_size = MODELS[name]
    epochs = epochs or default_epochs
    (x, y), (xt, yt) = data
    if limit is not None and limit < len(y):
        x, y = x[:limit], y[:limit]
    seed_everything(0, threads=None, deterministic=False)
    torch.backends.cudnn.benchmark = True
    model = build().to(device)
    train = TensorBatches(x, y, batch_size, shuffle=True, device=device)
    test = TensorBatches(xt, yt, 2000, device=device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, epochs=epochs,
                                                    steps_per_epoch=len(train))
    synchronize(device)
    start = time.perf_counter()
    probe = TestAccuracy(test, amp, target, max_seconds, start)
    history = fit(model, optimizer, train, epochs=epochs, scheduler=scheduler, scheduler_step="batch",
                  amp=amp, callbacks=[probe], verbose=False, progress_bar=False)
    train_s = time.perf_counter() - start - probe.eval_s
    precision = str(mixed_precision_dtype(device)).removeprefix("torch.") if amp else "fp32"
    setting = device.type + ("" if device.type == "cpu" and not amp else f" {precision}")
    notes = [] if len(history) == epochs else [f"stopped after {len(history)} of {epochs} epochs (time cap)"]
    if limit is not None and limit == len(y):
        notes.append(f"trained on the first {limit:,} images per epoch")
    note = "; ".join(notes)
    return Result(name, setting, len(history), epochs, len(history) * len(y) / train_s,
                  probe.time_to_target, target, probe.accs[-1], train_s, note)


def machine(threads: int) -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    lines = [f"- CPU: {cpu}, {os.cpu_count()} logical cores; Python {platform.python_version()}, "
             f"torch {torch.__version__}, {platform.system()} {platform.machine()}; CPU rows used "
             f"{threads} thread(s)"]
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        lines.append(f"- GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, "
                     f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}")
    else:
        lines.append("- GPU: none on this machine, so there are no CUDA rows")
    try:
        load = os.getloadavg()[0]
        lines.append(f"- load average when the run ended: {load:.1f} (other jobs shared the CPU when it is "
                     f"above the core count)")
    except OSError:
        pass
    return lines


def table(results: list[Result], size: str, n_train: int) -> str:
    rows = ["| model | device | epochs | images/s | time to target | target | final test accuracy | note |",
            "|---|---|---:|---:|---:|---:|---:|---|"]
    for r in results:
        ttt = f"{r.time_to_target_s:.1f} s" if r.time_to_target_s is not None else "not reached"
        rows.append(f"| {r.model} | {r.setting} | {r.epochs_run}/{r.epochs_planned} | "
                    f"{r.images_per_s:,.0f} | {ttt} | {r.target:.2f} | {r.final_acc:.4f} | {r.note} |")
    cpu = {r.model: r.images_per_s for r in results if r.setting == "cpu"}
    ratios = [f"{r.model} {r.setting}: {r.images_per_s / cpu[r.model]:.0f}× the CPU's images/s"
              for r in results if r.setting.startswith("cuda") and r.model in cpu]
    text = "\n".join(rows)
    for r in results:
        if r.model == "cnn" and r.setting.startswith("cuda"):
            met = r.time_to_target_s is not None and r.time_to_target_s <= GOAL_SECONDS
            ratios_note = (f"goal ({r.target:.0%} within {GOAL_SECONDS:.0f} s of training) "
                           f"{'met' if met else 'NOT met'} by cnn {r.setting}")
            text += "\n\n" + ratios_note + "."
    if ratios:
        text += "\n\nSpeed-up over the CPU: " + "; ".join(ratios) + "."
    return (f"Fashion-MNIST ({size}: {n_train:,} training images, test accuracy on the "
            f"{'10,000' if size == 'full' else '2,000'} test images)\n\n" + text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--devices", nargs="+", default=None,
                        help="any of: cpu cuda cuda-amp (default: cpu, plus both CUDA rows when present)")
    parser.add_argument("--size", choices=["full", "subset"], default="full")
    parser.add_argument("--epochs", type=int, default=None, help="override every model's epochs")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="training-time cap per run")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                        help="CPU threads for torch (default: all logical cores)")
    parser.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = parser.parse_args(argv)

    settings = args.devices or (["cpu"] + (["cuda", "cuda-amp"] if torch.cuda.is_available() else []))
    torch.set_num_threads(args.threads)
    train, test = load_fashion_mnist("train", size=args.size), load_fashion_mnist("test", size=args.size)
    data = ((images_to_tensor(train.images), torch.as_tensor(train.labels, dtype=torch.int64)),
            (images_to_tensor(test.images), torch.as_tensor(test.labels, dtype=torch.int64)))
    results = []
    for name in args.models:
        for setting in settings:
            device = torch.device("cuda" if setting.startswith("cuda") else "cpu")
            limit = CPU_IMAGES[name] if device.type == "cpu" and args.size == "full" else None
            result = run(name, device, setting == "cuda-amp", data, args.max_seconds, args.epochs, limit)
            reached = (f"{result.time_to_target_s:.1f} s" if result.time_to_target_s is not None
                       else "not reached")
            print(f"{result.model:4} {result.setting:9} {result.images_per_s:10,.0f} images/s  "
                  f"final acc {result.final_acc:.4f}  time to {result.target:.2f}: {reached}  "
                  f"{result.note}", flush=True)
            results.append(result)
    report = "\n".join([
        "# Benchmark: training the course's Fashion-MNIST models",
        "",
        f"Measured {datetime.date.today().isoformat()} with "
        f"`python benchmarks/{Path(__file__).name} {' '.join(argv if argv is not None else sys.argv[1:])}`.",
        "",
        *machine(args.threads),
        "",
        table(results, args.size, len(train)),
        "",
    ])
    print(report)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
