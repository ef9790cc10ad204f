"""The course's website as built by ``make book`` (tools/book.py): its pages, and a real browser on it.

The HTML tests read build/book/html, which ``make system`` (and so ``make test``) builds first; run
``make book`` before running this file by hand. The browser test serves the site from 127.0.0.1,
lets no request leave this machine (each one is recorded and the test fails on any), opens the home
page and lesson 04 in Debian's Chromium through Playwright, checks that MathJax typeset the
equations, follows next and previous, searches, and saves screenshots to build/screenshots/book-*.png.
"""

from __future__ import annotations

import functools
import http.server
import posixpath
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.system.test_browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, _require_chromium
from tools.book import HTML, PARTS, course_order, site_url, sphinx_command
from tools.notebook_meta import ROOT, colab_url, repository_url

#: A lesson with display and inline equations.
MATH_LESSON = "notebooks/04_backpropagation"


@pytest.fixture(scope="module")
def site() -> Path:
    if not (HTML / "index.html").exists():
        pytest.fail(f"{HTML} has no site: run `make book` first (make system builds it)")
    return HTML


def _page(site: Path, name: str) -> str:
    return (site / f"{name}.html").read_text(encoding="utf-8")


def _sidebar(site: Path, name: str) -> list[str]:
    """Return the pages that page ``name``'s sidebar links to, in order (not ``name`` itself)."""
    html = _page(site, name)
    nav = re.search(r'<nav class="[^"]*\bbd-docs-nav\b.*?</nav>', html, re.S)
    assert nav, "the page has no sidebar"
    return [posixpath.normpath(posixpath.join(posixpath.dirname(name), href)).removesuffix(".html")
            for href in re.findall(r'<a class="reference internal" href="([^"#]+)"', nav.group(0))]


def _expected_order() -> list[str]:
    order = []
    for part in PARTS:
        order.append(part.page)
        order += [nb.relative_to(ROOT).with_suffix("").as_posix() for nb in course_order()
                  if [p for p in PARTS if p.first <= int(re.match(r"\d+", nb.name).group())][-1] == part]
    return order + ["docs/architecture", "docs/instructors", "data/README"]


def test_sidebar_lists_parts_lessons_and_exercises_in_course_order(site: Path):
    expected = _expected_order()
    assert "notebooks/04_backpropagation" in expected and "exercises/04_backprop" in expected
    assert expected.index("exercises/04_backprop") == expected.index("notebooks/04_backpropagation") + 1
    assert _sidebar(site, "index") == expected
    # On a lesson's page, the home page is linked and the lesson itself is the current entry.
    assert _sidebar(site, "notebooks/00_setup") == ["index"] + [
        page for page in expected if page != "notebooks/00_setup"]
    assert not any(path.startswith("solutions/") for path in expected)
    assert not list(site.glob("solutions*")), "the site must not publish the solutions"


def test_every_notebook_page_links_to_colab_and_to_its_source(site: Path):
    for notebook in course_order():
        path = notebook.relative_to(ROOT).as_posix()
        html = _page(site, path.removesuffix(".ipynb"))
        assert colab_url(notebook) in html, f"{path}: no link to Colab"
        assert f"{repository_url()}/blob/main/{path}" in html, f"{path}: no link to its source"
        assert 'src="../_images/colab-badge.svg"' in html, f"{path}: the Colab badge is not the site's copy"
    home = _page(site, "index")
    assert f"{repository_url()}/blob/main/README.md" in home, "the home page's source is README.md"
    assert f'<link rel="canonical" href="{site_url()}index.html"' in home


def test_pages_load_nothing_from_other_servers(site: Path):
    for page in site.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        tags = re.findall(r"<(?:script|img|link|iframe|source|video|audio|embed)\b[^>]*>", html)
        loaded = [tag for tag in tags
                  if re.search(r'\b(?:src|href)="(?:https?:)?//', tag) and 'rel="canonical"' not in tag]
        assert loaded == [], f"{page.relative_to(site)} loads from other servers: {loaded}"
    assert (site / "_static" / "mathjax" / "tex-chtml.js").exists()


def test_widgets_show_their_static_fallback(site: Path):
    html = _page(site, "notebooks/02_neurons_and_activations")
    assert "Neuron explorer (interactive in JupyterLab or Colab)" in html
    assert "application/vnd.jupyter.widget-view+json" not in html


def test_warnings_fail_the_build(site: Path, tmp_path: Path):
    """A broken link, a missing image and a bad cross-reference each fail the build, by name."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "index.md").write_text(
        "# A page\n\n[a lesson](notebooks/99_missing.ipynb) and {ref}`no-such-label`\n\n"
        "![a figure](figures/missing.png)\n\nFine: $$a^2 + b^2 = c^2$$\n")
    result = subprocess.run(sphinx_command("html", source, tmp_path / "html"), cwd=ROOT,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode != 0, "the build passed despite its warnings"
    assert "99_missing.ipynb" in result.stderr and "[myst.xref_missing]" in result.stderr, result.stderr
    assert "figures/missing.png" in result.stderr, result.stderr
    assert "no-such-label" in result.stderr, result.stderr


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(site: Path) -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=site))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _unrendered_math(page) -> str:
    """Return the article's prose (no code, no typeset math) where ``$$`` or ``\\(`` is left raw."""
    return page.evaluate("""() => {
        const article = document.querySelector('article').cloneNode(true);
        article.querySelectorAll('pre, code, mjx-container, script').forEach(e => e.remove());
        const text = article.innerText;
        return (text.match(/.{0,40}(\\$\\$|\\\\\\(|\\\\\\[).{0,40}/g) || []).join(' | ');
    }""")


def test_browser_shows_equations_navigation_and_search(server: str, site: Path):
    _require_chromium()
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    outside, errors = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1000})

            def only_local(route) -> None:
                if urlparse(route.request.url).hostname == "127.0.0.1":
                    route.continue_()
                else:
                    outside.append(route.request.url)
                    route.abort()

            context.route("**/*", only_local)
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.on("pageerror", lambda error: errors.append(str(error)))

            page.goto(server + "index.html")
            sidebar = page.locator("nav.bd-docs-nav")
            assert sidebar.get_by_role("link", name=re.compile(r"^Part I: ")).first.is_visible()
            links = sidebar.locator("a.reference.internal")
            texts = [t.strip() for t in links.all_inner_texts()]
            assert texts[1].startswith("Part I:") and texts[2].startswith("00 · Setup"), texts[:3]
            page.screenshot(path=SCREENSHOTS / "book-home.png")

            page.goto(server + MATH_LESSON + ".html")
            page.locator("mjx-container[display='true']").first.wait_for()
            typeset = page.locator("mjx-container").count()
            assert typeset >= 10, f"only {typeset} equations typeset by MathJax"
            assert page.locator("mjx-merror").count() == 0, "MathJax reports an error in an equation"
            assert _unrendered_math(page) == "", f"raw TeX left in the prose: {_unrendered_math(page)}"
            assert page.locator("article img").first.evaluate("img => img.naturalWidth") > 0
            page.locator("mjx-container[display='true']").first.scroll_into_view_if_needed()
            page.screenshot(path=SCREENSHOTS / "book-lesson.png")

            page.locator("a.right-next").click()
            page.wait_for_url(re.compile(r"exercises/04_backprop\.html$"))
            page.locator("a.left-prev").click()
            page.wait_for_url(re.compile(MATH_LESSON + r"\.html$"))

            page.goto(server + "search.html?q=backpropagation")
            results = page.locator("#search-results ul.search li")
            results.first.wait_for()
            assert results.count() >= 3
            assert results.get_by_role("link", name=re.compile("Backpropagation")).count() >= 1
            page.screenshot(path=SCREENSHOTS / "book-search.png")
        finally:
            browser.close()
    assert outside == [], f"the site asked other servers for {outside}"
    assert errors == [], f"JavaScript errors: {errors}"
    shots = ", ".join(str(SCREENSHOTS / f"book-{name}.png") for name in ("home", "lesson", "search"))
    print(f"screenshots: {shots}")
