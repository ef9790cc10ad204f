"""Every colour a lesson or solution draws comes from dlcourse.plots.palette, as in the package.

Categories take ``OKABE_ITO[k]``; values take a colour map named in ``COLORMAPS``; text or outlines
on a colour map may be ``"white"`` or ``"black"`` (``CONTRAST``). The scan is the package's
(tests/unit/test_palette.py), applied to the notebooks' code cells.
"""

from pathlib import Path

import nbformat
import pytest

from dlcourse.plots.palette import COLORMAPS, CONTRAST
from tests.unit.test_palette import CMAP, HEX, NAMED

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted([*(ROOT / "notebooks").glob("*.ipynb"), *(ROOT / "solutions").glob("*.ipynb")])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebooks_draw_only_palette_colours_and_named_colour_maps(path):
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    assert not HEX.findall(code), f"{path.name}: a hex colour {HEX.findall(code)}; use OKABE_ITO[k]"
    assert set(CMAP.findall(code)) <= set(COLORMAPS), \
        f"{path.name}: colour maps {set(CMAP.findall(code)) - set(COLORMAPS)} are not in COLORMAPS"
    assert set(NAMED.findall(code)) <= set(CONTRAST), \
        f"{path.name}: named colours {set(NAMED.findall(code)) - set(CONTRAST)}; use OKABE_ITO[k]"
