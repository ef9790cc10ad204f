"""Write ``data/sunspots.csv``: the yearly sunspot numbers 1700-2008 that statsmodels bundles.

Lesson 10 forecasts this series with a recurrent network and compares it with a naive forecast.
The numbers are statsmodels' copy (``statsmodels.datasets.sunspots``, 309 years) of the yearly
sunspot numbers once published by NOAA's National Geophysical Data Center (NGDC); statsmodels
describes them as public domain. They are the "version 1" International Sunspot Numbers, which
SILSO (Royal Observatory of Belgium) has since recalibrated into version 2 (2015), a series
under CC BY-NC 4.0 that this file does NOT contain.

statsmodels is needed only to regenerate the file (the course does not depend on it)::

    .venv/bin/pip install statsmodels
    .venv/bin/python data/make_sunspots.py     # rewrites data/sunspots.csv, prints its sha256
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "sunspots.csv"


def main() -> int:
    import statsmodels
    from statsmodels.datasets import sunspots

    frame = sunspots.load_pandas().data
    lines = ["year,sunspots"] + [f"{int(y)},{v:g}" for y, v in zip(frame["YEAR"], frame["SUNACTIVITY"],
                                                                      strict=True)]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"statsmodels {statsmodels.__version__}: wrote {len(lines) - 1} years to {OUT}")
    print("sha256", hashlib.sha256(OUT.read_bytes()).hexdigest())
    return 0


if __name__ == "__main__":
    sys.exit(main())
