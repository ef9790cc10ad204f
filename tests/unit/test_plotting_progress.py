"""The course's plotting style and progress bars."""

import matplotlib.pyplot as plt
import pytest

from dlcourse.env.plotting import OKABE_ITO, summary_line, use_course_style
from dlcourse.env.progress import progress


def test_course_style_uses_the_colour_blind_safe_palette():
    use_course_style()
    fig, ax = plt.subplots()
    lines = [ax.plot([0, 1], [0, k])[0] for k in range(3)]
    assert [line.get_color() for line in lines] == list(OKABE_ITO[:3])
    plt.close(fig)


@pytest.mark.parametrize(("values", "expected"), [
    ({}, "Figure: Loss"),
    ({"start": 2.3456789, "end": 0.5}, "Figure: Loss -- start=2.346, end=0.5"),
    ({"epochs": 10, "model": "MLP"}, "Figure: Loss -- epochs=10, model=MLP"),
])
def test_summary_line(values, expected):
    assert summary_line("Loss", **values) == expected


def test_progress_yields_everything_and_writes_text_outside_jupyter(capsys):
    assert list(progress(range(5), desc="counting")) == [0, 1, 2, 3, 4]
    err = capsys.readouterr().err
    assert "counting" in err and "5/5" in err
