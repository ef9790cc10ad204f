"""Sphinx configuration of the course's website; build it with ``make book`` (tools/book.py).

The repository's address comes from pyproject.toml ([project.urls] Repository), through
tools.notebook_meta, like the notebooks' Colab badges; the site's address is derived from it.
"""

from __future__ import annotations

# tools/book.py runs Sphinx as `python -m sphinx` from the repository's root, which puts the root
# on the path: the configuration imports the tools like any package.
from tools.book import PARTS, STAGE, site_url
from tools.notebook_meta import repository_url

project = "dlcourse"
html_title = "dlcourse: deep learning from NumPy to PyTorch"
author = "the dlcourse authors"
copyright = "the dlcourse authors; prose and figures CC BY 4.0, code MIT"

extensions = ["myst_nb"]
# Lessons are shown with their committed outputs (checked by strict nbval in CI), never re-run.
nb_execution_mode = "off"
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_heading_anchors = 3
# Widgets: the site loads no widget JavaScript (it would come from a CDN, and a widget needs a
# kernel anyway); each widget output shows its static fallback, the text the lesson prints for it.
nb_ipywidgets_js = {}
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]

# MathJax 3 from the copy tools/book.py stages in _static (the django-static-mathjax package).
mathjax_path = "mathjax/tex-chtml.js"

html_theme = "sphinx_book_theme"
html_baseurl = site_url()
html_static_path = [str(STAGE / "_static")]
html_css_files = ["course.css"]
html_copy_source = False  # the source button links to the repository
html_show_sourcelink = False
html_last_updated_fmt = None
# make linkcheck: a slow server is reported, not waited for.
linkcheck_timeout = 15
linkcheck_workers = 4
html_theme_options = {
    "repository_url": repository_url(),
    "repository_branch": "main",
    "path_to_docs": "",
    "use_repository_button": True,
    "use_source_button": True,
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"},
    "home_page_in_toc": True,
    "show_navbar_depth": 2,
    "show_toc_level": 2,
}

#: Pages that tools/book.py writes: their source button points at what they are made from.
GENERATED = {"index": "README.md", **{part.page: "tools/book.py" for part in PARTS}}


def _source_buttons(app, pagename: str, templatename: str, context: dict, doctree) -> None:
    """Point a generated page's source button at the file it is made from."""
    if pagename not in GENERATED:
        return
    url = f"{repository_url()}/blob/main/{GENERATED[pagename]}"
    for button in context.get("header_buttons", []):
        for item in button.get("buttons", [button]):
            if item.get("label") == "Source repository" or "url" not in item:
                continue
            if "/blob/" in item["url"] or "/edit/" in item["url"]:
                item["url"] = url


def setup(app) -> None:
    app.connect("html-page-context", _source_buttons, priority=900)
