"""The Gradescope autograder: ``make gradescope ASSIGNMENT=NN`` builds it, Gradescope runs it.

Gradescope's specification (https://gradescope-autograders.readthedocs.io/en/latest/specs/): a zip
with ``setup.sh`` at its root, run once as root when Gradescope builds the autograder's image, and
``run_autograder``, run as root for each submission, which writes
``/autograder/results/results.json``; the zip is unpacked into ``/autograder/source``, the
submission is in ``/autograder/submission`` and its metadata (the submission's time, the due date)
in ``/autograder/submission_metadata.json``. The zip built here holds those two scripts
(tools/grading/gradescope_files/), ``gradescope.json`` (the settings chosen at build time) and
``course/``: the package, the tools, the data and the assignment's one solution notebook (the
source of the answer key). ``setup.sh`` installs it with the pinned versions.

For each submission, ``run`` (``python -m tools.grading.gradescope run /autograder``):

1. closes the autograder's folders to every user but root: the source (with the solution), the
   submission, the results, the submission's metadata;
2. takes the one notebook of the submission (a regular file, never a link) into a private folder;
3. runs the solution once to make the answer key, in memory, before the submission runs; then
   grades the submission as ``make grade`` does (tools/grading/key.py, workers.py, scoring.py).
   The kernels run in bubblewrap where the container allows it, else as an unprivileged user of
   their own, without namespaces (``Sandbox(bwrap=False)``, tools/grading/sandbox.py);
4. writes ``results.json``: a test per graded test cell, with its points and the feedback
   ``make grade`` gives (``visible`` when the cell has only visible checks, ``after_published``
   when its points depend on hidden tests, plus an unscored ``visible`` test with the visible
   checks' verdict); written answers are named in the output for Gradescope's manual grading; the
   late penalty (tools/grading/late.py) from the submission's time and the due date in the
   metadata is applied to the top-level score. When grading fails, ``results.json`` still says so.

``measure`` runs ``run`` with each assignment's solution as the submission, one at a time, and
reports the time and the memory it took (docs/instructors.md has the table).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

from dlcourse.exercises import checking_blocks
from tools.grading.assignment import is_autograded_test, nbgrader_meta, resolve_source
from tools.grading.late import LatePolicy, parse_time
from tools.grading.sandbox import GIB, Limits
from tools.notebook_meta import ROOT, SOLUTIONS

#: setup.sh and run_autograder, copied to the zip's root.
FILES = Path(__file__).resolve().parent / "gradescope_files"
#: The course's parts that the zip carries (besides the one solution notebook), under ``course/``.
COURSE_PARTS = ("pyproject.toml", "constraints.txt", "README.md", "LICENSE", "dlcourse", "data",
                "tools/__init__.py", "tools/notebook_meta.py", "tools/make_exercises.py",
                "tools/grading")
SETTINGS = "gradescope.json"
#: The name a submission gets in the grader's results (Gradescope knows who it is).
STUDENT = "submission"
#: ``DLCOURSE_GRADESCOPE_SANDBOX=bwrap|user`` overrides the choice (``auto``: bwrap if it works).
SANDBOX_VARIABLE = "DLCOURSE_GRADESCOPE_SANDBOX"
#: Kernel users are this plus twice the grader's process id, plus the slot (no accounts).
KERNEL_UID_BASE = 200_000
DEFAULTS = {"cell_timeout": 60, "notebook_timeout": 240, "max_output_bytes": 100_000,
            "memory_limit": Limits.memory, "process_limit": Limits.processes,
            "scratch_limit": Limits.scratch, "late_penalty": 10.0, "late_cap": 100.0,
            "grace_minutes": 0.0, "sandbox": "auto"}


def resolve_assignment(name: str) -> Path:
    """The source notebook of ``name``: as ``make grade`` takes it, or its number (``00``)."""
    matches = sorted(SOLUTIONS.glob(f"{name}_*.ipynb"))
    if len(matches) == 1 and not (SOLUTIONS / f"{name}.ipynb").exists():
        return matches[0]
    return resolve_source(name)


# ---- Building the zip ----------------------------------------------------------------------------

def _course_files(source: Path) -> list[tuple[str, Path]]:
    """``(name in the zip, file)`` for the course's parts and the assignment's solution."""
    found = []
    for part in COURSE_PARTS:
        path = ROOT / part
        files = [path] if path.is_file() else sorted(
            p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            and p.suffix != ".pyc")
        found += [(f"course/{p.relative_to(ROOT)}", p) for p in files]
    return found + [(f"course/solutions/{source.name}", source)]


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int) -> None:
    info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # the same zip for the same input
    info.external_attr = (stat.S_IFREG | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build(assignment: str, out_dir: Path, settings: dict) -> Path:
    """Write ``out_dir/<assignment>.zip``, Gradescope's autograder for it; return its path."""
    source = resolve_assignment(assignment)
    unknown = set(settings) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    config = {"assignment": source.stem, **DEFAULTS, **settings}
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{source.stem}.zip"
    partial = path.with_suffix(".zip.partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for script in ("setup.sh", "run_autograder"):
            _add(archive, script, (FILES / script).read_bytes(), 0o755)
        _add(archive, SETTINGS, json.dumps(config, indent=1).encode(), 0o644)
        for name, file in _course_files(source):
            _add(archive, name, file.read_bytes(), 0o644)
    partial.replace(path)
    return path


# ---- Grading one submission on Gradescope -------------------------------------------------------

def lock_down(root: Path) -> None:
    """Close the autograder's folders, the submission's metadata and the held-out data (what the
    grader measures trained models on, in the copies setup.sh installed) to every user but root."""
    from dlcourse.model_tasks.task import held_out_files

    for name in ("source", "submission", "results"):
        if (root / name).is_dir():
            (root / name).chmod(0o700)
    installed = [Path(os.environ[name]) for name in ("DLCOURSE_DATA", "DLCOURSE_CACHE")
                 if os.environ.get(name)]
    for path in held_out_files():
        if path.is_file() and any(path.is_relative_to(folder) for folder in installed):
            path.chmod(0o600)
    if (root / "submission_metadata.json").is_file():
        (root / "submission_metadata.json").chmod(0o600)
    root.chmod(root.stat().st_mode & ~0o066)  # others may pass through, not list or write


def take_submission(folder: Path, assignment: str, into: Path) -> tuple[Path | None, str]:
    """Copy the submission's notebook into ``into``; return the copy, or None and why not.

    Only a regular file counts (a link could name the solution or another file root may read):
    the one named ``<assignment>.ipynb``, else the only notebook there is.
    """
    from tools.grading.scoring import MAX_SUBMISSION_BYTES, read_regular_file

    notebooks, links = [], []
    for parent, subfolders, files in os.walk(folder):  # links to folders are not followed
        subfolders[:] = sorted(s for s in subfolders if s != ".ipynb_checkpoints")
        for name in sorted(files):
            path = Path(parent) / name
            if name.endswith(".ipynb"):
                (notebooks if stat.S_ISREG(path.lstat().st_mode) else links).append(path)
    named = [p for p in notebooks if p.name == f"{assignment}.ipynb"]
    chosen = named[:1] or notebooks
    if len(chosen) != 1:
        found = ", ".join(str(p.relative_to(folder)) for p in notebooks) or "none"
        why = (f"upload one notebook, {assignment}.ipynb (notebooks found: {found}"
               + (f"; not regular files, not graded: {', '.join(p.name for p in links)}" if links
                  else "") + ")")
        return None, why
    data, why = read_regular_file(chosen[0], MAX_SUBMISSION_BYTES)  # no link, FIFO or device
    if data is None:
        return None, why
    copy = into / f"{assignment}.ipynb"
    copy.write_bytes(data)
    return copy, ""


def sandbox_mode(setting: str) -> str:
    """``bwrap`` where bubblewrap can start a kernel here, else ``user`` (see module doc)."""
    from tools.grading.sandbox import bwrap_problem

    mode = os.environ.get(SANDBOX_VARIABLE) or setting
    if mode not in ("auto", "bwrap", "user"):
        raise ValueError(f"sandbox {mode!r}: one of auto, bwrap, user")
    if mode == "auto":
        mode = "user" if bwrap_problem() else "bwrap"
    if mode == "user" and os.geteuid() != 0:
        raise SystemExit("without bubblewrap the kernel runs as a user of its own: that needs root")
    return mode


def _submitted(metadata: dict) -> tuple[datetime | None, datetime | None]:
    """The submission's time and the due date in Gradescope's metadata (None where missing)."""
    def when(text):
        return parse_time(text) if isinstance(text, str) and text else None

    return when(metadata.get("created_at")), when((metadata.get("assignment") or {}).get("due_date"))


def grade(root: Path, config: dict, work: Path) -> tuple[dict, str]:
    """Grade the submission in ``root``; return the results (Gradescope's format) and a report."""
    from tools.grading.gradebook import feedback_markdown, gradebook_rows
    from tools.grading.key import build_key
    from tools.grading.sandbox import Sandbox, hidden_paths
    from tools.grading.scoring import is_notebook
    from tools.grading.workers import grade_all, in_child

    source = resolve_assignment(config["assignment"])
    assignment = source.stem
    metadata_path = root / "submission_metadata.json"
    metadata = json.loads(metadata_path.read_text()) if metadata_path.is_file() else {}
    submitted, due = _submitted(metadata)
    policy = LatePolicy(due=due, per_day=float(config["late_penalty"]),
                        cap=float(config["late_cap"]),
                        grace=timedelta(minutes=float(config["grace_minutes"])))
    mode = sandbox_mode(config["sandbox"])
    limits = Limits(memory=int(config["memory_limit"]), processes=int(config["process_limit"]),
                    cpu_seconds=int(config["notebook_timeout"]) + 60,
                    file_size=min(GIB, int(config["scratch_limit"])),
                    scratch=int(config["scratch_limit"]))
    # Kernel users of this run's own (its process id is unique while it runs): without bwrap, what
    # a kernel leaves is killed as all the processes of its user, never another grader's. The
    # solution's kernel (slot 1) and the submission's (slot 0) are different users.
    sandbox = Sandbox(enabled=True, bwrap=mode == "bwrap", limits=limits,
                      uid_base=KERNEL_UID_BASE + 2 * os.getpid(),
                      hide=hidden_paths(source, root / "submission", root / "results"))
    options = {"cell_timeout": int(config["cell_timeout"]),
               "notebook_timeout": int(config["notebook_timeout"]),
               "max_output_bytes": int(config["max_output_bytes"]), "sandbox": sandbox}

    notebook, why = take_submission(root / "submission", assignment, work)
    template = _template(source)
    if notebook is not None and is_notebook(notebook):
        key = in_child(build_key, source_path=source,  # before the submission runs
                       **{**options, "sandbox": dataclasses.replace(sandbox, slot=1)})
        run_dir = work / "run"
        (run_dir / "work").mkdir(parents=True)
        result = grade_all([(STUDENT, notebook)], source, run_dir, {**options, "key": key}, 1,
                           hard_limit=int(config["notebook_timeout"]) + 60)[STUDENT]
    elif notebook is not None:  # the grader's own reasons for a file that is no notebook
        from tools.grading.scoring import grade_submission

        result = grade_submission(notebook, source, key={}, **options)
    else:
        result = {"status": "invalid", "reasons": [why]}
    qs = _questions(template)
    result.setdefault("questions", qs)
    result.setdefault("points", {q["id"]: 0.0 for q in qs})
    result.setdefault("messages", {q["id"]: why for q in qs})
    _, rows, lates = gradebook_rows([(STUDENT, notebook or root)], {STUDENT: result}, qs,
                                    assignment, policy, {STUDENT: (submitted, "Gradescope")})
    results = results_json(result, rows[0], lates[STUDENT], template, mode)
    report = (f"sandbox: {'bubblewrap' if mode == 'bwrap' else 'unprivileged user, no bubblewrap'}; "
              f"kernels ran as user {sandbox.uid()}\n\n"
              f"{feedback_markdown(STUDENT, assignment, result, lates[STUDENT])}")
    return results, report


def _template(source: Path):
    import nbformat

    from tools.make_exercises import release_notebook

    return release_notebook(nbformat.read(source, as_version=4), hidden_tests=True)


def _questions(template) -> list[dict]:
    from tools.grading.assignment import questions

    return questions(template)


def _hidden_blocks(template) -> dict[str, set[str]]:
    """Per test cell, the names of its hidden blocks (those the exercise does not show)."""
    from tools.grading.key import visible_blocks
    from tools.make_exercises import release_notebook

    visible = visible_blocks(release_notebook(template))
    return {nbgrader_meta(c)["grade_id"]: set(checking_blocks(c.source))
            - visible.get(nbgrader_meta(c)["grade_id"], set())
            for c in template.cells if is_autograded_test(c)}


def results_json(result: dict, row: dict, late: dict, template, mode: str) -> dict:
    """Gradescope's results from the grader's result for one submission (see module doc).

    The top-level score is the gradebook's total (the late penalty applied); the tests carry the
    points before it. Nothing visible before publication gives away a hidden test's verdict.
    """
    hidden = _hidden_blocks(template)
    tests, written = [], []
    for q in result["questions"]:
        grade_id, points = q["id"], result["points"].get(q["id"])
        message = str(result["messages"].get(grade_id, ""))
        if q["kind"] == "manual":
            blank = " (left blank)" if points == 0 else ""
            written.append(f"{grade_id} ({q['points']:g} point{'' if q['points'] == 1 else 's'})"
                           + blank)
            continue
        details = result.get("blocks", {}).get(grade_id) or []
        shown = [d for d in details if not d["hidden"]]
        if hidden.get(grade_id) and (shown or not details):
            failed = [d["message"] for d in shown if not d["passed"]]
            tests.append({"name": f"{grade_id}: visible checks", "visibility": "visible",
                          "status": "passed" if shown and not failed else "failed",
                          "output": "; ".join(failed) if shown else message or "not run"})
            if not failed and shown:
                tests[-1]["output"] = "all visible checks passed; the hidden tests' verdict " \
                                      "comes with the points, when the grades are published"
        tests.append({"name": grade_id, "score": float(points or 0), "max_score": q["points"],
                      "output": message,
                      "visibility": "after_published" if hidden.get(grade_id) else "visible"})
    lines = [f"Status: {result['status']}."]
    lines += [f"Note from the grader: {r}" for r in result.get("reasons", [])]
    if late["penalty"]:
        lines.append(f"Late penalty: {late['penalty']:g} % of the autograded points "
                     f"({late['days']} day(s) late under the policy: {late['policy']}).")
    if written:
        lines.append("Written answers, graded by hand on Gradescope: " + ", ".join(written) + ".")
    if any(t.get("visibility") == "after_published" for t in tests):
        lines.append("Points that depend on hidden tests appear when the grades are published.")
    return {"score": float(row["total"]), "output": "\n".join(lines), "output_format": "text",
            "test_output_format": "text", "test_name_format": "text",
            "stdout_visibility": "hidden", "tests": tests,
            "extra_data": {"assignment": row["assignment"], "status": result["status"],
                           "autograded_points": float(row["points"]),
                           "late_penalty_percent": late["penalty"], "days_late": late["days"],
                           "submitted": row["submitted"],
                           "written_answers": [q["id"] for q in result["questions"]
                                               if q["kind"] == "manual"],
                           "sandbox": "bubblewrap" if mode == "bwrap" else "unprivileged user"}}


def run(root: Path) -> int:
    """Gradescope's ``run_autograder``: grade ``root/submission``, write the results (see doc)."""
    started = time.monotonic()
    results_dir = root / "results"
    results_dir.mkdir(exist_ok=True)
    lock_down(root)
    work = Path(tempfile.mkdtemp(prefix="dlcourse-gradescope-"))
    code = 0
    try:
        config = {**DEFAULTS, **json.loads((root / "source" / SETTINGS).read_text())}
        results, report = grade(root, config, work)
        print(report)
    except (Exception, SystemExit) as error:
        traceback.print_exc()
        results = {"score": 0.0, "output": "The autograder could not grade this submission "
                   f"({type(error).__name__}: {error}). This is not a verdict on your work: your "
                   "instructor can see what happened.", "stdout_visibility": "hidden", "tests": []}
        code = 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["execution_time"] = round(time.monotonic() - started)
    partial = results_dir / "results.json.partial"
    partial.write_text(json.dumps(results, indent=1))
    partial.replace(results_dir / "results.json")
    return code


def check(root: Path) -> int:
    """setup.sh's last step: the settings and the assignment are found; a kernel's Python has
    what it imports, as a kernel's user (outside the course's folder, which a kernel cannot
    read); which sandbox the kernels will get."""
    from tools.grading.sandbox import as_kernel_user

    config = {**DEFAULTS, **json.loads((root / "source" / SETTINGS).read_text())}
    source = resolve_assignment(config["assignment"])
    user = as_kernel_user(KERNEL_UID_BASE) if os.geteuid() == 0 else []
    subprocess.run([*user, sys.executable, "-I", "-c",
                    "import dlcourse.checks, ipykernel, numpy, torch"], cwd="/", check=True)
    mode = sandbox_mode(config["sandbox"])
    print(f"autograder for {source.stem}: {len(_questions(_template(source)))} graded cells; "
          "kernels will run " + ("in bubblewrap" if mode == "bwrap" else
                                 "as an unprivileged user, without bubblewrap"))
    return 0


# ---- Measuring what each assignment needs ---------------------------------------------------------

def _tree_memory(pid: int) -> tuple[int, int]:
    """Resident and proportional (shared pages divided) memory of ``pid`` and its descendants."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= more
        grew = bool(more)
    rss = pss = 0
    for member in tree:
        try:
            for line in Path(f"/proc/{member}/smaps_rollup").read_text().splitlines():
                if line.startswith(("Rss:", "Pss:")):
                    kib = int(line.split()[1]) * 1024
                    rss, pss = (rss + kib, pss) if line.startswith("Rss:") else (rss, pss + kib)
        except OSError:
            pass
    return rss, pss


def measure(assignments: list[str], mode: str) -> list[dict]:
    """Run ``run`` on a stand-in tree with each solution as the submission, one at a time.

    Returns per assignment: seconds, the peak of the memory of all its processes together
    (resident, and proportional: what a container's memory limit comes close to counting), the
    largest single process (``ru_maxrss``), and the score against the autograded maximum.
    """
    from dlcourse.data.paths import cache_dir

    rows = []
    base = Path(tempfile.mkdtemp(prefix="dlcourse-measure-"))
    base.chmod(0o755)
    cache = base / "cache"
    if cache_dir().is_dir():  # a copy that the kernels' own user may read, as setup.sh makes it
        shutil.copytree(cache_dir(), cache)
        subprocess.run(["chmod", "-R", "u+rwX,go+rX,go-w", str(cache)], check=True)
    try:
        for name in assignments:
            source = resolve_assignment(name)
            root = base / source.stem
            for folder in ("source", "submission", "results"):
                (root / folder).mkdir(parents=True)
            (root / "source" / SETTINGS).write_text(json.dumps({"assignment": source.stem}))
            shutil.copyfile(source, root / "submission" / source.name)
            (root / "submission_metadata.json").write_text(json.dumps(
                {"created_at": datetime.now().astimezone().isoformat(), "assignment": {}}))
            env = {**os.environ, "DLCOURSE_CACHE": str(cache), SANDBOX_VARIABLE: mode,
                   "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
            started = time.monotonic()
            process = subprocess.Popen([sys.executable, "-m", "tools.grading.gradescope", "run",
                                        str(root)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
            peak = [0, 0]
            done = threading.Event()

            def sample(process=process, peak=peak, done=done):
                while not done.wait(0.2):
                    rss, pss = _tree_memory(process.pid)
                    peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
            done.set()
            sampler.join()
            results = json.loads((root / "results" / "results.json").read_text())
            scored = [t for t in results["tests"] if "max_score" in t]
            rows.append({"assignment": source.stem, "seconds": round(time.monotonic() - started),
                         "peak_rss_mib": round(peak[0] / 2**20), "peak_pss_mib": round(peak[1] / 2**20),
                         "largest_process_mib": round(usage.ru_maxrss / 1024),
                         "score": results["score"], "max": sum(t["max_score"] for t in scored),
                         "exit": process.returncode})
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.grading.gradescope",
                                description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="write the autograder's zip (make gradescope)")
    b.add_argument("assignment", help="00_warmup, or its number: 00")
    b.add_argument("--out", type=Path, default=ROOT / "build" / "gradescope")
    for name, value in DEFAULTS.items():
        b.add_argument("--" + name.replace("_", "-"), type=type(value), default=None,
                       help=f"default {value}")
    r = sub.add_parser("run", help="grade a submission (Gradescope's run_autograder)")
    r.add_argument("root", type=Path, nargs="?", default=Path("/autograder"))
    c = sub.add_parser("check", help="setup.sh's last step: the grader starts")
    c.add_argument("root", type=Path, nargs="?", default=Path("/autograder"))
    m = sub.add_parser("measure", help="time and memory of each assignment, graded this way")
    m.add_argument("assignments", nargs="*", help="default: every assignment")
    m.add_argument("--sandbox", choices=("user", "bwrap"), default="user")
    args = p.parse_args(argv)
    if args.command == "build":
        settings = {k: getattr(args, k) for k in DEFAULTS if getattr(args, k) is not None}
        path = build(args.assignment, args.out, settings)
        qs = _questions(_template(resolve_assignment(args.assignment)))
        auto = [q for q in qs if q["kind"] == "auto"]
        print(f"wrote {path}: upload it as the assignment's autograder (docs/instructors.md, "
              f"\"Gradescope\"); autograder points: {sum(q['points'] for q in auto):g} "
              f"({', '.join(q['id'] for q in auto)})")
        for q in qs:
            if q["kind"] == "manual":
                print(f"  add a manually graded question: {q['id']}, {q['points']:g} point(s)")
        return 0
    if args.command == "run":
        return run(args.root)
    if args.command == "check":
        return check(args.root)
    rows = measure(args.assignments or [p.stem for p in sorted(SOLUTIONS.glob("*.ipynb"))],
                   args.sandbox)
    print("| assignment | seconds | peak memory, all processes (PSS / RSS, MiB) "
          "| largest process (MiB) | score |")
    print("|---|---:|---:|---:|---|")
    for row in rows:
        print(f"| {row['assignment']} | {row['seconds']} | {row['peak_pss_mib']} / {row['peak_rss_mib']} "
              f"| {row['largest_process_mib']} | {row['score']:g} of {row['max']:g} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
