"""The Gradescope autograder (tools/grading/gradescope.py), built, set up and run on a stand-in tree.

Gradescope itself cannot be had here, so this test builds the closest thing it can check honestly:

- ``make gradescope ASSIGNMENT=00`` builds the zip; it is unpacked, keeping its files' modes, into
  a stand-in ``/autograder`` (a temporary folder, named by ``DLCOURSE_AUTOGRADER_ROOT``, which
  ``setup.sh`` and ``run_autograder`` honour);
- the zip's own ``setup.sh`` runs, every step of it, with two of its settings pointed at this
  machine instead of a fresh image: ``DLCOURSE_HOME`` (where the environment goes) holds a
  virtual environment made beforehand from the system's Python (runnable by an unprivileged
  user, as Gradescope's is: this machine's own Python lives under /root) that sees this checkout's
  installed packages through a ``.pth`` file, and ``DLCOURSE_PIP_OPTIONS`` is ``--no-index``; so
  its pip installs the course from the zip (the dependencies are already satisfied: no download
  of torch again), and its fetch step verifies a copy of the data cache instead of downloading;
- ``run_autograder`` grades four submissions: three from tests/grading/hostile.py's builder
  (correct, wrong, untouched) and a hostile one that tries to read the autograder's source, to
  forge results.json, and leaves a process running; the kernels run as on a Gradescope
  container where bubblewrap is unusable (``DLCOURSE_GRADESCOPE_SANDBOX=user``: an unprivileged
  user of their own);
- each ``results.json`` is checked against Gradescope's specification (the field names and types,
  written out below from https://gradescope-autograders.readthedocs.io/en/latest/specs/), then its
  scores, visibilities, feedback and late penalty.

The grading runs as root (Gradescope runs it so, and the kernels' own user needs it).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from dlcourse.data.paths import cache_dir
from tests.grading import hostile
from tools.grading.sandbox import KERNEL_UID, processes_of

ROOT = Path(__file__).resolve().parents[2]
ZIP = ROOT / "build" / "gradescope" / "00_warmup.zip"

# ---- Gradescope's results.json, from its specification ------------------------------------------

VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}
FORMATS = {"text", "html", "simple_format", "md", "ansi"}
NUMBER = (int, float)
#: field -> (types, allowed values or None), for the top level and for each test.
TOP_LEVEL = {"score": (NUMBER, None), "execution_time": (NUMBER, None), "output": (str, None),
             "output_format": (str, FORMATS), "test_output_format": (str, FORMATS),
             "test_name_format": (str, FORMATS), "visibility": (str, VISIBILITY),
             "stdout_visibility": (str, VISIBILITY), "extra_data": (dict, None),
             "tests": (list, None), "leaderboard": (list, None)}
TEST = {"score": (NUMBER, None), "max_score": (NUMBER, None), "status": (str, {"passed", "failed"}),
        "name": (str, None), "name_format": (str, FORMATS), "number": (str, None),
        "output": (str, None), "output_format": (str, FORMATS), "tags": (list, None),
        "visibility": (str, VISIBILITY), "extra_data": (dict, None)}


def _fields(where: str, value: dict, spec: dict) -> list[str]:
    problems = [f"{where}: unknown field {k!r}" for k in value if k not in spec]
    for name, (types, allowed) in spec.items():
        if name in value:
            field = value[name]
            if isinstance(field, bool) or not isinstance(field, types):
                problems.append(f"{where}.{name}: {type(field).__name__}, not {types}")
            elif allowed is not None and field not in allowed:
                problems.append(f"{where}.{name}: {field!r} is not one of {sorted(allowed)}")
    return problems


def specification_problems(results: object) -> list[str]:
    """What in ``results`` breaks Gradescope's specification of results.json (none: [])."""
    if not isinstance(results, dict):
        return ["results.json is not a JSON object"]
    problems = _fields("results", results, TOP_LEVEL)
    tests = results.get("tests", [])
    if "score" not in results and (not tests or any("score" not in t for t in tests)):
        problems.append("no top-level score, and not every test has one")
    for i, test in enumerate(tests if isinstance(tests, list) else []):
        if not isinstance(test, dict):
            problems.append(f"tests[{i}] is not an object")
            continue
        problems += _fields(f"tests[{i}]", test, TEST)
        if not all(isinstance(t, str) for t in test.get("tags", [])):
            problems.append(f"tests[{i}].tags: not a list of strings")
    return problems


def test_the_schema_check_catches_what_the_specification_forbids():
    good = {"score": 1.0, "tests": [{"name": "a", "score": 1, "max_score": 2,
                                     "visibility": "after_published", "tags": ["x"]}]}
    assert specification_problems(good) == []
    assert specification_problems({"tests": [{"name": "a"}]})  # no score anywhere
    assert specification_problems({"score": "1"})
    assert specification_problems({"score": 1, "visibility": "later"})
    assert specification_problems({"score": 1, "tests": [{"scor": 1}]})
    assert specification_problems({"score": 1, "tests": [{"number": 1.1}]})
    assert specification_problems({"score": True})


# ---- The stand-in tree ----------------------------------------------------------------------------

def unpack(archive: Path, into: Path) -> None:
    """Unpack like ``unzip``: with the files' modes (run_autograder must stay executable)."""
    with zipfile.ZipFile(archive) as z:
        for info in z.infolist():
            path = into / info.filename
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(z.read(info))
            path.chmod((info.external_attr >> 16) & 0o777 or 0o644)


def unprivileged_python() -> str | None:
    """A Python of this version that a user with no account can run (this machine's own may not)."""
    for candidate in (f"/usr/bin/python3.{sys.version_info.minor}", "/usr/bin/python3",
                      shutil.which(f"python3.{sys.version_info.minor}")):
        if candidate and os.geteuid() == 0 and subprocess.run(
                ["setpriv", f"--reuid={KERNEL_UID}", f"--regid={KERNEL_UID}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all", "--", candidate, "-c",
                 f"import sys; sys.exit(sys.version_info[:2] != {sys.version_info[:2]!r})"],
                capture_output=True).returncode == 0:
            return candidate
    return None


PYTHON = unprivileged_python() if shutil.which("setpriv") else None
pytestmark = pytest.mark.skipif(
    PYTHON is None and not os.environ.get("DLCOURSE_REQUIRE_SANDBOX"),
    reason="needs root and a Python that an unprivileged user can run (Gradescope runs the "
           "autograder as root; its kernels run as users of their own)")

#: The submissions: kind -> (autograded points, days late).
KINDS = {"correct": (4, 1), "wrong": (2, 0), "untouched": (0, 0), "hostile": (0, 0)}

HOSTILE = '''
import json, os, re, subprocess, sys

AUTOGRADER = {root!r}
REPORT = {{}}
SOLUTION = None
for path in [AUTOGRADER + "/source/course/solutions/00_warmup.ipynb",
             AUTOGRADER + "/source/gradescope.json", AUTOGRADER + "/submission_metadata.json"]:
    try:
        with open(path) as f:
            text = f.read()
        REPORT[path] = "read"
        if path.endswith(".ipynb"):
            SOLUTION = text
    except OSError as error:
        REPORT[path] = type(error).__name__
for folder in [AUTOGRADER, AUTOGRADER + "/source", AUTOGRADER + "/submission"]:
    try:
        REPORT[folder] = os.listdir(folder)
    except OSError as error:
        REPORT[folder] = type(error).__name__
try:  # a perfect score, written where Gradescope looks
    with open(AUTOGRADER + "/results/results.json", "w") as f:
        json.dump({{"score": 100.0, "output": "forged"}}, f)
    REPORT["results.json"] = "forged"
except OSError as error:
    REPORT["results.json"] = type(error).__name__
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {marker!r}],
                 start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
print(REPORT)

if SOLUTION:  # the answers, from the solution's own cells
    for cell in json.loads(SOLUTION)["cells"]:
        if cell["cell_type"] == "code" and "### BEGIN SOLUTION" in "".join(cell["source"]):
            exec("".join(cell["source"]))
else:
    def standardise(x):
        return x - 1.0

    def one_hot(labels, n_classes):
        return np.zeros((len(labels), n_classes))
'''


def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def hostile_submission(root: Path, marker: str):
    nb = nbformat.read(hostile.EXERCISE, as_version=4)
    _cell(nb, "standardise").source = HOSTILE.format(root=str(root), marker=marker)
    _cell(nb, "one-hot").source = "# answered above\n"
    return nb


def test_the_hostile_submission_would_find_the_answers_if_it_could_read_them():
    """Its attack is real: where the source is readable, it defines the right functions."""
    namespace = {"np": __import__("numpy")}
    code = HOSTILE.format(root=str(ROOT / "no-such-folder"), marker="m").replace(
        "subprocess.Popen(", "(lambda *a, **k: None)(")
    solution = hostile.SOLUTION.read_text()
    code = code.replace("if SOLUTION:", f"SOLUTION = {solution!r}\nif SOLUTION:")
    exec(compile(code, "hostile", "exec"), namespace)
    import numpy as np

    assert np.allclose(namespace["standardise"](np.array([2.0, 4.0, 6.0])),
                       [-1.2247448714, 0.0, 1.2247448714])


@pytest.fixture(scope="module")
def autograder():
    """Build the zip, set up a stand-in tree with its setup.sh; yield a function that grades."""
    base = Path(tempfile.mkdtemp(prefix="dlcourse-gradescope-test-", dir="/tmp"))
    base.chmod(0o755)  # the kernels' own user must reach the environment in it
    try:
        started = time.monotonic()
        built = subprocess.run(["make", "--no-print-directory", "gradescope", "ASSIGNMENT=00"],
                               cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert built.returncode == 0, built.stdout + built.stderr
        root, home = base / "autograder", base / "opt"
        unpack(ZIP, root / "source")
        subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(home / "venv")], check=True)
        site = Path(subprocess.run([str(home / "venv" / "bin" / "python"), "-c",
                                    "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                   capture_output=True, text=True, check=True).stdout.strip())
        (site / "course-environment.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        if cache_dir().is_dir():
            shutil.copytree(cache_dir(), home / "cache")
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("DLCOURSE_")},
               "DLCOURSE_AUTOGRADER_ROOT": str(root), "DLCOURSE_HOME": str(home),
               "DLCOURSE_OFFLINE": "1", "DLCOURSE_PIP_OPTIONS": "--no-index --no-build-isolation"}
        setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, cwd=root,
                               capture_output=True, text=True, timeout=600)
        assert setup.returncode == 0, setup.stdout + setup.stderr
        setup_seconds = time.monotonic() - started

        def grade(kind: str, nb, metadata: dict) -> dict:
            for folder in ("submission", "results"):
                shutil.rmtree(root / folder, ignore_errors=True)
                (root / folder).mkdir()
            nbformat.write(nb, root / "submission" / f"{kind}.ipynb")
            (root / "submission_metadata.json").write_text(json.dumps(metadata))
            run = subprocess.run([str(root / "source" / "run_autograder")], cwd=root,
                                 env={**env, "DLCOURSE_GRADESCOPE_SANDBOX": "user"},
                                 capture_output=True, text=True, timeout=600)
            return {"run": run, "results": json.loads((root / "results" / "results.json")
                                                       .read_text())}

        yield {"root": root, "home": home, "grade": grade, "setup": setup,
               "setup_seconds": setup_seconds}
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)


def metadata(days_late: int) -> dict:
    """Gradescope's submission metadata (its documented fields), ``days_late`` after the due date."""
    due = "2026-03-01T23:59:00.000000-08:00"
    created = "2026-03-02T05:00:00.000000-08:00" if days_late else "2026-03-01T20:00:00.000000-08:00"
    return {"id": 123456, "created_at": created,
            "assignment": {"due_date": due, "group_size": None, "group_submission": False,
                           "id": 25828, "course_id": 1234, "late_due_date": None,
                           "release_date": "2026-02-20T00:00:00.000000-08:00",
                           "title": "00 warm-up", "total_points": "5.0"},
            "submission_method": "upload",
            "users": [{"email": "student@example.com", "id": 1234, "name": "Student User"}],
            "previous_submissions": []}


def submissions(folder: Path, root: Path, marker: str) -> dict:
    written = hostile.build(folder)
    return {"correct": nbformat.read(written["correct"], as_version=4),
            "wrong": nbformat.read(written["partial"], as_version=4),
            "untouched": nbformat.read(written["untouched"], as_version=4),
            "hostile": hostile_submission(root, marker)}


def test_the_zip_holds_the_scripts_and_one_solution_only(autograder):
    with zipfile.ZipFile(ZIP) as z:
        names = {i.filename: (i.external_attr >> 16) & 0o777 for i in z.infolist()}
    assert names["setup.sh"] & 0o111 and names["run_autograder"] & 0o111
    assert [n for n in names if n.startswith("course/solutions/")] == [
        "course/solutions/00_warmup.ipynb"]
    assert not [n for n in names if "__pycache__" in n or n.startswith("course/.")]


def test_setup_then_four_submissions_graded_into_valid_results(autograder, tmp_path):
    root, started = autograder["root"], time.monotonic()
    assert "autograder for 00_warmup: 3 graded cells" in autograder["setup"].stdout
    installed = list((autograder["home"] / "venv" / "lib").glob("python3*/site-packages/dlcourse"))
    assert installed, "setup.sh did not install the course into its environment"
    assert stat.S_IMODE((root / "source").stat().st_mode) == 0o700
    marker = f"dlcourse-gradescope-{secrets.token_hex(4)}"
    graded = {kind: autograder["grade"](kind, nb, metadata(KINDS[kind][1]))
              for kind, nb in submissions(tmp_path / "built", root, marker).items()}
    grading_seconds = time.monotonic() - started
    failures = []
    for kind, outcome in graded.items():
        try:
            check_results(kind, outcome)
        except AssertionError as error:
            failures.append(f"{kind}: {error}")
    assert not failures, "\n".join(failures)
    for name in ("source", "submission", "results"):
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o700, name
    # the data the grader measures trained models on is closed to the kernels' users too
    held_out = sorted((autograder["home"] / "data").glob("fashion-mnist-subset/t10k-*"))
    assert len(held_out) == 2 and all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in held_out)
    for kind, outcome in graded.items():
        user = re.search(r"kernels ran as user (\d+)", outcome["run"].stdout)
        assert user and int(user.group(1)) != KERNEL_UID, kind  # not make grade's users
        assert not processes_of(int(user.group(1))), f"{kind}: a kernel's process outlived it"
    assert not [p for p in Path("/proc").iterdir() if p.name.isdigit() and _has(p, marker)]
    print(f"setup.sh and the build: {autograder['setup_seconds']:.0f} s; four gradings: "
          f"{grading_seconds:.0f} s")


def _has(process: Path, marker: str) -> bool:
    try:
        return marker in (process / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return False


def check_results(kind: str, outcome: dict) -> None:
    run, results = outcome["run"], outcome["results"]
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert specification_problems(results) == []
    points, days_late = KINDS[kind]
    scored = {t["name"]: t for t in results["tests"] if "max_score" in t}
    assert list(scored) == ["test-standardise", "test-one-hot"]  # one per graded test cell
    assert sum(t["score"] for t in scored.values()) == points
    assert [t["max_score"] for t in scored.values()] == [2, 2]
    penalty = 10 * days_late
    assert results["score"] == pytest.approx(points * (1 - penalty / 100))
    assert results["extra_data"]["late_penalty_percent"] == penalty
    assert ("Late penalty: 10 %" in results["output"]) == bool(days_late)
    # Both test cells have hidden tests: their points wait for publication; the visible checks not.
    assert {t["visibility"] for t in scored.values()} == {"after_published"}
    visible = [t for t in results["tests"] if t.get("visibility") == "visible"]
    assert [t["name"] for t in visible] == ["test-standardise: visible checks",
                                           "test-one-hot: visible checks"]
    for shown in [results["output"], *(json.dumps(t) for t in visible)]:
        assert "hidden check" not in shown and "(hidden)" not in shown
    assert "explain-constant-input" in results["output"]  # left to Gradescope's manual grading
    assert "graded by hand on Gradescope" in results["output"]
    one_hot, one_hot_visible = scored["test-one-hot"], visible[1]
    if kind == "correct":
        assert one_hot["output"] == "all tests passed" and one_hot_visible["status"] == "passed"
    if kind == "wrong":  # the feedback make grade gives: visible now, hidden after publication
        assert "one_hot([2, 0], 3)" in one_hot_visible["output"]
        assert "wrong at index" in one_hot_visible["output"]
        assert one_hot_visible["status"] == "failed"
        assert "one_hot (hidden): hidden check 2 of 4 failed: a value is wrong" in one_hot["output"]
    if kind == "untouched":
        assert "not attempted" in one_hot["output"] and "left blank" in results["output"]
    if kind == "hostile":
        assert "forged" not in json.dumps(results)
        assert results["extra_data"]["sandbox"] == "unprivileged user"
    assert re.search(r"\d", str(results["execution_time"]))
