"""A similarity report across the submissions of one assignment, for a person to look at.

Only the learners' own code is compared: the code cells they answer in (nbgrader's solution cells)
and the code cells they added; the code every student was given (the exercise's solution-cell
stubs: signatures, docstrings, ``# YOUR CODE HERE``) is boilerplate and does not count. The
comparison is copydetect's (https://github.com/blingenf/copydetect): code is tokenised (names and
literals abstracted, comments dropped) and fingerprinted by winnowing, so renamed variables or
moved lines do not hide copied code. The report (``runs/<time>/similarity.md``) lists the most
similar pairs; ``runs/<time>/similarity/<student>.py`` holds each learner's extracted code to
compare side by side. Similar code is a reason to look, not a verdict: short exercises have few
ways to be written.
"""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any

import nbformat

from tools.grading.assignment import nbgrader_meta
from tools.grading.gradebook import safe_name
from tools.grading.scoring import MAX_SUBMISSION_BYTES, read_regular_file

#: copydetect's defaults are a noise threshold of 25 and a guarantee threshold of 30 tokens;
#: exercises are short, so smaller k-grams find more.
K, WINDOW = 15, 4


def learner_code(path: Path, release: Any) -> str | None:
    """The code a learner wrote in a submission, or None if it is not a readable notebook.

    Read as the grader reads it: a regular file only, never what a link points to."""
    raw, _ = read_regular_file(path, MAX_SUBMISSION_BYTES)
    if raw is None or len(raw) > MAX_SUBMISSION_BYTES:
        return None
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except (UnicodeDecodeError, json.JSONDecodeError, Exception):
        return None
    given = {c.source.strip() for c in release.cells if c.cell_type == "code"}
    parts = []
    for cell in nb.cells:
        if cell.cell_type != "code" or not isinstance(cell.get("source"), str):
            continue
        meta = nbgrader_meta(cell) if isinstance(cell.get("metadata"), dict) else {}
        if meta.get("locked") or cell.source.strip() in given:  # given, and left as given
            continue
        if meta.get("solution") or not meta:
            parts.append(cell.source)
    return "\n\n".join(parts)


def similarity_report(entries: list[tuple[str, Path]], source_path: Path, run_dir: Path,
                      top: int = 20) -> Path:
    """Compare every pair of submissions; write the report and each learner's code; return it."""
    from copydetect import CodeFingerprint, compare_files

    from tools.make_exercises import release_notebook

    release = release_notebook(nbformat.read(source_path, as_version=4))
    stubs = "\n\n".join(c.source for c in release.cells
                        if c.cell_type == "code" and nbgrader_meta(c).get("solution"))
    boilerplate = sorted(CodeFingerprint("given.py", K, WINDOW, fp=io.StringIO(stubs)).hashes)
    folder = run_dir / "similarity"
    folder.mkdir(exist_ok=True)
    prints, skipped = {}, []
    for student, path in entries:
        code = learner_code(path, release)
        if not code or not code.strip():
            skipped.append(student)
            continue
        (folder / f"{safe_name(student)}.py").write_text(code)
        try:
            prints[student] = CodeFingerprint(f"{student}.py", K, WINDOW, boilerplate=boilerplate,
                                              fp=io.StringIO(code))
        except Exception:
            skipped.append(student)
    pairs = []
    for (a, fa), (b, fb) in itertools.combinations(sorted(prints.items()), 2):
        if not len(fa.hashes) or not len(fb.hashes):
            continue
        overlap, (sim_a, sim_b), _ = compare_files(fa, fb)
        if overlap:
            pairs.append((max(sim_a, sim_b), a, b, sim_a, sim_b, int(overlap)))
    pairs.sort(reverse=True)
    lines = [f"# Similarity of the submissions: {source_path.stem}", "",
             f"{len(prints)} submissions compared on the learners' own code (copydetect, "
             f"k = {K}, window {WINDOW}; the exercise's given code is left out). The most similar "
             f"pairs first; a pair is a reason to look, not a verdict. Each learner's code: "
             f"`similarity/<student>.py`.", "",
             "| rank | student A | student B | A's code found in B | B's code found in A | "
             "shared tokens |", "|---:|---|---|---:|---:|---:|"]
    for rank, (_, a, b, sim_a, sim_b, overlap) in enumerate(pairs[:top], start=1):
        lines.append(f"| {rank} | {a} | {b} | {sim_a:.0%} | {sim_b:.0%} | {overlap} |")
    if not pairs:
        lines.append("| | (no two submissions share code of their own) | | | | |")
    if skipped:
        lines += ["", f"Not compared (no code of their own, or not a readable notebook): "
                      f"{', '.join(skipped)}."]
    report = run_dir / "similarity.md"
    report.write_text("\n".join(lines) + "\n")
    return report
