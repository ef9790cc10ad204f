"""The dependency lists agree: pyproject.toml (ranges), environment.yml (conda), constraints.txt (pins)."""

import re
from pathlib import Path

import tomllib
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
#: conda-forge names that differ from PyPI names.
CONDA_TO_PYPI = {"pytorch": "torch"}


def pyproject():
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)


def conda_requirements():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    reqs = {}
    for dep in env["dependencies"]:
        if isinstance(dep, str) and not dep.startswith(("python", "pip")):
            name, spec = re.match(r"([A-Za-z0-9_.-]+)(.*)", dep).groups()
            reqs[CONDA_TO_PYPI.get(name, name)] = spec.replace(" ", "")
    return reqs, env


def test_environment_yml_matches_pyproject():
    project = pyproject()["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["lab"]
    expected = {(r := Requirement(s)).name: str(r.specifier) for s in wanted}
    got, env = conda_requirements()
    assert got == expected, "environment.yml and pyproject.toml disagree: update both together"
    assert {"pip": ["-e ."]} in env["dependencies"], "environment.yml must install the course itself"


def test_every_dependency_is_pinned_and_the_pin_satisfies_its_range():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    project = pyproject()["project"]
    extras = project["optional-dependencies"].values()
    wanted = project["dependencies"] + [dep for extra in extras for dep in extra]
    for spec in wanted:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{req.name} is not pinned in constraints.txt: run `make lock`"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside {spec}"


def test_torch_is_pinned_to_the_cpu_build_on_disk_and_torchvision_is_absent():
    text = (ROOT / "constraints.txt").read_text()
    assert "\ntorch==2.13.0\n" in text
    assert "torchvision" not in text


def test_colab_compatible_lower_bounds():
    """Colab (late 2026) ships torch 2.x and numpy 1.26 or 2.x: the ranges must admit them."""
    deps = {Requirement(s).name: Requirement(s).specifier for s in pyproject()["project"]["dependencies"]}
    assert deps["torch"].contains("2.5.1")
    assert deps["numpy"].contains("1.26.4") and deps["numpy"].contains("2.0.2")
