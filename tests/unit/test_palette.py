"""Every colour in the package comes from dlcourse.plots.palette."""

import re
from pathlib import Path

import pytest

from dlcourse.plots.palette import COLORMAPS, CONTRAST, OKABE_ITO

PACKAGE = Path(__file__).resolve().parents[2] / "dlcourse"
SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "palette.py")

HEX = re.compile(r"[\"']#[0-9A-Fa-f]{3,8}[\"']")
CMAP = re.compile(r"cmap\s*=\s*[\"']([^\"']+)[\"']")
NAMED = re.compile(r"\b(?:colou?rs?|edgecolors?|facecolors?|c)\s*[=:]\s*[\"']([a-zA-Z]+|C\d)[\"']")


def test_the_palette_is_okabe_ito_with_black_last():
    assert len(OKABE_ITO) == 8 and OKABE_ITO[-1] == "#000000"
    assert len(set(OKABE_ITO)) == 8
    assert set(COLORMAPS) >= {"viridis"} and set(CONTRAST) == {"white", "black"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_package_draws_only_palette_colours_and_named_colour_maps(path):
    text = path.read_text(encoding="utf-8")
    assert not HEX.findall(text), f"{path.name}: a hex colour outside the palette; use OKABE_ITO[k]"
    assert set(CMAP.findall(text)) <= set(COLORMAPS), f"{path.name}: a colour map not in COLORMAPS"
    assert set(NAMED.findall(text)) <= set(CONTRAST), f"{path.name}: a named colour; use OKABE_ITO[k]"


def test_the_scan_would_see_a_stray_colour():
    assert HEX.findall('ax.plot(x, color="#ff0000")') and NAMED.findall('ax.plot(x, color="grey")')
    assert CMAP.findall('ax.imshow(a, cmap="Blues")') == ["Blues"]
