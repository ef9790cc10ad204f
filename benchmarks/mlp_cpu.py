"""The Part I benchmark: the same MLP trained on the CPU three ways, in one run.

Usage (from the repository root):
    python benchmarks/mlp_cpu.py                                   # writes benchmarks/results/mlp_cpu.md
    python benchmarks/mlp_cpu.py --epochs 5 --repeats 1 --out -    # a quick look, table to stdout

Contestants, all in float32, with the same data, split, architecture, optimiser and schedule:

- ``numpy``: the course's from-scratch network (``dlcourse.numpy_nn.layers.mlp``,
  ``dlcourse.numpy_nn.optimizers.Adam``, ``dlcourse.numpy_nn.training.train``);
- ``sklearn``: scikit-learn's ``MLPClassifier`` (``solver="adam"``, L2 penalty and early stopping off);
- ``torch``: a PyTorch ``nn.Sequential`` with ``torch.optim.Adam``, mini-batches sliced from tensors
  (no DataLoader, so that the loop costs what the other two loops cost).

Data: scikit-learn's handwritten digits, pixels scaled to [0, 1], a stratified quarter held out for
testing (``random_state=0``), exactly as in lessons 05 and its exercise. Network: 64-128-64-10
with ReLU, Adam with learning rate 0.001, mini-batches of 32, 30 epochs. Each contestant trains
``--repeats`` times from fresh weights (one seed per repeat); the table gives the median time per
epoch (training only: the test accuracy is measured after training) and the median test accuracy.

Threads: every library runs on ``--threads`` threads (default 1: for matrices this small, more
threads only add synchronisation; set it to the number of cores to compare).

OpenBLAS: this machine may export ``OPENBLAS_CORETYPE`` (forcing one CPU kernel) and
``OPENBLAS_L2_SIZE``. NumPy and SciPy read them when they load OpenBLAS, so this script removes both
from its own environment before it imports NumPy (``--keep-openblas-env`` keeps them); the table
reports the values found and the kernel that OpenBLAS actually chose (from threadpoolctl). The
environment of everything else (tests, notebooks) is left alone.
"""

from __future__ import annotations

import argparse
import os
import sys

OPENBLAS_VARIABLES = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def _openblas_env_from_argv() -> dict[str, str]:
    """Remove the OpenBLAS variables unless asked not to; return what was found. Runs before NumPy loads."""
    found = {name: os.environ[name] for name in OPENBLAS_VARIABLES if name in os.environ}
    if "--keep-openblas-env" not in sys.argv:
        for name in found:
            del os.environ[name]
    return found


OPENBLAS_ENV_FOUND = _openblas_env_from_argv()

import datetime  # noqa: E402 - after the environment is settled
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
import torch  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

from dlcourse.numpy_nn.layers import mlp  # noqa: E402
from dlcourse.numpy_nn.optimizers import Adam  # noqa: E402
from dlcourse.numpy_nn.training import accuracy, train  # noqa: E402

HIDDEN = (128, 64)
LEARNING_RATE = 1e-3


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The course's digits split, in float32: X_train (1347, 64), X_test (450, 64), int64 labels."""
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def run_numpy(data, epochs: int, batch_size: int, seed: int) -> tuple[float, float]:
    X_train, X_test, y_train, y_test = data
    rng = np.random.default_rng(seed)
    model = mlp([X_train.shape[1], *HIDDEN, 10], "relu", rng=rng, dtype=np.float32)
    optimiser = Adam(model.params(), lr=LEARNING_RATE)
    start = time.perf_counter()
    train(model, optimiser, X_train, y_train, epochs=epochs, batch_size=batch_size, rng=rng,
          show_progress=False, measure_accuracy=False)
    seconds = time.perf_counter() - start
    return seconds / epochs, accuracy(model, X_test, y_test)


def run_sklearn(data, epochs: int, batch_size: int, seed: int) -> tuple[float, float]:
    X_train, X_test, y_train, y_test = data
    model = MLPClassifier(hidden_layer_sizes=HIDDEN, activation="relu", solver="adam",
                          learning_rate_init=LEARNING_RATE, batch_size=batch_size, max_iter=epochs,
                          alpha=0.0, tol=0.0, n_iter_no_change=epochs, shuffle=True, random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # it stops after max_iter epochs, as asked
        model.fit(X_train, y_train)
    seconds = time.perf_counter() - start
    if model.n_iter_ != epochs:
        raise RuntimeError(f"MLPClassifier stopped after {model.n_iter_} epochs instead of {epochs}")
    if model.coefs_[0].dtype != np.float32:
        raise RuntimeError(f"MLPClassifier trained in {model.coefs_[0].dtype}, not float32")
    return seconds / epochs, float(model.score(X_test, y_test))


def run_torch(data, epochs: int, batch_size: int, seed: int) -> tuple[float, float]:
    X_train, X_test, y_train, y_test = (torch.from_numpy(np.ascontiguousarray(a)) for a in data)
    torch.manual_seed(seed)
    sizes = [X_train.shape[1], *HIDDEN, 10]
    layers: list[torch.nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimiser = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    loss_fn = torch.nn.CrossEntropyLoss()
    n = len(X_train)
    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(n)
        for first in range(0, n, batch_size):
            idx = order[first:first + batch_size]
            optimiser.zero_grad(set_to_none=True)
            loss = loss_fn(model(X_train[idx]), y_train[idx])
            loss.backward()
            optimiser.step()
    seconds = time.perf_counter() - start
    with torch.no_grad():
        test_accuracy = (model(X_test).argmax(dim=1) == y_test).double().mean().item()
    return seconds / epochs, test_accuracy


CONTESTANTS: dict[str, tuple[str, Callable]] = {
    "numpy": ("from-scratch NumPy network (dlcourse)", run_numpy),
    "sklearn": ("scikit-learn MLPClassifier", run_sklearn),
    "torch": ("PyTorch nn.Sequential + torch.optim.Adam", run_torch),
}


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def blas_description() -> str:
    parts = []
    for info in threadpool_info():
        if info.get("user_api") == "blas":
            library = Path(info["filepath"]).name
            parts.append(f"{library} {info.get('version')} (kernel {info.get('architecture')}, "
                         f"{info['num_threads']} thread(s))")
    return "; ".join(parts) or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3, help="runs per contestant (median reported)")
    parser.add_argument("--threads", type=int, default=1, help="threads for NumPy, SciPy and torch")
    parser.add_argument("--keep-openblas-env", action="store_true",
                        help="keep OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (removed by default)")
    parser.add_argument("--out", default="benchmarks/results/mlp_cpu.md", help="'-' for stdout only")
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    data = load_split()
    results: dict[str, tuple[list[float], list[float]]] = {}
    with threadpool_limits(limits=args.threads):
        blas = blas_description()
        for repeat in range(args.repeats + 1):  # round 0 warms up caches and lazy imports; not counted
            for name, (_, run) in CONTESTANTS.items():
                per_epoch, test_accuracy = run(data, args.epochs, args.batch_size, seed=repeat)
                if repeat:
                    results.setdefault(name, ([], []))
                    results[name][0].append(per_epoch)
                    results[name][1].append(test_accuracy)
                    print(f"{name:8} repeat {repeat}: {per_epoch * 1e3:7.2f} ms/epoch, "
                          f"test accuracy {test_accuracy:.3f}", flush=True)

    median_time = {name: statistics.median(times) for name, (times, _) in results.items()}
    median_accuracy = {name: statistics.median(accs) for name, (_, accs) in results.items()}
    env_note = (", ".join(f"{k}={v}" for k, v in OPENBLAS_ENV_FOUND.items()) or "none set")
    env_action = "kept" if args.keep_openblas_env else "removed for this run"
    lines = [
        "# MLP on the CPU: from-scratch NumPy vs scikit-learn vs PyTorch",
        "",
        f"Written by `benchmarks/mlp_cpu.py` on {datetime.date.today().isoformat()}.",
        "",
        f"Task: scikit-learn's digits, {len(data[0])} training and {len(data[1])} test images, 64-"
        f"{'-'.join(map(str, HIDDEN))}-10 MLP with ReLU, Adam (learning rate {LEARNING_RATE}), "
        f"mini-batches of {args.batch_size}, {args.epochs} epochs, float32; median of {args.repeats} "
        "runs from fresh weights (after one warm-up round).",
        "",
        "| contestant | time per epoch (ms) | test accuracy | time relative to NumPy |",
        "|---|---:|---:|---:|",
    ]
    for name, (label, _) in CONTESTANTS.items():
        lines.append(f"| {label} | {median_time[name] * 1e3:.2f} | {median_accuracy[name]:.3f} | "
                     f"{median_time[name] / median_time['numpy']:.2f}x |")
    numpy_vs_sklearn = median_time["numpy"] / median_time["sklearn"]
    numpy_vs_torch = median_time["numpy"] / median_time["torch"]
    lines += [
        "",
        f"- NumPy / scikit-learn time: **{numpy_vs_sklearn:.2f}** (goal: at most 1.0)",
        f"- NumPy / PyTorch time: **{numpy_vs_torch:.2f}** (goal: at most 1.5)",
        "- every run, in ms per epoch: " + "; ".join(
            f"{name} " + ", ".join(f"{t * 1e3:.2f}" for t in times) for name, (times, _) in results.items()),
        "",
        "Machine:",
        "",
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores; {platform.system()} {platform.release()}",
        f"- load average (1, 5, 15 min) when the table was written: "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} (above 0: other processes were running)",
        f"- threads: {args.threads} for every library (threadpoolctl for BLAS, torch.set_num_threads)",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, scikit-learn {sklearn.__version__}, "
        f"torch {torch.__version__}",
        f"- BLAS: {blas}",
        f"- OpenBLAS environment: {env_note} ({env_action})",
        "",
        "Times vary by a few percent from run to run, more on a busy machine; compare ratios measured in",
        "the same run.",
    ]
    table = "\n".join(lines) + "\n"
    print()
    print(table)
    if args.out != "-":
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(table)
        print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
