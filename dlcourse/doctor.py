"""The environment report: is this machine ready for the course?

``python -m dlcourse doctor`` (or :func:`print_report` in a notebook) prints the versions of
the packages the course needs, the device the lessons will use (with the GPU's name and
memory when there is one), whether this is Colab, which data sets are available offline,
and a verdict line that says what to do next.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from importlib import metadata

#: Packages the lessons import, by distribution name.
REQUIRED_PACKAGES = ("numpy", "torch", "matplotlib", "scikit-learn", "scikit-image", "tqdm", "ipywidgets")
#: Packages that are useful but not needed to run a lesson.
OPTIONAL_PACKAGES = ("jupyterlab", "nbval", "nbgrader")


@dataclass
class Report:
    """Everything :func:`collect` found. ``problems`` lists what blocks the course."""

    python: str
    platform: str
    packages: dict[str, str | None]
    device: str
    device_name: str
    gpu_memory_gib: float | None
    colab: bool
    datasets: dict[str, str | None]
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def collect() -> Report:
    """Inspect this machine and return a :class:`Report` (never raises for a missing package)."""
    from dlcourse.data.registry import available
    from dlcourse.env.colab import in_colab

    packages = {name: _version(name) for name in REQUIRED_PACKAGES + OPTIONAL_PACKAGES}
    problems = [
        f"{name} is not installed: run `make lab` (or `pip install -e .`) in the course folder."
        for name in REQUIRED_PACKAGES if packages[name] is None
    ]
    notes = []

    device, device_name, memory = "unknown", "unknown", None
    if packages["torch"] is not None:
        from dlcourse.env.device import describe_device, get_device

        try:
            info = describe_device(get_device())
            device, device_name, memory = info.device, info.name, info.memory_gib
        except ValueError as err:  # e.g. DLCOURSE_DEVICE names a device this machine lacks
            problems.append(str(err))
        if device == "cpu":
            notes.append("No GPU found: every lesson runs on the CPU in its quick run profile "
                         "(DLCOURSE_PROFILE=full asks for the full one, slowly).")

    datasets = available()
    missing = [name for name, where in datasets.items() if where is None]
    if missing:
        notes.append(f"Not available offline yet: {', '.join(missing)} "
                     "(a lesson fetches what it needs on first use, with the network; "
                     "`python -m dlcourse fetch --list` says more).")
    return Report(
        python=platform.python_version(),
        platform=f"{platform.system()} {platform.machine()}",
        packages=packages,
        device=device,
        device_name=device_name,
        gpu_memory_gib=memory,
        colab=in_colab(),
        datasets=datasets,
        problems=problems,
        notes=notes,
    )


def format_report(report: Report) -> str:
    """Return the report as aligned text, ending with the verdict line."""
    lines = ["dlcourse doctor", "", f"python        {report.python} ({report.platform})"]
    for name, version in report.packages.items():
        optional = " (optional)" if name in OPTIONAL_PACKAGES else ""
        lines.append(f"{name:<13} {version or 'MISSING'}{optional}")
    device = f"{report.device} ({report.device_name}"
    if report.gpu_memory_gib is not None:
        device += f", {report.gpu_memory_gib:.1f} GiB"
    lines += ["", f"device        {device})", f"colab         {'yes' if report.colab else 'no'}", ""]
    for name, where in report.datasets.items():
        lines.append(f"data          {name:<16} {where or 'not available offline'}")
    lines.append("")
    lines += [f"note: {note}" for note in report.notes]
    lines += [f"problem: {problem}" for problem in report.problems]
    verdict = ("VERDICT: ready -- open notebooks/00_setup.ipynb and start." if report.ok
               else f"VERDICT: not ready -- {len(report.problems)} problem(s) above; fix them and run again.")
    lines.append(verdict)
    return "\n".join(lines)


def print_report() -> Report:
    """Print the environment report and return it."""
    report = collect()
    print(format_report(report))
    return report
