"""The instructor's grader (tools/grading/) on one submission of every kind, correct to hostile.

One grading run, in the bubblewrap sandbox, over a folder built by tests/grading/hostile.py (from
the real exercise 00_warmup), checked by the check_* helpers: every submission is scored on its
merits while the others grade normally, the batch finishes, and the hostile ones leave nothing
behind: no file outside their scratch folders (the course, the home folder, the host's temporary
folders are snapshotted or searched before and after), no connection to a port listening on
127.0.0.1, no process. Submissions that attack the grader itself (files that are not regular
files, messages it cannot read, stray records, kernels that stop, ignore interrupts, close their
output channel or refuse to shut down) fail what they touched, with a reason, and nothing else.
Then the run's rubric sheet is filled in and merged back (the written
answers' round trip, tools/grading/rubric.py, unit-tested in tests/unit/test_rubric.py). The
limits are small so that it stays quick (about two and a half minutes on two cores; the attacks
on the grader itself add about a minute, most of it two kernels that run out a cell's limit). The
grader's parts that need no kernel are tested in tests/unit/test_grader.py.
"""

from __future__ import annotations

import csv
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest

from tests.grading import hostile
from tests.grading.results import read_csv
from tools.grading import cli, gradebook, rubric
from tools.grading.sandbox import bwrap_problem

ROOT = Path(__file__).resolve().parents[2]
CELL_TIMEOUT = 20  # the endless loop costs this much
MEMORY_LIMIT = 2 * 2**30
#: Folders of the course that grading must leave alone (caches and build output aside).
SKIP = {".venv", ".git", "__pycache__", "build", ".pytest_cache", ".ruff_cache",
        ".ipynb_checkpoints", "node_modules"}

PROBLEM = bwrap_problem()
#: .ci/run sets DLCOURSE_REQUIRE_SANDBOX=1: there the grading run must happen, not skip.
pytestmark = pytest.mark.skipif(
    bool(PROBLEM) and not os.environ.get("DLCOURSE_REQUIRE_SANDBOX"),
    reason=f"no bubblewrap sandbox here: {PROBLEM} (CI installs it and runs this test)")


def snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` (caches aside): its size and modification time."""
    found = {}
    for parent, subfolders, files in os.walk(folder):
        subfolders[:] = [s for s in subfolders if s not in SKIP]
        for name in files:
            path = Path(parent) / name
            try:
                stat = path.stat()
            except OSError:
                continue
            found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return found


def processes_with(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().decode(
                    errors="replace"):
                found.append(entry.name)
        except OSError:
            pass
    return found


class Listener:
    """A TCP port on 127.0.0.1 that records every connection it accepts."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.accepted: list = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                connection, address = self.socket.accept()
                self.accepted.append(address)
                connection.close()
            except OSError:
                pass

    def close(self) -> None:
        self.done.set()
        self.thread.join()
        self.socket.close()


def run_grader(tmp_path_factory):
    """Grade one submission of each kind; return what the checks need."""
    base = tmp_path_factory.mktemp("grading")
    submissions, out = base / "submissions", base / "graded"
    scratch = Path(tempfile.mkdtemp(prefix="dlg-", dir="/tmp"))  # short: sockets live there
    marker = f"dlcourse-hostile-{secrets.token_hex(4)}"
    home = Path.home()
    targets = [home, home / ".cache", ROOT, ROOT / "dlcourse", ROOT / "solutions",
               ROOT / "exercises", submissions, out, Path("/tmp"), Path("/var/tmp"),
               Path("/dev/shm")]
    modify = [ROOT / "dlcourse" / "__init__.py", ROOT / "solutions" / "00_warmup.ipynb",
              submissions / "correct.ipynb"]
    listener = Listener()
    made = hostile.build(submissions, marker=marker, port=listener.port,
                         targets=[str(t) for t in targets], modify=[str(m) for m in modify],
                         memory_limit=MEMORY_LIMIT, not_files=True)
    course, homes = snapshot(ROOT), sorted(os.listdir(home))
    modified = {m: m.read_bytes() for m in modify}
    try:
        run = subprocess.run(
            [sys.executable, "-m", "tools.grading", hostile.ASSIGNMENT, str(submissions),
             "--out", str(out), "--cell-timeout", str(CELL_TIMEOUT), "--notebook-timeout", "120",
             "--max-output-bytes", "20000", "--jobs", "2", "--memory-limit", str(MEMORY_LIMIT),
             "--process-limit", "64", "--cpu-limit", "150", "--scratch-limit", "200M"],
            capture_output=True, text=True, timeout=900, cwd=ROOT,
            env={**os.environ, "TMPDIR": str(scratch)})
    finally:
        listener.close()
        hostile.remove_not_regular_files(made)
        left = list(scratch.iterdir())
        shutil.rmtree(scratch, ignore_errors=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return {"out": out, "rows": read_csv(out / "gradebook-latest.csv"), "stdout": run.stdout,
            "marker": marker, "listener": listener, "targets": targets, "modified": modified,
            "course": course, "homes": homes, "left": left}


def run_dir(graded) -> Path:
    return graded["out"] / (graded["out"] / "LATEST").read_text().strip()


def outputs(graded, kind: str) -> str:
    nb = nbformat.read(run_dir(graded) / "graded" / f"{kind}.ipynb", as_version=4)
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def autograded_total(row: dict[str, str]) -> float:
    return sum(float(row[q]) for q in ("test-standardise", "test-one-hot") if row[q])


def check_gradebook_is_complete(graded):
    rows = graded["rows"]
    assert set(rows) == set(hostile.EXPECTED)
    header = list(next(iter(rows.values())))
    assert header == ["student", "assignment", "test-standardise", "test-one-hot",
                      "explain-constant-input", "points", "late penalty %", "total", "max",
                      "submitted", "days late", "status", "reason"]
    for student, row in rows.items():
        assert row["assignment"] == "00_warmup"
        assert row["max"] == "5"
        assert row["status"] in gradebook.STATUSES, student
        assert row["reason"], f"{student} has no stated reason"
        assert float(row["total"]) == autograded_total(row) + float(
            row["explain-constant-input"] or 0)
        assert (run_dir(graded) / "feedback" / f"{student}.md").exists(), student


def check_each_submission_scores_what_it_earned(graded, kind):
    points, status, reason = hostile.EXPECTED[kind]
    row = graded["rows"][kind]
    assert autograded_total(row) == points, (kind, row)
    assert row["status"] == status, (kind, row)
    assert reason.lower() in row["reason"].lower(), (kind, row["reason"])


def check_correct_submission_full_marks_and_manual_answer_left_for_a_person(graded):
    rows = graded["rows"]
    row = rows["correct"]
    assert row["test-standardise"] == "2" and row["test-one-hot"] == "2"
    assert row["explain-constant-input"] == ""  # a person grades it
    assert rows["untouched"]["explain-constant-input"] == "0"  # a blank answer scores 0


def hidden_text() -> list[str]:
    """The hidden tests' lines and the numbers in them, as they must never reach a student."""
    source = nbformat.read(hostile.SOLUTION, as_version=4)
    regions = [region for cell in source.cells for region in
               re.findall(r"### BEGIN HIDDEN TESTS(.*?)### END HIDDEN TESTS", cell.source, re.S)]
    lines = [line.strip() for region in regions for line in region.splitlines()
             if len(line.strip()) > 20]
    numbers = {n for region in regions for n in re.findall(r"-?\d+\.\d{4,}", region)}
    inputs = {m for region in regions for m in re.findall(r"\[[-\d., ]{6,}\]", region)}
    return lines + sorted(numbers) + sorted(inputs)


def check_feedback_is_specific_and_hides_hidden_tests(graded):
    folder = run_dir(graded)
    partial = (folder / "feedback" / "partial.md").read_text()
    assert "one_hot([2, 0], 3)" in partial and "wrong at index" in partial
    assert "one_hot (hidden): hidden check 2 of 4 failed: a value is wrong" in partial
    assert "not attempted" in (folder / "feedback" / "untouched.md").read_text()
    secrets_ = hidden_text()
    assert secrets_
    for feedback in (folder / "feedback").glob("*.md"):
        text = feedback.read_text()
        assert "### BEGIN" not in text
        for secret in secrets_:
            assert secret not in text, (feedback.name, secret)
    assert "divide 0 by 0" in (folder / "written-answers.md").read_text()


def check_wrong_answers_do_not_pass_whatever_the_kernel_replaced(graded):
    for kind in ("monkeypatched", "indirect_replacement", "forged_values"):
        text = outputs(graded, kind)
        assert "[grader] standardise" in text, kind  # the grader's verdicts, not the kernel's
    assert "touches dlcourse.checks" in graded["rows"]["monkeypatched"]["reason"]
    # The forged visible values pass the visible block: the hidden one holds the line.
    forged = (run_dir(graded) / "feedback" / "forged_values.md").read_text()
    assert "standardise (hidden): hidden check 1 of 3 failed" in forged


def check_deleted_and_edited_test_cells_run_with_their_hidden_tests(graded):
    for kind in ("deleted_reordered", "edited_tests"):
        nb = nbformat.read(run_dir(graded) / "graded" / f"{kind}.ipynb", as_version=4)
        text = json.dumps(nb)
        assert "one_hot (hidden)" in text, kind  # the hidden block ran and was judged
        # the saved notebook shows the tests as students saw them: no hidden test source
        assert "### BEGIN HIDDEN" not in text
        assert 'checking(\\"one_hot (hidden)\\")' not in text


def check_nothing_was_written_outside_the_scratch_folders(graded):
    marker = graded["marker"]
    for folder in graded["targets"]:
        if folder.is_dir():
            assert not [p for p in os.listdir(folder) if marker in p], folder
    assert snapshot(ROOT) == graded["course"], "a file of the course changed"
    assert sorted(os.listdir(Path.home())) == graded["homes"]
    for path, content in graded["modified"].items():
        assert path.read_bytes() == content, path
    assert not graded["left"], f"temporary folders were left behind: {graded['left']}"
    report = outputs(graded, "writes_outside")
    for folder in (Path.home(), ROOT, ROOT / "dlcourse", ROOT / "solutions"):
        assert f"'{folder}': 'written'" not in report, folder  # refused, not just removed after
    assert "'/tmp': 'written'" in report  # the sandbox's /tmp is a folder of its scratch


def check_no_connection_no_process_and_limits_held(graded):
    assert graded["listener"].accepted == [], "a kernel reached a port on the host's 127.0.0.1"
    assert "ConnectionRefusedError" in outputs(graded, "network")
    assert not processes_with(graded["marker"]), "a process outlived its kernel"
    assert "MemoryError" in outputs(graded, "memory_hog")
    assert "fork refused after" in outputs(graded, "fork_bomb")
    flood = (run_dir(graded) / "feedback" / "record_flood.md").read_text()
    assert "more data than the grader accepts" in flood


def check_attacks_on_the_grader_fail_only_what_they_touched(graded):
    folder, rows = run_dir(graded), graded["rows"]
    feedback = {kind: (folder / "feedback" / f"{kind}.md").read_text()
                for kind in ("records_attack", "blocks_shutdown")}
    # its record was not replaced after its cell; the unreadable messages were dropped
    assert "| test-standardise | 2 / 2 | all tests passed |" in feedback["records_attack"]
    assert re.search(r"one_hot: reported \d+ times", feedback["records_attack"])
    # a thread's record sent during the test cell is one too many, not the block's answer
    assert re.search(r"one_hot: reported \d+ times", feedback["blocks_shutdown"])
    for kind in ("stops_itself", "ignores_interrupt"):  # stopped, not the hard limit's kill
        assert "hard limit" not in rows[kind]["reason"], rows[kind]["reason"]
    for kind in hostile.NOT_FILES:  # the notebooks the links name were never graded
        assert not (folder / "graded" / f"{kind}.ipynb").exists(), kind


def check_written_answers_round_trip(graded):
    """The run's rubric sheet, filled in but for one answer, merged back by the command; twice."""
    folder, out = run_dir(graded), graded["out"]
    with open(folder / rubric.SHEET, newline="") as f:
        sheet = list(csv.DictReader(f))
    rows = graded["rows"]
    to_grade = sorted(s for s, row in rows.items() if row["explain-constant-input"] == "")
    assert sorted(row["student"] for row in sheet) == to_grade and "correct" in to_grade
    assert all("divide 0 by 0" in row["answer"] for row in sheet)  # the text reaches the grader
    for row in sheet:
        row["points"] = "" if row["student"] == "partial" else "1"
        row["comment"] = "Right: 0 / 0." if row["student"] == "correct" else ""
    with open(folder / rubric.SHEET, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(sheet[0]))
        writer.writeheader()
        writer.writerows(sheet)
    earlier = {p: p.read_bytes() for p in [out / f"gradebook-{folder.name}.csv",
                                           *(folder / "feedback").iterdir()]}

    merge = subprocess.run([sys.executable, "-m", "tools.grading", "merge",
                            str(folder / rubric.SHEET)],
                           capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert merge.returncode == 0, merge.stdout + merge.stderr
    assert "left to grade: 1 answer(s): partial · explain-constant-input" in merge.stdout
    merged = read_csv(out / "gradebook-latest.csv")
    expected = {s: "" if s == "partial" else "1" for s in to_grade}
    for student, row in merged.items():
        written = expected.get(student, rows[student]["explain-constant-input"])
        assert row["explain-constant-input"] == written, student
        assert float(row["total"]) == autograded_total(rows[student]) + float(written or 0), student
    assert merged["correct"]["total"] == "5"
    assert all(p.read_bytes() == content for p, content in earlier.items())
    feedback = next(folder.glob("merged-*")) / "feedback" / "correct.md"
    assert "| explain-constant-input | 1 / 1 | Right: 0 / 0. |" in feedback.read_text()
    assert cli.main(["merge", str(folder / rubric.SHEET)]) == 0  # again: nothing doubles
    assert read_csv(out / "gradebook-latest.csv") == merged


def test_one_grading_run_over_every_kind_of_submission(tmp_path_factory):
    """One run (about two and a half minutes on two cores), so it is also run once under xdist."""
    graded = run_grader(tmp_path_factory)
    check_gradebook_is_complete(graded)
    failures = []
    for kind in sorted(hostile.EXPECTED):
        try:
            check_each_submission_scores_what_it_earned(graded, kind)
        except AssertionError as error:
            failures.append(f"{kind}: {error}")
    assert not failures, "\n".join(failures)
    check_correct_submission_full_marks_and_manual_answer_left_for_a_person(graded)
    check_feedback_is_specific_and_hides_hidden_tests(graded)
    check_wrong_answers_do_not_pass_whatever_the_kernel_replaced(graded)
    check_deleted_and_edited_test_cells_run_with_their_hidden_tests(graded)
    check_nothing_was_written_outside_the_scratch_folders(graded)
    check_no_connection_no_process_and_limits_held(graded)
    check_attacks_on_the_grader_fail_only_what_they_touched(graded)
    check_written_answers_round_trip(graded)  # last: it writes into the results


def test_disk_search_would_find_hidden_tests_without_the_sandbox(tmp_path):
    """The hostile search is real: outside the sandbox it finds the solution source."""
    namespace = {"np": __import__("numpy")}
    search = hostile.DISK_SEARCH.split("FOUND = ")[0]
    exec(compile(search, "disk_search", "exec"), namespace)
    found = namespace["find_hidden_tests"]()
    assert any(Path(p).resolve() == hostile.SOLUTION.resolve() for p in found)
