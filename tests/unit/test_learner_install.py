"""A learner's install has what the lessons import: `make lab` installs the core dependencies and the
``lab`` extra (pyproject.toml) and nothing of the instructor's or maintainer's extras (test, grade,
book), so every module that a lesson, an exercise, lesson 14's script or dlcourse itself imports must
come from the standard library, the course, or a distribution that those requirements pull in.

The course's own environment holds every extra, so running a lesson here could not show a module
that only an extra provides. Instead the imports are read with ``ast``: every code cell of the
notebooks and exercises (lines of ``!`` shell commands and ``%`` magics left out) and every module
of dlcourse and ``notebooks/scripts``. The learner's requirements are resolved through the installed
distributions' own metadata (each one's ``Requires-Dist``, markers evaluated for this machine and
the extras asked for), and each imported module is looked up in the distributions that provide it
(``importlib.metadata.packages_distributions``).

What this proves: no lesson or exercise fails for a module the learner's install lacks, on this
machine's platform. What it does not: that the lessons run (the notebook suite runs every one, and
tests/system/test_colab_like.py runs four in an environment without the extras), nor imports by a
computed name (dlcourse's own ``importlib.import_module`` calls load its own submodules).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import sys
from functools import cache
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
#: What a learner runs: the lessons, their exercises, the script lesson 14 launches, the package.
NOTEBOOKS = sorted([*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("exercises/*.ipynb")])
MODULES = sorted([*ROOT.glob("dlcourse/**/*.py"), *ROOT.glob("notebooks/scripts/*.py")])
#: The course itself: dlcourse, and the script folder that lesson 14 runs from.
COURSE_MODULES = {"dlcourse", "scripts"}
#: What the platform provides where the course imports it: Colab's own ``google.colab``, imported
#: only on Colab (dlcourse/env/colab.py: ``keep_on_drive``).
PLATFORM_MODULES = {"google"}


def learner_extras() -> tuple[str, ...]:
    """The extras that `make lab` installs: read from the Makefile's recipe of ``$(LEARNER_STAMP)``."""
    recipe = re.search(r"^\$\(LEARNER_STAMP\):.*\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert recipe, "the Makefile has no recipe for $(LEARNER_STAMP), the learner's install"
    installs = re.findall(r"\$\(INSTALL\) '\.\[([\w,]+)\]'", recipe.group(1))
    assert len(installs) == 1, f"expected one `$(INSTALL) '.[extras]'` in the learner's recipe: {installs}"
    return tuple(installs[0].split(","))


def _requirements(extras: tuple[str, ...]) -> list[Requirement]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    specs = project["dependencies"] + [s for extra in extras for s in project["optional-dependencies"][extra]]
    return [Requirement(spec) for spec in specs]


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    """True when ``requirement`` is needed on this machine with the parent's ``extras`` asked for."""
    if requirement.marker is None:
        return True
    return any(requirement.marker.evaluate({"extra": extra}) for extra in extras | {""})


def installed_closure(requirements: list[Requirement]) -> set[str]:
    """The (canonical) names of the distributions that ``requirements`` pull in, found through the
    installed distributions' metadata; a requirement that is not installed here is an error."""
    seen: dict[str, set[str]] = {}
    todo = [r for r in requirements if _applies(r, set())]
    while todo:
        requirement = todo.pop()
        name = canonicalize_name(requirement.name)
        wanted = set(requirement.extras)
        if name in seen and wanted <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | wanted
        try:
            dist = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{requirement} (from the learner's install) is not installed: run `make setup`")
        for spec in dist.requires or []:
            child = Requirement(spec)
            if _applies(child, seen[name]):
                todo.append(child)
    return set(seen)


def _code_of_cell(source: str) -> str:
    """A code cell as Python: ``%%`` cell magics are not Python, ``!``/``%`` lines are left out."""
    if source.lstrip().startswith("%%"):
        return ""
    return "\n".join("" if line.lstrip().startswith(("!", "%")) else line for line in source.splitlines())


def top_level_imports(code: str, filename: str) -> set[str]:
    """The top-level names of the modules that ``code`` imports absolutely, anywhere in it."""
    found = set()
    for node in ast.walk(ast.parse(code, filename=filename)):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found


def imports_of(path: Path) -> set[str]:
    if path.suffix == ".py":
        return top_level_imports(path.read_text(encoding="utf-8"), str(path))
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return set().union(*(top_level_imports(_code_of_cell("".join(cell["source"])), f"{path}, cell {k}")
                         for k, cell in enumerate(cells) if cell["cell_type"] == "code"))


@cache
def learner_distributions() -> frozenset[str]:
    return frozenset(installed_closure(_requirements(learner_extras())))


@cache
def providers() -> dict[str, frozenset[str]]:
    """Each importable top-level module's providing distributions (canonical names)."""
    return {module: frozenset(canonicalize_name(d) for d in dists)
            for module, dists in importlib.metadata.packages_distributions().items()}


def missing_from_learner_install(modules: set[str]) -> dict[str, list[str]]:
    """Each module that neither the standard library, the course nor the learner's install provides,
    with the distributions that provide it here (empty when none does)."""
    missing = {}
    for module in sorted(modules - set(sys.stdlib_module_names) - COURSE_MODULES - PLATFORM_MODULES):
        dists = providers().get(module, frozenset())
        if not learner_distributions() & dists:
            missing[module] = sorted(dists)
    return missing


@pytest.mark.parametrize("path", NOTEBOOKS + MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_what_a_learner_runs_imports_only_what_make_lab_installs(path):
    missing = missing_from_learner_install(imports_of(path))
    assert not missing, (
        f"{path.relative_to(ROOT)} imports modules that a learner's install (`make lab`: the core "
        f"dependencies and the extras {', '.join(learner_extras())} of pyproject.toml) does not provide: "
        + ", ".join(f"{module} (from {', '.join(dists) or 'no installed distribution'})"
                    for module, dists in missing.items()))


def test_the_instructors_tools_are_not_in_a_learners_install():
    """The other side: the grader's and the maintainer's tools come only with their extras, so the
    check above would catch a lesson that imported one of them."""
    assert missing_from_learner_install({"nbgrader", "copydetect", "sphinx", "playwright", "pytest"}) == {
        "nbgrader": ["nbgrader"], "copydetect": ["copydetect"], "sphinx": ["sphinx"],
        "playwright": ["playwright"], "pytest": ["pytest"]}
    assert missing_from_learner_install({"numpy", "torch", "ipywidgets", "IPython", "json"}) == {}
