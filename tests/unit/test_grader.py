"""The instructor's grader (tools/grading/) in the parts that need no kernel: restoring a
submission from the source, the gradebooks of a rerun, the verdicts on the values a kernel sent,
the test cells as a graded kernel gets them, late penalties, the LMS exports, the similarity
report and the sandbox's command line. The end-to-end run over every kind of submission, in the
sandbox, is tests/system/test_grading.py.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from dlcourse.checks import to_plain
from tests.grading import hostile
from tests.grading.results import read_csv
from tools.grading import cli, export, gradebook, late, restore
from tools.grading.assignment import graded_source
from tools.grading.scoring import judge_block, judge_cell
from tools.make_exercises import release_notebook

ROOT = Path(__file__).resolve().parents[2]


def test_rerun_keeps_earlier_gradebooks(tmp_path):
    submissions = tmp_path / "subs"
    submissions.mkdir()
    (submissions / "broken.ipynb").write_text("{")
    (submissions / "essay.txt").write_text("not a notebook")
    out = tmp_path / "out"
    for _ in range(2):  # no notebook among them: no kernel, no sandbox needed
        assert cli.main([hostile.ASSIGNMENT, str(submissions), "--out", str(out),
                         "--no-sandbox"]) == 0
    books = sorted(out.glob("gradebook-2*.csv"))
    assert len(books) == 2 and len(list((out / "runs").iterdir())) == 2
    assert (out / "gradebook-latest.csv").read_text() == books[-1].read_text()
    rows = read_csv(books[0])
    assert rows["broken"]["status"] == rows["essay.txt"]["status"] == "invalid"


def test_submissions_that_are_not_regular_files_are_refused_unread(tmp_path):
    """Links (to the solution, to a correct notebook elsewhere, to /dev/zero, a student's folder
    in nbgrader's layout), a FIFO and a folder named like a notebook: each is found, scored
    invalid and never opened for what it points to (the FIFO would block, /dev/zero never end,
    the notebook elsewhere would score full marks). No notebook among them: no kernel runs."""
    submissions, out = tmp_path / "subs", tmp_path / "out"
    made = hostile.not_regular_files(submissions)
    try:
        assert cli.main([hostile.ASSIGNMENT, str(submissions), "--out", str(out), "--no-sandbox",
                         "--similarity"]) == 0
    finally:
        hostile.remove_not_regular_files(made)
    rows = read_csv(out / "gradebook-latest.csv")
    assert set(rows) == set(hostile.NOT_FILES)
    for student, row in rows.items():
        assert (row["status"], row["points"]) == ("invalid", "0"), student
        assert "not a regular file" in row["reason"], student
    report = (out / (out / "LATEST").read_text().strip() / "similarity.md").read_text()
    assert "0 submissions compared" in report
    assert all(kind in report.split("Not compared")[1] for kind in hostile.NOT_FILES)


def test_gradescope_takes_only_a_regular_file(tmp_path):
    from tools.grading.gradescope import take_submission

    made = hostile.not_regular_files(tmp_path / "subs")
    elsewhere = made["link_outside"].resolve()
    upload = tmp_path / "upload"
    upload.mkdir()
    (upload / f"{hostile.ASSIGNMENT}.ipynb").symlink_to(elsewhere)
    os.mkfifo(upload / "fifo.ipynb")
    try:
        copy, why = take_submission(upload, hostile.ASSIGNMENT, tmp_path)
    finally:
        hostile.remove_not_regular_files(made)
        (upload / "fifo.ipynb").unlink()
        (upload / f"{hostile.ASSIGNMENT}.ipynb").unlink()
    assert copy is None and f"not regular files, not graded: {hostile.ASSIGNMENT}.ipynb" in why
    (upload / f"{hostile.ASSIGNMENT}.ipynb").write_bytes(elsewhere.read_bytes())
    copy, why = take_submission(upload, hostile.ASSIGNMENT, tmp_path / "subs")
    assert why == "" and copy.read_bytes() == elsewhere.read_bytes()


def test_restore_of_the_exercise_gives_the_graded_template():
    """Every exercise: an untouched copy restores to the source with its hidden tests."""
    for source_path in sorted((ROOT / "solutions").glob("*.ipynb")):
        source = nbformat.read(source_path, as_version=4)
        template = release_notebook(source, hidden_tests=True)
        release = release_notebook(source)
        restored, notes = restore.restore(release, template, release, source_path.stem)
        assert notes == [], (source_path.name, notes)
        assert [c.source for c in restored.cells] == [c.source for c in template.cells]


# ---- The verdicts: the values a kernel sent, against the answer key, in the grader's process.

def key_block(hidden=False):
    return {"name": "q (hidden)" if hidden else "q", "hidden": hidden, "checks": [
        {"method": "close", "name": "f([1, 2])", "expected": to_plain([2.0, 4.0]),
         "params": {"rtol": 1e-5, "atol": 1e-8}},
        {"method": "true", "name": "returns a float", "expected": True, "params": {"hint": "h"}},
        {"method": "same", "name": "twice the same", "expected": None, "params": {}}]}


def record(values, block="q", outcome="finished", error=None, name="f([1, 2])"):
    checks = [{"method": m, "name": name, "value": to_plain(v)} for m, v in values]
    for c in checks:
        if c["method"] == "same":
            c["other"] = c["value"]
    return {"block": block, "outcome": outcome, "checks": checks, "error": error}


RIGHT = [("close", [2.0, 4.0]), ("true", True), ("same", [1.0])]


def test_judge_passes_the_right_values_and_names_a_wrong_one():
    assert judge_block(key_block(), [record(RIGHT)])[0]
    ok, student, _ = judge_block(key_block(), [record([("close", [2.0, 5.0])] + RIGHT[1:])])
    assert not ok and student == ("q: f([1, 2]): wrong at index (1,): expected 4, got 5 "
                                  "(1 of 2 entries differ).")
    ok, student, _ = judge_block(key_block(), [record([RIGHT[0], ("true", False), RIGHT[2]])])
    assert not ok and "this is not true. Hint: h" in student


def test_judge_of_a_hidden_block_names_the_check_and_the_kind_only():
    ok, student, instructor = judge_block(
        key_block(hidden=True), [record([("close", [2.0, 5.0])] + RIGHT[1:], block="q (hidden)",
                                        name="")])
    assert not ok and student == "q (hidden): hidden check 1 of 3 failed: a value is wrong"
    assert "expected 4, got 5" in instructor  # the instructor's notebook says more
    ok, student, _ = judge_block(key_block(hidden=True), [record(
        RIGHT[:1], block="q (hidden)", outcome="error",
        error={"type": "ValueError", "message": "bad input [3, 1, 4]"})])
    assert student == "q (hidden): your code raised ValueError"  # not its message


@pytest.mark.parametrize(("records", "words"), [
    ([], "did not run"),
    ([record(RIGHT), record(RIGHT)], "reported 2 times"),
    ([record(RIGHT + [("close", 1.0)])], "sent more values"),
    ([record(RIGHT[:2])], "only 2 of its 3 checks ran"),
    ([record([("equal", [2.0, 4.0])] + RIGHT[1:])], "could not be read"),
    ([{"block": "q", "outcome": "finished", "checks": "forged"}], "malformed"),
    ([record(RIGHT, outcome="passed")], "malformed"),
    ([record([], outcome="not attempted")], "not attempted"),
])
def test_judge_fails_missing_repeated_extra_and_malformed_values(records, words):
    ok, student, _ = judge_block(key_block(), records)
    assert not ok and words in student


def nested(levels: int, leaf=2.0):
    for _ in range(levels):
        leaf = {"list": [leaf]}
    return leaf


def sent(value, method="close", **fields):
    """A record whose first check sent ``value`` as it is (what a hostile kernel can send)."""
    forged = record(RIGHT)
    forged["checks"][0] = {"method": method, "name": "f([1, 2])", "value": value}
    return {**forged, **fields}


@pytest.mark.parametrize(("records", "words"), [
    ([["not", "a", "record"], "text", None, 5], "did not run"),
    ([record(RIGHT, block="another cell's block")], "did not run"),
    ([record(RIGHT)] * 1000, "reported 1000 times"),
    ([sent(nested(5000))], "nested too deeply"),
    ([sent({"list": [1e999, 4.0]})], "expected 2, got inf"),
    ([sent({"array": {"dtype": "float", "shape": [10**12], "data": [2.0, 4.0]}})], "malformed array"),
    ([sent({"array": {"dtype": "float", "shape": [3], "data": [2.0, 4.0]}})], "malformed array"),
    ([sent({"array": {"dtype": "complex", "shape": [2], "data": [2.0, 4.0]}})], "malformed array"),
    ([sent([2.0, 4.0], method=["close"])], "could not be read"),
    ([{"block": "q", "outcome": "finished", "checks": [1, 2, 3]}], "could not be read"),
    ([sent([2.0, 4.0], block=["q"])], "did not run"),
    ([record(RIGHT, outcome=["finished"])], "malformed"),
    ([record(RIGHT, outcome="error", error="not a dict")], "your code raised an error"),
    ([record(RIGHT, outcome="error", error={"type": nested(2000), "message": 1e999})],
     "raised (nested too deeply)"),
])
def test_judge_fails_what_a_hostile_kernel_sent_and_never_raises(records, words):
    """Records of any shape or type, for any block, as many as sent: a verdict with a message."""
    ok, student, instructor = judge_block(key_block(), records)
    assert not ok and words in (instructor or student)


def test_judge_of_a_cell_needs_every_block():
    blocks = [key_block(), key_block(hidden=True)]
    records = [record(RIGHT), record(RIGHT, block="q (hidden)", name="")]
    assert judge_cell(blocks, records, executed=True, overflow=False, errors=[])[0]
    ok, message, _ = judge_cell(blocks, records[:1], executed=True, overflow=False,
                                errors=["NameError: x"])
    assert not ok and "q (hidden): did not run" in message and "NameError" in message
    assert not judge_cell(blocks, records, executed=True, overflow=True, errors=[])[0]
    assert not judge_cell(blocks, records, executed=False, overflow=False, errors=[])[0]


def test_graded_source_removes_expected_values_and_reference_code():
    source = '''
def reference_answer(x):
    return [0.123456789, x]


with checking("q") as check:
    check.close("f(2)", f(2), reference_answer(2), rtol=1e-3)
    check.equal("n", g(), expected=7)
    check.shape("s", f(2), (2,))
    check.true("t", f(2) is not None, hint="return it")
with checking("q (hidden)") as check:
    check.close("f([9, 8, 7])", f([9, 8, 7]), [0.987654321], atol=1e-9)
    check.true("secret property of [9, 8, 7]", True, hint="a hint naming 0.987654321")
'''
    graded = graded_source(source, {"q (hidden)"})
    assert "reference_answer" not in graded and "0.123456789" not in graded
    assert "0.987654321" not in graded and "secret property" not in graded
    assert "check.close('f(2)', f(2), None, rtol=0.001)" in graded
    assert "check.equal('n', g(), expected=None)" in graded
    assert "check.close('', f([9, 8, 7]), None, atol=1e-09)" in graded  # inputs stay


# ---- Late penalties, LMS exports, similarity.

def test_late_penalty_per_started_day_with_grace_and_cap():
    due = late.parse_time("2025-03-01T23:59:00+00:00")
    policy = late.LatePolicy(due=due, per_day=10, cap=25, grace=late.parse_duration("15m"))
    at = [("2025-03-02T00:10:00+00:00", 0, 0), ("2025-03-02T00:14:00+00:00", 0, 0),
          ("2025-03-02T00:15:00+00:00", 1, 10), ("2025-03-03T00:14:00+00:00", 1, 10),
          ("2025-03-03T00:14:01+00:00", 2, 20), ("2025-03-09T00:00:00+00:00", 7, 25)]
    for when, days, penalty in at:
        assert (policy.days_late(late.parse_time(when)), policy.penalty(late.parse_time(when))) == (
            days, penalty), when
    assert late.LatePolicy().penalty(late.parse_time("2030-01-01T00:00")) == 0
    assert late.parse_duration("2h") == late.parse_duration("120")
    with pytest.raises(ValueError, match="not a duration"):
        late.parse_duration("soon")


def test_timestamps_file_and_file_times(tmp_path):
    stamps = tmp_path / "times.csv"
    stamps.write_text("student,submitted\nalice,2025-03-02T10:00:00+01:00\n")
    times = late.read_timestamps(stamps)
    assert late.submission_time("alice", tmp_path, times)[1] == "timestamps file"
    (tmp_path / "bob.ipynb").write_text("{}")
    when, source = late.submission_time("bob", tmp_path / "bob.ipynb", times)
    assert source == "file modification time" and when.tzinfo is not None
    stamps.write_text("student,submitted\nalice,yesterday\n")
    with pytest.raises(SystemExit, match="line 2: 'yesterday' is not an ISO 8601 time"):
        late.read_timestamps(stamps)
    stamps.write_text("name,time\nalice,2025-03-02\n")
    with pytest.raises(SystemExit, match="needs the columns 'student' and 'submitted'"):
        late.read_timestamps(stamps)


def test_gradebook_rows_apply_the_penalty_and_keep_the_raw_points():
    qs = [{"id": "q1", "points": 2.0, "kind": "auto"}, {"id": "w", "points": 1.0, "kind": "manual"}]
    results = {"alice": {"points": {"q1": 2.0, "w": None}, "status": "graded", "reasons": []}}
    policy = late.LatePolicy(due=late.parse_time("2025-03-01T00:00+00:00"), per_day=25)
    times = {"alice": (late.parse_time("2025-03-02T12:00+00:00"), "timestamps file")}
    _, rows, lates = gradebook.gradebook_rows([("alice", Path("a.ipynb"))], results, qs, "a1",
                                              policy, times)
    assert (rows[0]["points"], rows[0]["late penalty %"], rows[0]["total"], rows[0]["days late"]) == (
        "2", "50", "1", "2")
    assert "2 day(s) late: 50 % late penalty" in rows[0]["reason"]
    text = gradebook.feedback_markdown("alice", "a1", {**results["alice"], "questions": qs,
                                                       "messages": {}}, lates["alice"])
    assert "1 of 3 points (2 before a late penalty of 50 %)" in text and "2 day(s) late" in text


def test_canvas_and_moodle_exports(tmp_path):
    roster_file = tmp_path / "roster.csv"
    roster_file.write_text("student,name,canvas_id,sis_user_id,sis_login_id,section,email,id_number\n"
                           "alice,Alice A,101,S1,alice1,Sec 1,alice@uni.edu,N1\n")
    roster = export.read_roster(roster_file)
    rows = [{"student": "alice", "total": "3.5"}, {"student": "bob", "total": "0"}]
    canvas, moodle = export.write_exports(["canvas", "moodle"], rows, "00_warmup", roster, "777",
                                          tmp_path / "gradebook-x")
    assert read_rows(canvas) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "00_warmup (777)"],
        ["Alice A", "101", "S1", "alice1", "Sec 1", "3.5"], ["bob", "", "", "", "", "0"]]
    assert read_rows(moodle) == [
        ["Full name", "Email address", "ID number", "Assignment: 00_warmup (Real)"],
        ["Alice A", "alice@uni.edu", "N1", "3.5"], ["bob", "", "", "0"]]
    assert export.missing_from_roster(rows, roster) == ["bob"]
    roster_file.write_text("name\nAlice\n")
    with pytest.raises(SystemExit, match="needs a 'student' column"):
        export.read_roster(roster_file)


def read_rows(path):
    import csv

    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_similarity_report_compares_the_learners_own_code(tmp_path):
    from tools.grading import similarity

    subs = tmp_path / "subs"
    written = hostile.build(subs)
    for link, target in (("link_to_solution", hostile.SOLUTION), ("link_outside", written["correct"])):
        written[link] = subs / f"{link}.ipynb"
        written[link].symlink_to(target.resolve())
    entries = [(k, written[k]) for k in ("correct", "deleted_reordered", "partial", "untouched",
                                         "binary", "link_to_solution", "link_outside")]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    report = similarity.similarity_report(entries, hostile.SOLUTION, run_dir).read_text()
    table = [line for line in report.splitlines() if line.startswith("| 1 |")]
    assert table and {"correct", "deleted_reordered"} <= set(table[0].split(" | "))
    assert "100%" in table[0]
    assert "untouched" in report.split("Not compared")[1] and "binary" in report
    assert all(link in report.split("Not compared")[1]  # never read through a link
               for link in ("link_to_solution", "link_outside"))
    code = (run_dir / "similarity" / "correct.py").read_text()
    assert "return (x - x.mean()) / x.std()" in code or "std" in code
    assert "YOUR CODE HERE" not in code


def test_a_worker_past_the_hard_limit_is_killed_and_the_others_grade(tmp_path, monkeypatch):
    """Whatever hangs in a worker (here a grading that never returns, standing in for a kernel
    the executor could not stop), the hard limit ends it with a reason; the next one grades."""
    import time

    from tools.grading import workers
    from tools.grading.sandbox import Sandbox

    def grade(path, source, **options):
        if path.name == "hangs.ipynb":
            while True:
                time.sleep(1)
        return {"status": "graded", "reasons": [], "points": {}}

    monkeypatch.setattr(workers, "grade_submission", grade)
    run_dir = tmp_path / "run"
    (run_dir / "work").mkdir(parents=True)
    entries = [(name, tmp_path / f"{name}.ipynb") for name in ("hangs", "fine")]
    started = time.monotonic()
    results = workers.grade_all(entries, hostile.SOLUTION, run_dir, {"sandbox": Sandbox()},
                                jobs=1, hard_limit=1)
    assert time.monotonic() - started < 30
    assert results["hangs"]["status"] == "timeout"
    assert "killed after the hard limit of 1 s" in results["hangs"]["reasons"][0]
    assert results["fine"]["status"] == "graded"
    assert sorted(p.name for p in (run_dir / "work").iterdir()) == [
        "fine.json", "fine.log", "hangs.log"]  # no result, not even a partial one


def test_grading_refuses_without_a_sandbox_and_says_what_that_risks(tmp_path, monkeypatch, capsys):
    submissions = tmp_path / "subs"
    submissions.mkdir()
    monkeypatch.setattr(cli, "bwrap_problem", lambda: "`bwrap` is not installed")
    with pytest.raises(SystemExit, match="--no-sandbox runs them unconfined: WITHOUT A SANDBOX"):
        cli.main([hostile.ASSIGNMENT, str(submissions), "--out", str(tmp_path / "out")])
    assert cli.main([hostile.ASSIGNMENT, str(submissions), "--out", str(tmp_path / "out"),
                     "--no-sandbox"]) == 0
    assert "WARNING: --no-sandbox" in capsys.readouterr().out


def test_sandbox_command_line(tmp_path):
    from tools.grading import sandbox

    box = sandbox.Sandbox(hide=[ROOT / "solutions"], limits=sandbox.Limits(memory=123456789))
    argv = sandbox.sandbox_config(box, tmp_path, {"X": "1"}, ["python"])["argv"]
    text = " ".join(argv)
    assert argv[0] == "bwrap" and ("--unshare-net" in argv or "--unshare-all" in argv)
    assert "--die-with-parent" in argv and "--clearenv" in argv
    assert f"--tmpfs {ROOT / 'solutions'} --remount-ro {ROOT / 'solutions'}" in text
    assert f"--ro-bind {ROOT} {ROOT}" in text and f"--bind {tmp_path} {tmp_path}" in text
    assert "--as=123456789" in argv and argv[-1] == "python"
    assert "--nproc=256" in argv and "--cpu=900:905" in argv  # soft limit: SIGXCPU, then SIGKILL
    sources = {argv[i + 1] for i, a in enumerate(argv) if a in ("--bind", "--ro-bind")}
    assert str(Path.home()) not in sources and "/" not in sources  # no home folder, no whole disk
