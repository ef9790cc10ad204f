"""A learner's progress (dlcourse/learner_record.py): recorded by real check blocks, read back
into a table of the real exercises' questions, robust to damaged files and concurrent kernels."""

from __future__ import annotations

import multiprocessing
import os

import pytest

from dlcourse import cli, learner_record
from dlcourse.checks import CheckFailed, checking
from dlcourse.learner_record import progress_table, read_record, record


@pytest.fixture
def progress_file(tmp_path, monkeypatch):
    path = tmp_path / "progress" / "progress.jsonl"
    monkeypatch.setenv(learner_record.VARIABLE, str(path))
    monkeypatch.setattr(learner_record, "_warned", False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return path


def warmup_row(table: str, grade_id: str) -> str:
    (row,) = [line for line in table.splitlines() if line.strip().startswith(grade_id)]
    return row


def test_check_blocks_record_their_outcomes_and_the_table_reads_them(progress_file, monkeypatch):
    with checking("standardise") as check:
        check.close("x", 1.0, 1.0)
    with pytest.raises(CheckFailed, match="one_hot: x: expected 2, got 1"):
        with checking("one_hot") as check:
            check.close("x", 1.0, 2.0)
    with checking("one_hot (not a question)"):
        raise NotImplementedError
    with checking("a plot"):  # a block without checks is not a question's outcome
        pass
    monkeypatch.setenv("JPY_SESSION_NAME", "/home/me/course/exercises/00_warmup.ipynb")
    with pytest.raises(ZeroDivisionError, match="a bug"), checking("standardise (again)"):
        raise ZeroDivisionError("a bug in the learner's code")
    entries, note = read_record()
    assert note == ""
    assert [(e.block, e.outcome) for e in entries] == [
        ("standardise", "passed"), ("one_hot", "failed"),
        ("one_hot (not a question)", "not attempted"), ("standardise (again)", "error")]
    assert entries[-1].notebook == "00_warmup.ipynb" and entries[0].notebook is None
    table = progress_table()
    assert "00 · Warm-up exercise: how exercises work: 1 of 2 questions passed" in table
    assert " passed " in warmup_row(table, "test-standardise")
    assert "attempted" in warmup_row(table, "test-one-hot")
    assert table.startswith("Your progress: 1 questions passed, 1 attempted,")
    record("one_hot", "not attempted")  # the untouched stub ran again: that is not an attempt
    assert "not started" in warmup_row(progress_table(), "test-one-hot")
    assert f"Recorded in {progress_file}" in table
    with checking("one_hot") as check:  # the latest run wins
        check.close("x", 1.0, 1.0)
    assert "2 of 2 questions passed" in progress_table(detail=False)


def test_recording_can_be_turned_off(progress_file, monkeypatch, capsys):
    record("standardise", "passed")
    monkeypatch.setenv(learner_record.VARIABLE, "off")
    record("one_hot", "passed")
    off = progress_table()
    assert "Recording is off" in off and "0 questions passed" in off  # nothing read either
    progress_file.unlink()
    monkeypatch.setenv(learner_record.VARIABLE, str(progress_file))
    assert cli.main(["progress", "--off"]) == 0
    assert "recording is off" in capsys.readouterr().out
    record("standardise", "passed")
    assert not progress_file.exists()
    assert cli.main(["progress", "--on"]) == 0
    record("standardise", "passed")
    assert len(read_record()[0]) == 1
    assert cli.main(["progress"]) == 0
    assert "1 of 2 questions passed" in capsys.readouterr().out


def test_a_damaged_record_is_reported_and_rebuilt_from_its_good_lines(progress_file):
    record("standardise", "passed")
    with open(progress_file, "ab") as f:
        f.write(b"\x00\xff not json\n{\"time\": 1}\n")
    record("one_hot", "failed")
    with open(progress_file, "ab") as f:
        f.write(b'{"time": "2026-12-01T10:00:00+00:00", "block": "one_h')  # cut off mid-line
    entries, note = read_record()
    assert [e.block for e in entries] == ["standardise", "one_hot"]
    assert "3 damaged line(s)" in note and "rebuilt" in note
    (kept,) = progress_file.parent.glob("progress.jsonl.damaged-*")
    assert b"not json" in kept.read_bytes()
    assert read_record() == (entries, "")  # the file now holds the good lines only
    assert "Note: the progress record had 3 damaged" not in progress_table()


def test_an_unusable_record_is_reported_never_raised(progress_file, capsys):
    progress_file.mkdir(parents=True)  # a folder where the file should be
    with checking("standardise") as check:
        check.close("x", 1.0, 1.0)
    out = capsys.readouterr().out
    assert "progress not recorded" in out and "standardise: all tests passed" in out
    record("one_hot", "passed")
    assert "progress not recorded" not in capsys.readouterr().out  # said once
    assert "cannot be read" in read_record()[1]


def _write_many(path: str, worker: int, n: int) -> None:
    os.environ[learner_record.VARIABLE] = path
    for i in range(n):
        record(f"block {worker}-{i}", "passed")


def test_concurrent_kernels_lose_no_line(progress_file):
    progress_file.parent.mkdir(parents=True)
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_many, args=(str(progress_file), w, 250))
               for w in range(4)]
    for writer in writers:
        writer.start()
    notes = set()
    while any(w.is_alive() for w in writers):  # a reader meanwhile, which rewrites if damaged
        notes.add(read_record()[1])
    for writer in writers:
        writer.join()
        assert writer.exitcode == 0
    entries, note = read_record()
    assert notes <= {""} and note == ""
    assert sorted(e.block for e in entries) == sorted(f"block {w}-{i}" for w in range(4)
                                                      for i in range(250))
