"""The package's imports run one way: no circle, and no module takes another module's private name.

The graph is read from the source (ast), every import counted: at module level and inside functions alike."""
import ast
from pathlib import Path

import pytest

from course_files import ROOT


def modules(root: Path, package: str = "autograder") -> dict[str, Path]:
    """Dotted module name -> its file, for every .py file of the package under `root`."""
    found = {}
    for path in (root / package).rglob("*.py"):
        parts = list(path.relative_to(root).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> tuple[set[str], list[str]]:
    """The package modules that module `name` imports, and its uses of another module's private names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets, private, aliases = set(), [], {}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    targets.add(alias.name)
                    aliases[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            for alias in node.names:
                if f"{base}.{alias.name}" in known:  # `from . import notebook as nb`: a module
                    targets.add(f"{base}.{alias.name}")
                    aliases[alias.asname or alias.name] = f"{base}.{alias.name}"
                elif base in known:
                    targets.add(base)
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        private.append(f"{name}:{node.lineno} from {base} import {alias.name}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
                and isinstance(node.value, ast.Name) and node.value.id in aliases):
            private.append(f"{name}:{node.lineno} {aliases[node.value.id]}.{node.attr}")
    return targets - {name}, private


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while not component or component[-1] != node:
                component.append(stack.pop())
                on_stack.discard(component[-1])
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def graph_of(root: Path, package: str = "autograder") -> tuple[dict[str, set[str]], list[str]]:
    known = modules(root, package)
    graph, private = {}, []
    for name, path in known.items():
        graph[name], used = imports(name, path, known)
        private += used
    return graph, private


@pytest.fixture(scope="module")
def package():
    return graph_of(ROOT)


def test_the_package_imports_have_no_circle(package):
    graph, _ = package
    assert len(graph) > 40 and "autograder.checking.checks" in graph["autograder.grading.grade"]
    assert circles(graph) == []


# visible_check.py is the check helper cell of every notebook: its helpers are private so that they stay out of the
# student's way in the notebook's namespace; `autograder submit` is the terminal twin of its submit() and shares them.
NOTEBOOK_CELL_HELPERS = {"from autograder.checking.visible_check import _send"}


def test_no_module_takes_another_modules_private_name(package):
    assert [use for use in package[1] if use.split(" ", 1)[1] not in NOTEBOOK_CELL_HELPERS] == []


def test_the_graph_finds_a_circle_and_private_names(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import thing\n")
    (package / "b.py").write_text("def thing():\n    from .sub.c import _helper\n")
    (package / "sub" / "c.py").write_text("from .. import a as first\n\ndef _helper():\n    return first._hidden\n")
    (package / "d.py").write_text("import pkg.a\n")
    graph, private = graph_of(tmp_path, "pkg")
    assert circles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]
    assert graph["pkg.d"] == {"pkg.a"}
    assert private == ["pkg.b:2 from pkg.sub.c import _helper", "pkg.sub.c:4 pkg.a._hidden"]


def test_the_result_model_imports_nothing_above_it(package):
    """results/ (the model, its wording, its numbers) is the bottom stage: every other stage may read a result."""
    graph, _ = package
    bottom = {module: targets for module, targets in graph.items() if module.startswith("autograder.results")}
    assert {"autograder.results.model", "autograder.results.wording", "autograder.results.scores"} <= set(bottom)
    assert set().union(*bottom.values()) <= set(bottom)


# --- the stage order (written by relayout.py; a re-run rewrites everything below this line) ---

# Bottom to top: a module may import its own tier and the tiers below, never a tier above (docs/pipeline.md).
# `cli` is the package's top level: cli.py, __main__.py, the verbs demo and submit, the course author's old paths.
TIERS = [['results'], ['course'], ['engine'], ['checking'], ['grading'], ['present', 'authoring'], ['lms'],
         ['web', 'cli']]
COURSE_CONTENT = {"hidden", "scaffold_template"}  # course files the package carries, not code of a stage
# imports that still run upward, each a code change to make (not a move): none may be added, each is listed exactly
KNOWN_UPWARD: set[str] = set()  # the gradebook's reads of the service's attempts now go through grading/history.py


def stage_of(module: str) -> str | None:
    """The stage of a package module: its folder under autograder/, `cli` at the top level, None for course content."""
    parts = module.split(".")
    if len(parts) == 1:
        return "results"  # the package itself: an empty __init__, below everything
    if parts[1] in COURSE_CONTENT or len(parts) > 2 and parts[2] in COURSE_CONTENT:
        return None
    return "cli" if len(parts) == 2 and not any(parts[1] in tier for tier in TIERS) else parts[1]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    tier = {stage: level for level, stages in enumerate(TIERS) for stage in stages}
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            mine, theirs = stage_of(module), stage_of(target)
            if mine is not None and theirs is not None and tier[theirs] > tier[mine]:
                found.append(f"{module} -> {target}")
    return found


def test_every_module_is_in_a_stage(package):
    graph, _ = package
    tiers = {stage for stages in TIERS for stage in stages}
    assert sorted(m for m in graph if stage_of(m) is not None and stage_of(m) not in tiers) == []
    assert stage_of("autograder.engine.sandbox") == "engine" and stage_of("autograder.cli") == "cli"


def test_no_stage_imports_a_later_one(package):
    graph, _ = package
    assert set(upward_imports(graph)) - KNOWN_UPWARD == set()
    assert KNOWN_UPWARD - set(upward_imports(graph)) == set()  # a debt paid is struck off


def test_the_stage_order_finds_an_upward_import():
    graph = {"autograder.engine.sandbox": {"autograder.course.config", "autograder.grading.grade"},
             "autograder.web.app": {"autograder.cli", "autograder.lms.links"},
             "autograder.cli": {"autograder.web.app"},
             "autograder.hidden.test_01": {"autograder.web.app"}}
    assert upward_imports(graph) == ["autograder.engine.sandbox -> autograder.grading.grade"]
