"""``make gpu-check``: run every lesson in the full profile and the GPU benchmark, and write a report.

On a GPU machine (about eight minutes on one data-centre GPU):

1. print the doctor's report (``python -m dlcourse doctor``);
2. execute every lesson of ``notebooks/`` top to bottom in the ``full`` run profile, a few at a
   time, on copies (the committed outputs, a record of the ``quick`` profile, are never
   rewritten), and record each lesson's time and each claim cell's verdict: a claim cell
   (tagged ``claim``) asserts what the prose says, with the thresholds of the profile it runs in;
3. run the Fashion-MNIST benchmark's CUDA rows (float32 and mixed precision) and lesson 09's
   GPU goal;
4. write ``benchmarks/results/gpu.md``: the device, the versions, each lesson's time and error,
   each claim's result, the benchmark table.

CI runs the same script with ``--profile full-tiny --lessons-reading-profile --no-benchmark``: the
lessons that read the profile execute every branch of the full profile on the CPU at tiny
sizes, with claim cells skipped (at tiny sizes they assert nothing meaningful).

Usage:
    python -m tools.gpu_check                         # the whole check, report to benchmarks/results/gpu.md
    python -m tools.gpu_check --profile full-tiny --lessons-reading-profile --no-benchmark --out build/tiny.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "notebooks"
DEFAULT_OUT = ROOT / "benchmarks" / "results" / "gpu.md"
CELL_TIMEOUT_S = 900
#: The last lines each measured cell printed, kept in the report: the GPU's numbers for the prose.
MEASURED_LINES = 6


@dataclass
class Claim:
    cell: int
    first_line: str
    passed: bool | None  # None: skipped
    error: str = ""
    evidence: str = ""  # what the code cell before it printed: the numbers the claim was about


@dataclass
class LessonRun:
    lesson: str
    seconds: float
    error: str = ""  # the first error outside a claim cell, if any
    claims: list[Claim] = field(default_factory=list)
    profile_line: str = ""
    measured: list[str] = field(default_factory=list)  # what the cells tagged "measured" printed

    @property
    def ok(self) -> bool:
        return not self.error and all(c.passed is not False for c in self.claims)


def cpu_runtime(path: Path) -> float:
    """The lesson's committed run time on a 2-core CPU (``make outputs`` records it), 0 if unknown."""
    return float(nbformat.read(path, as_version=4).metadata.get("dlcourse", {}).get("cpu_runtime_s", 0))


def reads_profile(path: Path) -> bool:
    """Whether a lesson's code asks for the run profile (its sizes differ between profiles)."""
    nb = nbformat.read(path, as_version=4)
    return any("run_profile(" in cell.source for cell in nb.cells if cell.cell_type == "code")


def _error_text(output: dict) -> str:
    return f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()


def execute_lesson(path: Path, profile: str, skip_claims: bool) -> LessonRun:
    """Execute a copy of ``path`` in ``profile``; report its time, first error and claims."""
    os.environ["DLCOURSE_PROFILE"] = profile  # the kernel inherits this process's environment
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3", allow_errors=True,
                            skip_cells_with_tag="claim" if skip_claims else "skip-execution",
                            resources={"metadata": {"path": str(path.parent)}}, record_timing=False)
    tic = time.perf_counter()
    try:
        client.execute()
    except Exception as err:  # a timeout or a dead kernel: report it, go on with the others
        return LessonRun(path.name, time.perf_counter() - tic, f"{type(err).__name__}: {err}"[:500])
    run = LessonRun(path.name, time.perf_counter() - tic)
    printed = ""  # the text the last code cell printed
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        errors = [_error_text(o) for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        text = "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")
        if text.startswith("run profile:") and not run.profile_line:
            run.profile_line = text.splitlines()[0]
        if "claim" in cell.metadata.get("tags", []):
            first = next((line for line in cell.source.splitlines() if line.strip()), "")
            passed = None if skip_claims else not errors
            run.claims.append(Claim(index, first.lstrip("# ").strip(), passed, errors[0] if errors else "",
                                    printed[-1500:]))
            continue
        if errors and not run.error:
            run.error = f"cell {index}: {errors[0]}"[:500]
        if "measured" in cell.metadata.get("tags", []) or "tolerance" in cell.metadata.get("dlcourse", {}):
            run.measured += [f"cell {index}: {line}" for line in text.splitlines()[-MEASURED_LINES:]]
        printed = text
    return run


def doctor_report() -> str:
    done = subprocess.run([sys.executable, "-m", "dlcourse", "doctor"], capture_output=True, text=True,
                          cwd=ROOT)
    return (done.stdout + done.stderr).strip()


def benchmark(out: Path) -> tuple[str, int]:
    """Run the Fashion-MNIST benchmark's CUDA rows; return its table and exit status."""
    command = [sys.executable, str(ROOT / "benchmarks" / "fashion_mnist_train.py"),
               "--devices", "cuda", "cuda-amp", "--max-seconds", "30", "--out", str(out)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    text = out.read_text() if out.exists() else (done.stdout + done.stderr)[-3000:]
    return text, done.returncode


CPU_REFERENCE = ROOT / "benchmarks" / "results" / "fashion_mnist_train.md"


def with_cpu_rows(bench: str) -> str:
    """The benchmark's table with the committed 2-core CPU rows added, and the GPU/CPU ratios.

    The CPU rows come from ``benchmarks/results/fashion_mnist_train.md`` (the same script on the
    course's 2-core machine, its first table); a GPU machine's own CPU is not the learner's laptop.
    """
    if not CPU_REFERENCE.exists():
        return bench
    cpu_rows = []
    for line in CPU_REFERENCE.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 8 and cells[1] == "cpu":
            cpu_rows.append(cells)
        elif cpu_rows:
            break  # the first table only: the reference rows of a quiet machine
    lines = bench.splitlines()
    last = max((i for i, line in enumerate(lines) if line.startswith("| ")), default=None)
    if last is None or not cpu_rows:
        return bench
    added = [f"| {c[0]} | 2-core CPU ({CPU_REFERENCE.name}) | " + " | ".join(c[2:8]) + " |" for c in cpu_rows]
    gpu = {}
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[1].startswith("cuda"):
            gpu[(cells[0], cells[1])] = float(cells[3].replace(",", ""))
    cpu = {c[0]: float(c[3].replace(",", "")) for c in cpu_rows}
    ratios = [f"{model} {setting}: {ips / cpu[model]:,.0f}x the 2-core CPU's images/s"
              for (model, setting), ips in gpu.items() if model in cpu]
    out = lines[:last + 1] + added + lines[last + 1:]
    if ratios:
        out += ["", "Against the 2-core CPU: " + "; ".join(ratios) + "."]
    return "\n".join(out)


def machine() -> str:
    import torch

    from dlcourse.env.accelerator import mixed_precision_dtype, needs_grad_scaler, tf32_supported

    lines = [f"- Python {platform.python_version()}, torch {torch.__version__}, "
             f"{platform.system()} {platform.machine()}, {os.cpu_count()} logical CPU cores"]
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        dtype = mixed_precision_dtype("cuda")
        lines.append(f"- GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, compute capability "
                     f"{props.major}.{props.minor}, CUDA {torch.version.cuda}, "
                     f"cuDNN {torch.backends.cudnn.version()}")
        lines.append(f"- the full profile's mixed precision: {str(dtype).removeprefix('torch.')} autocast"
                     f"{' with a gradient scaler' if needs_grad_scaler(dtype) else ''}; TF32 tensor cores: "
                     f"{'yes' if tf32_supported('cuda') else 'no'}")
    else:
        lines.append("- GPU: none (CUDA not available): the lessons ran on the CPU")
    return "\n".join(lines)


def report(runs: list[LessonRun], profile: str, doctor: str, bench: str | None, total_s: float) -> str:
    claims = [(r.lesson, c) for r in runs for c in r.claims]
    verdict = {True: "pass", False: "**FAIL**", None: "skipped"}
    lines = [f"# GPU check ({profile} profile)", "",
             f"Written by `tools/gpu_check.py` (`make gpu-check`) on {datetime.date.today()}, in "
             f"{total_s:.0f} s in all.", "", machine(), "", "## Doctor", "", "```", doctor, "```", "",
             "## Lessons", "", "| lesson | time | result | run profile |", "|---|---:|---|---|"]
    for r in runs:
        result = "ok" if r.ok else (f"**error**: {r.error}" if r.error else "**claim failed**")
        lines.append(f"| {r.lesson} | {r.seconds:.1f} s | {result.replace('|', '/')} | {r.profile_line} |")
    lines += ["", "## Claims", "", "| lesson | cell | claim | result |", "|---|---:|---|---|"]
    for lesson, c in claims:
        result = verdict[c.passed] + (f": {c.error}" if c.error else "")
        claim = c.first_line.replace("|", "/")
        lines.append(f"| {lesson} | {c.cell} | {claim} | {result.replace('|', '/')} |")
    measured = [r for r in runs if r.measured]
    if measured:
        lines += ["", "## Measured outputs", "",
                  f"What each cell tagged `measured` printed (its last {MEASURED_LINES} lines): the "
                  "numbers the lessons' prose may quote for this profile.", ""]
        for r in measured:
            lines += [f"### {r.lesson}", "", "```", *r.measured, "```", ""]
    failed = [(lesson, c) for lesson, c in claims if c.passed is False]
    if failed:
        lines += ["", "## What the failed claims were about", ""]
        for lesson, c in failed:
            lines += [f"{lesson}, cell {c.cell}, after:", "", "```", c.evidence.strip(), "```", ""]
    if bench is not None:
        lines += ["", "## Benchmark", "", bench.strip()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=["full", "full-tiny", "quick"], default="full")
    parser.add_argument("--lessons", nargs="*", type=Path, default=None, help="default: every lesson")
    parser.add_argument("--lessons-reading-profile", action="store_true",
                        help="only the lessons whose code reads the run profile")
    parser.add_argument("--no-benchmark", action="store_true")
    parser.add_argument("-j", "--jobs", type=int, default=4, help="lessons run at a time (default 4)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    start = time.perf_counter()
    doctor = doctor_report()
    print(doctor, flush=True)
    lessons = [p.resolve() for p in args.lessons] if args.lessons else sorted(LESSONS.glob("*.ipynb"))
    if args.lessons_reading_profile:
        lessons = [p for p in lessons if reads_profile(p)]
    # The longest first, so that a few at a time finish together: those whose full profile is
    # larger, then by their time on a CPU.
    lessons.sort(key=lambda p: (not reads_profile(p), -cpu_runtime(p)))
    skip_claims = args.profile == "full-tiny"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # The benchmark first, on a quiet GPU; then the lessons, a few at a time. The report is
    # rewritten after each step, so a run cut short still leaves what it measured.
    bench, bench_status = None, 0
    if not args.no_benchmark:
        with tempfile.TemporaryDirectory() as scratch:
            bench, bench_status = benchmark(Path(scratch) / "benchmark.md")
        bench = with_cpu_rows(bench)
        print(bench, flush=True)
        args.out.write_text(report([], args.profile, doctor, bench, time.perf_counter() - start))
    runs = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        futures = [pool.submit(execute_lesson, p, args.profile, skip_claims) for p in lessons]
        for future in as_completed(futures):
            run = future.result()
            runs.append(run)
            status = "ok" if run.ok else "FAILED " + run.error
            print(f"{run.seconds:7.1f} s  {run.lesson}  {status}", flush=True)
            for c in run.claims:
                if c.passed is False:
                    print(f"    claim in cell {c.cell} failed: {c.first_line} -> {c.error}", flush=True)
            runs.sort(key=lambda r: r.lesson)
            args.out.write_text(report(runs, args.profile, doctor, bench, time.perf_counter() - start))
    print(f"wrote {args.out}", flush=True)
    return 0 if all(r.ok for r in runs) and bench_status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
