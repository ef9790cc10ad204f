"""Summarise how far notebook outputs drifted from the committed run, per notebook and cell.

Usage:
    DLCOURSE_DRIFT_LOG=build/drift/avx2.jsonl make notebooks NUMERICS=avx2
    python -m tools.drift_report build/drift/*.jsonl            # a Markdown table per log

Each log line is one compared cell, written by ``tests/notebooks/nbval_measured.py``. The table
lists, per notebook, the largest absolute drift of any number, the cell and number it came from,
and the cells that failed (beyond their tolerance, or with changed words). Use it to choose a
tolerance: a measured cell's tolerance should sit well above the drift seen across
configurations, and well below the change that a real regression makes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def largest(record: dict) -> float:
    """The largest drift of any number in one cell, decimal or whole."""
    return max(record["max_float_abs"], record["max_int_abs"])


def summarise(log: Path) -> list[str]:
    """Markdown lines summarising one drift log."""
    per_notebook: dict[str, list[dict]] = defaultdict(list)
    for line in log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        per_notebook[f"{record['folder']}/{record['notebook']}"].append(record)
    lines = [f"### {log.stem}", "",
             "| notebook | cells | measured | largest drift | where | failed cells |",
             "|---|---:|---:|---:|---|---|"]
    for name, records in sorted(per_notebook.items()):
        worst = max(records, key=largest)
        failed = [f"{r['cell']}{'' if r['measured'] else ' (exact)'}" for r in records if not r["ok"]]
        where = f"cell {worst['cell']}: {worst['worst']}" if worst["worst"] else "-"
        lines.append(f"| {name} | {len(records)} | {sum(r['measured'] for r in records)} | "
                     f"{largest(worst):.3g} | {where} | {', '.join(failed) or 'none'} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for log in args.logs:
        print("\n".join(summarise(log)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
