"""JupyterLab in a real browser: the course as a learner sees it after `make lab`.

One test, in four steps, so that pytest-xdist never starts two servers and two browsers:

1. start JupyterLab exactly as a learner does, with ``make lab`` (127.0.0.1, a free port, a
   random token, ``--no-browser``), with its own settings, workspace and runtime folders so that
   nothing of the machine's own JupyterLab setup leaks in, autosave is off (the test must not
   rewrite the committed notebooks: it checks they are byte-for-byte unchanged afterwards) and the
   checks record the learner's progress in the test's own file;
2. drive Debian's Chromium headless through Playwright (``executable_path``: Playwright's own
   browser download does not work on our machines), open ``notebooks/00_setup.ipynb``, choose
   *Run -> Run All Cells* from the menu, wait until every code cell has an execution count and
   check that no cell shows an error (nor writes to stderr), and that the page shows nothing of
   nbgrader (its menu, side panels and Validate button) and the server none of its pages (.venv
   has nbgrader for the grader, with its JupyterLab and server extensions switched off by the
   Makefile: a maintainer's `make lab` is a learner's; a learner's .venv has no nbgrader at all);
3. open the lesson with the single-neuron explorer, drag its bias slider with the mouse, and
   check that the kernel's callback redrew the picture and rewrote the status line;
4. open the warm-up exercise, Run All (each untouched stub says "not attempted yet"), type a
   wrong answer into a stub as a learner does, run it and its check cell, and check that the
   check's message is in plain view and no traceback is (dlcourse.checks.CheckFailed). The edit
   is never saved.

Screenshots of each step go to ``build/screenshots/``. The JupyterLab server (asked to shut down
through its API, then its process group signalled) and the browser are always shut down, and any
kernel that outlived the server is found by its connection file in this test's runtime folder and
ended. Without Chromium the test is skipped for a learner's ``make test`` and fails in CI, where
``.ci/run`` installs it and sets ``DLCOURSE_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = Path(os.environ.get("DLCOURSE_CHROMIUM", "/usr/bin/chromium"))
SETUP_NOTEBOOK = "notebooks/00_setup.ipynb"
#: A lesson the course ships with an interactive widget: the single-neuron explorer.
WIDGET_LESSON = "notebooks/02_neurons_and_activations.ipynb"
#: The slider the test moves (a ``FloatSlider`` whose description is this label).
SLIDER_LABEL = "b"
#: An exercise, a stub in it (found by its first line) and a wrong answer for it, its check cell
#: (found by its first line) and the start of the message the check gives for that answer.
EXERCISE = "exercises/00_warmup.ipynb"
STUB = "def standardise(x):"
WRONG_ANSWER = "def standardise(x):\n    return x - x.mean()  # forgets to divide by the std\n"
CHECK_CELL = 'with checking("standardise") as check:'
VERDICT = "CheckFailed: standardise: std of standardise([2, 4, 6]): expected 1, got 1.63"
#: What a traceback shows and a check's verdict must not: IPython's frames and arrows.
TRACEBACK_SIGNS = ("Traceback", "File ", "---->", "checks.py", "in _fail")
#: nbgrader's user interface (its JupyterLab extension's menu, panels and toolbar button): none of
#: it may show, and none of its server's pages answer.
NBGRADER_UI = ("Nbgrader", "Assignment List", "Course List", "Formgrader", "Create Assignment",
               "Create assignment", "Assignments", "Courses", "Validate")
NBGRADER_PAGES = ("formgrader", "assignments", "courses")
CHROMIUM_ARGS = [
    "--no-sandbox",  # Chromium refuses to start its sandbox as root
    "--disable-gpu",
    "--disable-background-networking",  # no connections out of the closed network
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: JupyterLab settings for the test's own settings folder: keep the committed notebooks as they
#: are (no autosave), render every cell (no windowing: cells off screen exist in the page), and
#: no news or update checks (no network, no pop-ups over the screenshots).
LAB_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}
SERVER_START_S = 120  # the first `make lab` after a fresh install also builds caches
RUN_ALL_S = 120  # per notebook; the lesson budget


def _require_chromium() -> None:
    required = os.environ.get("DLCOURSE_REQUIRE_BROWSER") == "1"
    problem = None
    if not CHROMIUM.exists():
        problem = (f"Chromium is not installed at {CHROMIUM}: install Debian's `chromium` package "
                   "(apt-get install chromium) to run the real-browser test")
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Python Playwright is missing: run `make setup` (it is in the test extras)"
    if problem and required:
        pytest.fail(f"DLCOURSE_REQUIRE_BROWSER=1 but {problem}")
    if problem:
        pytest.skip(problem)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digest(paths: list[Path]) -> dict[str, str]:
    return {str(p.relative_to(ROOT)): hashlib.sha256(p.read_bytes()).hexdigest() for p in paths}


def _pids_using(marker: str) -> list[int]:
    """Return the ids of processes whose command line mentions ``marker`` (a folder of this test)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                if marker in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


class Lab:
    """A JupyterLab server started through ``make lab``; ``url(path)`` gives a logged-in address."""

    def __init__(self, tmp: Path) -> None:
        self.port, self.token = _free_port(), secrets.token_hex(16)
        self.runtime = tmp / "runtime"
        config = tmp / "config"
        for plugin, values in LAB_SETTINGS.items():
            path = config / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(config), "JUPYTER_RUNTIME_DIR": str(self.runtime),
               "JUPYTERLAB_WORKSPACES_DIR": str(tmp / "workspaces"), "IPYTHONDIR": str(tmp / "ipython"),
               "DLCOURSE_PROGRESS": str(tmp / "progress.jsonl")}
        self.log_path = tmp / "lab.log"
        self._log = open(self.log_path, "wb")
        lab_args = (f"--no-browser --port={self.port} --ServerApp.port_retries=0 "
                    f"--IdentityProvider.token={self.token}")
        self.process = subprocess.Popen(["make", "--no-print-directory", "lab", f"LAB_ARGS={lab_args}"],
                                        cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True)
        self.leftovers: list[int] = []

    def url(self, path: str, workspace: str | None = None) -> str:
        prefix = f"/lab/workspaces/{workspace}" if workspace else "/lab"
        return f"http://127.0.0.1:{self.port}{prefix}/{path}?token={self.token}"

    def api(self, path: str, method: str = "GET") -> object:
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/api/{path}", method=method,
                                         headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def wait_until_ready(self) -> None:
        deadline, error = time.monotonic() + SERVER_START_S, None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"`make lab` exited with {self.process.returncode}:\n{self.log()}")
            try:
                self.api("status")
                return
            except OSError as err:
                error = err
                time.sleep(0.5)
        pytest.fail(f"JupyterLab did not answer on port {self.port} within {SERVER_START_S} s "
                    f"({error}):\n{self.log()}")

    def status_of(self, path: str) -> int:
        """The HTTP status of a page of the server (logged in), e.g. 404 for one it does not serve."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/{path}",
                                         headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as err:
            return err.code

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """Shut the server down (kernels first), then make sure no process of it is left."""
        if self.process.poll() is None:
            try:
                self.api("shutdown", method="POST")
                self.process.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        # Kernels run in sessions of their own; their connection files lie in our runtime folder.
        self.leftovers = _pids_using(str(self.runtime))
        for pid in self.leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self._log.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    _require_chromium()
    server = Lab(tmp_path)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()
    assert not server.leftovers, f"processes outlived the JupyterLab server: {server.leftovers}"


@pytest.fixture
def browser_context(tmp_path: Path, lab: Lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1400, "height": 1000})
        try:
            yield context
        finally:
            context.close()


#: Uncaught JavaScript errors of the pages (a widget that fails to render shows up here).
PAGE_ERRORS: list[str] = []


def _open_notebook(context, lab: Lab, notebook: str, workspace: str):
    """Open ``notebook`` in a fresh workspace and return the page and the notebook's panel."""
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("pageerror", lambda error: PAGE_ERRORS.append(f"{notebook}: {error}"))
    page.goto(lab.url(f"tree/{notebook}", workspace=workspace))
    panel = page.locator(".jp-NotebookPanel").first
    panel.locator(".jp-Notebook .jp-Cell").first.wait_for()
    # The kernel is up once the status bar reports it idle.
    page.locator(".jp-StatusBar-Widget", has_text=re.compile(r"\| Idle")).first.wait_for(timeout=60_000)
    panel.locator(".jp-Cell").first.click()  # make the notebook the current document
    page.keyboard.press("Control+b")  # fold the file browser away: more room for the notebook
    return page, panel


def _run_all(page, panel, notebook: str) -> list[str]:
    """Run every cell through the menu; return the code cells' prompts once all have run."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.locator(".lm-Menu-item:not(.lm-mod-disabled)", has_text="Run All Cells").first.click()
    prompts = panel.locator(".jp-CodeCell .jp-InputArea-prompt")
    deadline = time.monotonic() + RUN_ALL_S
    while True:
        texts = [t.strip() for t in prompts.all_inner_texts()]
        if texts and all(re.fullmatch(r"\[\d+\]:", t) for t in texts):
            return texts
        if time.monotonic() > deadline:
            page.screenshot(path=SCREENSHOTS / f"{Path(notebook).stem}-timeout.png")
            pytest.fail(f"{notebook}: not every cell ran within {RUN_ALL_S} s; prompts: {texts}")
        time.sleep(0.5)


def _expected_prompts(notebook: str) -> list[str]:
    """The prompts Run All leaves on the code cells JupyterLab shows: ``[k]:`` for the k-th code cell.

    A cell whose input is hidden (a claim cell, ``jupyter.source_hidden``) runs but shows no prompt.
    """
    cells = json.loads((ROOT / notebook).read_text(encoding="utf-8"))["cells"]
    cells = [c for c in cells if c["cell_type"] == "code"]
    return [f"[{k}]:" for k, cell in enumerate(cells, 1)
            if not cell.get("metadata", {}).get("jupyter", {}).get("source_hidden")]


#: How JupyterLab renders an error output, and a stream written to stderr: its bundle holds the error
#: (``application/vnd.jupyter.error``) and its traceback as text under this type, which is the one
#: it renders; no other mark in the page tells an error from stderr.
STDERR_OUTPUT = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'


def _errors_shown(panel) -> list[str]:
    """The text of every error (and of anything written to stderr: a warning) the notebook shows."""
    return [text[:500] for text in panel.locator(STDERR_OUTPUT).all_inner_texts()]


def _nbgrader_ui_shown(page, panel) -> list[str]:
    """What of nbgrader's interface the page shows: menu-bar entries, side-panel tabs (by their
    title) and notebook toolbar items whose name is one of :data:`NBGRADER_UI`."""
    names = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
    for tab in page.locator(".jp-SideBar .lm-TabBar-tab").all():
        names += [tab.get_attribute("title") or "", tab.inner_text()]
    names += panel.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-item").all_inner_texts()
    names += [item.get_attribute("title") or ""
              for item in panel.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-item [title]").all()]
    return sorted({name.strip() for name in names} & set(NBGRADER_UI))


def _code_cell(panel, first_line: str):
    """The code cell whose source starts with ``first_line``."""
    cells = panel.locator(".jp-CodeCell").filter(
        has=panel.page.locator(".jp-InputArea-editor", has_text=first_line))
    assert cells.count() == 1, f"expected one code cell starting {first_line!r}, found {cells.count()}"
    return cells.first


def _run_prompt(cell) -> str:
    return cell.locator(".jp-InputArea-prompt").inner_text().strip()


def test_a_learners_jupyterlab_runs_the_lessons_and_shows_a_checks_verdict(lab: Lab, browser_context):
    from playwright.sync_api import Error as PlaywrightError

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    PAGE_ERRORS.clear()
    widget_lesson = ROOT / WIDGET_LESSON
    assert widget_lesson.exists(), f"the widget lesson {WIDGET_LESSON} is missing"
    opened = [ROOT / SETUP_NOTEBOOK, widget_lesson, ROOT / EXERCISE]
    committed = _digest(opened)

    # Step 2: the setup notebook, Run All, no errors.
    page, panel = _open_notebook(browser_context, lab, SETUP_NOTEBOOK, workspace="setup")
    prompts = _run_all(page, panel, SETUP_NOTEBOOK)
    assert prompts == _expected_prompts(SETUP_NOTEBOOK), f"cells ran out of order or twice: {prompts}"
    assert _errors_shown(panel) == [], f"{SETUP_NOTEBOOK} shows errors or warnings after Run All"
    text = panel.inner_text()
    assert "dlcourse doctor" in text and "\nready" in text, "the environment report did not say ready"
    figure = panel.locator(".jp-OutputArea-output img").first
    figure.scroll_into_view_if_needed()
    assert figure.evaluate("img => img.naturalWidth") > 100, "the course-style figure did not render"
    page.screenshot(path=SCREENSHOTS / "00_setup-run-all.png")
    # A learner's JupyterLab: nothing of nbgrader's course management, in the page or the server.
    shown, pages = _nbgrader_ui_shown(page, panel), {path: lab.status_of(path) for path in NBGRADER_PAGES}
    assert shown == [], f"JupyterLab shows nbgrader's interface to a learner: {shown}; its pages: {pages}"
    assert set(pages.values()) == {404}, f"the server serves nbgrader's pages: {pages}"
    page.close()

    # Step 3: the widget lesson, Run All, then drag the slider.
    page, panel = _open_notebook(browser_context, lab, WIDGET_LESSON, workspace="widget")
    _run_all(page, panel, WIDGET_LESSON)
    assert _errors_shown(panel) == [], f"{WIDGET_LESSON} shows errors or warnings after Run All"
    # The explorer: a box holding the sliders, a status line (HTML) and the picture (Image).
    explorer = panel.locator(".widget-hbox").filter(has=page.locator(".widget-slider")).filter(
        has=page.locator("img.widget-image")).first
    slider = explorer.locator(".widget-slider").filter(
        has=page.locator(f'label.widget-label:text-is("{SLIDER_LABEL}")'))
    explorer.scroll_into_view_if_needed()
    picture = explorer.locator("img.widget-image").first
    status = explorer.locator(".widget-html-content").last
    readout = slider.locator(".widget-readout")
    before = {"picture": picture.get_attribute("src"), "status": status.inner_text(),
              "readout": readout.inner_text()}
    explorer.screenshot(path=SCREENSHOTS / "02_widget-before.png")

    handle = slider.locator(".noUi-handle")
    box = handle.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 40, y, steps=8)
    page.mouse.up()

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        after = {"picture": picture.get_attribute("src"), "status": status.inner_text(),
                 "readout": readout.inner_text()}
        if after["picture"] != before["picture"] and after["status"] != before["status"]:
            break
        time.sleep(0.25)
    assert after["readout"] != before["readout"], "dragging did not move the slider"
    assert after["status"] != before["status"], f"the status line did not change: {after['status']!r}"
    assert after["picture"] != before["picture"], "the picture was not redrawn"
    assert picture.evaluate("img => img.complete && img.naturalWidth") > 100
    assert _errors_shown(panel) == [], "moving the slider raised an error"
    explorer.screenshot(path=SCREENSHOTS / "02_widget-after.png")
    page.screenshot(path=SCREENSHOTS / "02_widget-lesson.png")
    print(f"slider {SLIDER_LABEL}: {before['readout']} -> {after['readout']}; "
          f"status: {before['status']!r} -> {after['status']!r}")
    page.close()

    # Step 4: the warm-up exercise, untouched and then with a wrong answer.
    page, panel = _open_notebook(browser_context, lab, EXERCISE, workspace="exercise")
    _run_all(page, panel, EXERCISE)
    assert _errors_shown(panel) == [], f"{EXERCISE}, untouched, shows errors or warnings after Run All"
    check_cell = _code_cell(panel, CHECK_CELL)
    assert "not attempted yet" in check_cell.locator(".jp-OutputArea").inner_text()
    stub = _code_cell(panel, STUB)
    stub.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.insert_text(WRONG_ANSWER)  # as typed, without the editor's auto-indent
    ran_before = _run_prompt(check_cell)
    page.keyboard.press("Shift+Enter")  # run the answer; the check cell below becomes active
    page.keyboard.press("Shift+Enter")  # run the check cell
    error = check_cell.locator(STDERR_OUTPUT)
    try:
        error.wait_for(timeout=60_000)
    except PlaywrightError:
        page.screenshot(path=SCREENSHOTS / f"{Path(EXERCISE).stem}-no-verdict.png")
        raise
    deadline = time.monotonic() + 30
    while not (re.fullmatch(r"\[\d+\]:", _run_prompt(check_cell)) and _run_prompt(check_cell) != ran_before):
        assert time.monotonic() < deadline, f"the check cell did not finish: {_run_prompt(check_cell)}"
        time.sleep(0.25)
    shown = error.inner_text()
    check_cell.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "00_warmup-wrong-answer.png")
    assert VERDICT in shown, f"the check's verdict is not shown: {shown!r}"
    assert "run %tb" in shown, f"the learner is not told how to see the traceback: {shown!r}"
    assert not [sign for sign in TRACEBACK_SIGNS if sign in shown], f"a traceback is shown: {shown!r}"
    assert len(shown.strip().splitlines()) <= 3, f"more than the verdict is shown: {shown!r}"
    print(f"a wrong answer's check shows: {shown.strip()!r}")
    # The learner's progress, recorded by this kernel, shown in a new cell below.
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.insert_text("from dlcourse.learner_record import progress_table\n\nprint(progress_table())")
    page.keyboard.press("Shift+Enter")
    table = panel.locator(".jp-OutputArea-output", has_text="Your progress:").first
    table.wait_for(timeout=60_000)
    progress_shown = table.inner_text()
    table.scroll_into_view_if_needed()
    page.screenshot(path=SCREENSHOTS / "00_warmup-progress.png")
    assert "Warm-up exercise: how exercises work: 0 of 2 questions passed" in progress_shown
    assert re.search(r"test-standardise\s+2 pt\s+attempted", progress_shown), progress_shown
    assert re.search(r"test-one-hot\s+2 pt\s+not started", progress_shown), progress_shown
    page.close()

    assert _digest(opened) == committed, "the browser session changed a notebook it opened"
    assert not PAGE_ERRORS, "JavaScript errors in JupyterLab:\n" + "\n".join(PAGE_ERRORS)
