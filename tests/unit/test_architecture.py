"""The import picture of docs/architecture.md, kept true: read every dlcourse module's imports with
``ast`` (also those inside functions) and check that there is no import cycle, that the learner's
package never imports the instructor tools, and that each part imports only the parts below it."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "dlcourse"

#: What each part may import from the others (docs/architecture.md draws the same picture).
#: ``top`` is checks, cli, doctor and __main__; a part may always import from itself.
ALLOWED_PARTS: dict[str, set[str]] = {
    "env": set(),
    "plots": set(),
    "numpy_nn": {"env"},
    "data": {"env"},
    "pytorch": {"env", "data", "plots"},
    "demos": {"env", "plots", "numpy_nn", "pytorch", "data"},
    "model_tasks": {"env", "plots", "numpy_nn", "pytorch", "data"},
    "text": set(),
    "top": {"env", "plots", "numpy_nn", "pytorch", "data", "demos", "model_tasks", "text"},
}


def module_name(path: Path) -> str:
    """``dlcourse/data/fetch.py`` -> ``dlcourse.data.fetch``; a package's ``__init__.py`` -> the package."""
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_names(path: Path) -> set[str]:
    """Every absolute module name that ``path`` imports, anywhere in the file.

    ``from a.b import c`` counts as ``a.b.c`` when that is a module of ours (a submodule import),
    else as ``a.b``; relative imports are resolved against the module's own package.
    """
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.add(submodule if submodule in MODULES else source)
    return found


def internal_graph() -> dict[str, set[str]]:
    """dlcourse module -> the dlcourse modules it imports (packages included, itself excluded)."""
    graph = {}
    for name, path in MODULES.items():
        graph[name] = {dep for dep in imported_names(path) if dep in MODULES and dep != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one import cycle as ``[a, b, ..., a]``, or None when the graph has none."""
    done: set[str] = set()
    for start in sorted(graph):
        if start in done:
            continue
        path: list[str] = []
        on_path: set[str] = set()
        stack = [(start, iter(sorted(graph[start])))]
        path.append(start)
        on_path.add(start)
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                stack.pop()
                path.pop()
                on_path.discard(node)
                done.add(node)
            elif child in on_path:
                return path[path.index(child):] + [child]
            elif child not in done:
                stack.append((child, iter(sorted(graph.get(child, ())))))
                path.append(child)
                on_path.add(child)
    return None


def part_of(module: str) -> str:
    """``dlcourse.numpy_nn.layers`` -> ``numpy_nn``; ``dlcourse.cli`` and ``dlcourse`` -> ``top``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED_PARTS) else "top"


def test_the_graph_is_read():
    graph = internal_graph()
    assert "dlcourse.numpy_nn.init" in graph["dlcourse.numpy_nn.layers"]
    assert "dlcourse.env.progress" in graph["dlcourse.data.fetch"], "imports inside functions count"
    subpackages = {path.name for path in PACKAGE.iterdir() if (path / "__init__.py").is_file()}
    assert set(ALLOWED_PARTS) - {"top"} == subpackages, \
        "a new subpackage needs its row in ALLOWED_PARTS and its place in docs/architecture.md"


def test_the_data_registry_names_only_data_modules():
    """The registry imports loaders by name ("module:function"), which the import graph cannot see:
    each such name must stay inside ``dlcourse.data`` (no import up the picture) and resolve."""
    from dlcourse.data.registry import DATASETS, _function

    for info in DATASETS.values():
        for name in filter(None, (info.locate, info.fetch)):
            assert name.startswith("dlcourse.data."), f"{info.name}: {name} is not in dlcourse.data"
            assert callable(_function(name)), f"{info.name}: {name} does not resolve"


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycles():
    cycle = find_cycle(internal_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("module", sorted(MODULES))
def test_learner_package_never_imports_instructor_tools(module):
    forbidden = {name for name in imported_names(MODULES[module]) if name.split(".")[0] in ("tools", "tests")}
    assert not forbidden, f"{module} imports {sorted(forbidden)}: instructor tools are not part of dlcourse"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_each_part_imports_only_the_parts_below_it(module):
    part = part_of(module)
    wrong = {dep for dep in internal_graph()[module]
             if dep != "dlcourse" and part_of(dep) not in ALLOWED_PARTS[part] | {part}}
    assert not wrong, f"{module} ({part}) imports {sorted(wrong)}; see docs/architecture.md"


def test_checks_stand_alone():
    # The same module compares in a learner's kernel and in the grader's own process
    # (tools/grading/scoring.py): it stands alone, with nothing of the course behind it but the
    # trained models' tasks (which the grader measures with, too) and, for a learner only, the
    # record of their progress.
    course = {name for name in imported_names(MODULES["dlcourse.checks"]) if name.startswith("dlcourse")}
    assert course == {"dlcourse.model_tasks.task", "dlcourse.learner_record"}


def test_numpy_network_never_imports_torch():
    for module, path in MODULES.items():
        if part_of(module) == "numpy_nn":
            assert "torch" not in {name.split(".")[0] for name in imported_names(path)}, module


def test_importing_the_packages_is_light():
    packages = ", ".join(sorted(name for name in MODULES if MODULES[name].name == "__init__.py"))
    code = (f"import sys, {packages}\n"
            "print(sorted(m for m in ('torch', 'ipywidgets', 'matplotlib') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                            check=True)
    assert result.stdout.strip() == "[]"


def _sys_path_edits(path: Path) -> list[int]:
    """Lines of ``path`` that call ``sys.path.insert``/``append``/``extend`` (code, not strings)."""
    return [node.lineno for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("insert", "append", "extend")
            and ast.unparse(node.func.value) == "sys.path"]


def test_tools_and_tests_need_no_sys_path_edits():
    # tools/ is a package run as `python -m tools.…`; pytest puts the root on the path (pyproject.toml).
    edits = {f"{path.relative_to(REPO)}:{line}" for folder in ("tools", "tests", "benchmarks")
             for path in sorted((REPO / folder).rglob("*.py")) for line in _sys_path_edits(path)}
    edits |= {f"conftest.py:{line}" for line in _sys_path_edits(REPO / "conftest.py")}
    assert not edits, f"sys.path edits: {sorted(edits)}; import `tools.…` or `tests.…` instead"


@pytest.mark.parametrize("module", sorted(module_name(path) for path in (REPO / "tools").rglob("*.py")
                                           if path.name != "__main__.py"))
def test_tools_import_as_a_package_from_the_root(module):
    # With the root on sys.path, as `python -m tools.…` run from the root has it (and pytest here).
    importlib.import_module(module)


def test_every_pytest_raises_checks_its_message():
    # A test fails when an error message stops saying what to do (CONTRIBUTING.md, "The tests").
    bare = [f"{path.relative_to(REPO)}:{node.lineno}" for path in sorted((REPO / "tests").rglob("*.py"))
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
            if isinstance(node, ast.Call) and ast.unparse(node.func) == "pytest.raises"
            and not any(keyword.arg == "match" for keyword in node.keywords)]
    assert not bare, f"pytest.raises without match=: {bare}"
