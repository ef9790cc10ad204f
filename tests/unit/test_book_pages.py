"""tools/book.py's pure parts: which part a lesson belongs to, the course order, link rewriting,
the site's address. The built site itself is tested in tests/system/test_book.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.book import LOCAL_BADGE, PARTS, course_order, number, part_of, rewrite_links, site_url
from tools.notebook_meta import BADGE, ROOT, repository_url

LESSON = Path("notebooks/04_backpropagation.ipynb")
PAGES = {(ROOT / "notebooks" / "02_neurons_and_activations.ipynb").resolve(),
         (ROOT / "docs" / "instructors.md").resolve()}


@pytest.mark.parametrize(("name", "part"), [
    ("00_setup.ipynb", "Part I"), ("05_numpy_mlp.ipynb", "Part I"),
    ("05b_autograd_from_scratch.ipynb", "Part I"), ("06_pytorch_basics.ipynb", "Part II"),
    ("07_training_loop.ipynb", "Part II"), ("10a_rnn_from_scratch.ipynb", "Part III"),
    ("13_attention.ipynb", "Part III"), ("14_distributed.ipynb", "Part III"),
])
def test_a_lesson_s_number_places_it_in_its_part(name: str, part: str):
    assert part_of(Path(name)).label == part


def test_a_notebook_without_a_number_is_refused():
    with pytest.raises(ValueError, match="starts with its lesson number"):
        number(Path("attention.ipynb"))


def test_course_order_puts_each_lesson_before_its_exercises():
    order = [path.relative_to(ROOT).as_posix() for path in course_order()]
    assert order[0] == "notebooks/00_setup.ipynb" and order[1] == "exercises/00_warmup.ipynb"
    assert order.index("notebooks/10b_rnn_applications.ipynb") < order.index("exercises/10_rnn_cell.ipynb")
    lesson_05, lesson_05b, lesson_06 = (order.index(f"notebooks/{name}.ipynb") for name in
                                        ("05_numpy_mlp", "05b_autograd_from_scratch", "06_pytorch_basics"))
    assert lesson_05 < lesson_05b < lesson_06
    assert order.index("exercises/10_rnn_cell.ipynb") < order.index("notebooks/11a_gans_2d.ipynb")
    assert [number(Path(p)) for p in order] == sorted(number(Path(p)) for p in order)
    assert not any(p.startswith("solutions/") for p in order)
    assert [p.first for p in PARTS] == sorted(p.first for p in PARTS)


def test_links_to_pages_stay_and_other_repository_files_point_to_the_repository():
    text = ("[a page](02_neurons_and_activations.ipynb), "
            "[a section](02_neurons_and_activations.ipynb#goals), "
            "[a solution](../solutions/04_backprop.ipynb), [a folder](../dlcourse/numpy_nn), "
            "[the guide](../docs/instructors.md), [a heading](#the-chain-rule), [out](https://example.org/x)")
    out = rewrite_links(text, LESSON, PAGES)
    repo = repository_url()
    assert "[a page](02_neurons_and_activations.ipynb)" in out
    assert "[a section](02_neurons_and_activations.ipynb#goals)" in out
    assert f"[a solution]({repo}/blob/main/solutions/04_backprop.ipynb)" in out
    assert f"[a folder]({repo}/tree/main/dlcourse/numpy_nn)" in out
    assert "[the guide](../docs/instructors.md)" in out
    assert "[a heading](#the-chain-rule)" in out and "[out](https://example.org/x)" in out


def test_a_broken_link_is_left_for_sphinx_to_report():
    assert rewrite_links("[gone](11_gans.ipynb)", LESSON, PAGES) == "[gone](11_gans.ipynb)"


def test_the_colab_badge_image_is_the_site_s_own_copy():
    badge = f"[![Open In Colab]({BADGE})](https://colab.research.google.com/github/x/y/blob/main/a.ipynb)"
    out = rewrite_links(badge, LESSON, PAGES)
    assert out == f"[![Open In Colab]({LOCAL_BADGE})](https://colab.research.google.com/github/x/y/blob/main/a.ipynb)"
    assert (ROOT / "book" / LOCAL_BADGE.lstrip("/")).exists()


def test_the_site_s_address_comes_from_the_repository_url(monkeypatch):
    monkeypatch.setattr("tools.book.repository_url", lambda: "https://github.com/Some-Org/deep-course")
    assert site_url() == "https://some-org.github.io/deep-course/"


def test_readme_links_to_the_site_at_its_address():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"<{site_url()}>" in readme, f"README.md must link to the site at {site_url()}"
