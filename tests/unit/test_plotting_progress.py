"""The course's plotting style and progress bars."""

import matplotlib.pyplot as plt
import pytest

from dlcourse.env.progress import progress
from dlcourse.env.seeding import default_threads
from dlcourse.lesson import start
from dlcourse.plots.style import (
    OKABE_ITO,
    figure_problems,
    figure_title,
    show,
    summary_line,
    use_course_style,
)


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


@pytest.mark.parametrize(("suptitle", "titles", "expected"), [
    ("Loss and accuracy", ["loss", "accuracy"], "Loss and accuracy"),
    ("", ["Training loss"], "Training loss"),
    ("", ["loss", "accuracy"], "loss; accuracy"),
])
def test_figure_title_is_what_a_reader_sees(suptitle, titles, expected):
    fig, axes = plt.subplots(1, len(titles), squeeze=False)
    for ax, title in zip(axes[0], titles, strict=True):
        ax.set_title(title)
    if suptitle:
        fig.suptitle(suptitle)
    assert figure_title(fig) == expected
    plt.close(fig)


def test_show_checks_shows_and_summarises_a_figure_from_its_title(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))  # Agg cannot show: count the call
    fig, ax = plt.subplots()
    ax.plot([0, 1], [2.3, 0.41])
    ax.set(title="Training loss", xlabel="epoch", ylabel="loss (nats)")
    show(fig, start=2.3, end=0.41)
    assert shown == [True]
    assert capsys.readouterr().out == "Figure: Training loss -- start=2.3, end=0.41\n"
    plt.close(fig)


def test_show_refuses_a_figure_without_labels_and_shows_nothing(capsys, monkeypatch):
    shown = []
    monkeypatch.setattr(plt, "show", lambda: shown.append(True))
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_title("Unlabelled")
    with pytest.raises(ValueError, match="no x label"):
        show(fig)
    assert shown == [] and capsys.readouterr().out == ""
    plt.close(fig)


def test_start_seeds_every_generator_and_applies_the_course_style():
    import matplotlib as mpl
    import torch

    mpl.rcParams["axes.grid"] = False
    first = (start(seed=3).random(2), torch.rand(2))
    assert mpl.rcParams["axes.grid"] is True  # the course style is on
    again = (start(seed=3).random(2), torch.rand(2))
    assert (first[0] == again[0]).all() and torch.equal(first[1], again[1])
    assert torch.get_num_threads() == default_threads()  # 1 unless DLCOURSE_THREADS says otherwise
    assert not (start(seed=4).random(2) == first[0]).all()


@pytest.mark.parametrize(("sharey", "problems"), [(True, 0), (False, 1)])
def test_panels_sharing_an_axis_share_its_label(sharey, problems):
    fig, axes = plt.subplots(1, 2, sharey=sharey)
    for ax in axes:
        ax.plot([0, 1], [0, 1])
        ax.set(title="panel", xlabel="time (s)")
    axes[0].set_ylabel("loss (nats)")  # only the first panel of the row
    found = figure_problems(fig)
    assert len(found) == problems and all("axes 2 has no y label" in p for p in found)
    plt.close(fig)
