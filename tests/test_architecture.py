"""The floors, read from the source: each package imports only the floors below it, no module imports
itself back through others, the runtime never imports the test servers, and the library floors
never print (only the commands and the app's entry point speak to the terminal)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# What each package may import of ours. cli and gui sit on top; testing is test support.
FLOORS = {
    "audio": set(),
    "models": {"audio"},
    "realtime": {"models", "audio"},
    "training": {"models", "audio"},
    "cli": {"training", "realtime", "models", "audio"},
    "gui": {"realtime", "models", "audio"},
    "testing": {"realtime", "models", "audio"},
}
RUNTIME = ("audio", "models", "realtime", "training", "cli", "gui")
SILENT = ("audio", "models", "realtime")


def _modules(packages=FLOORS) -> dict[str, ast.Module]:
    modules = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            modules[name] = ast.parse(path.read_text(), str(path))
    return modules


def _runtime_imports(tree: ast.Module) -> set[str]:
    """Every module name imported anywhere in ``tree`` (functions included), except under ``if
    TYPE_CHECKING:``, whose imports only annotate."""
    found, skipped = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            skipped |= {id(inner) for inner in ast.walk(node)}
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return found


MODULES = _modules()
GRAPH = {name: {target for target in _runtime_imports(tree) if target in MODULES and target != name} for name, tree in MODULES.items()}


@pytest.mark.parametrize("package", sorted(FLOORS))
def test_a_package_imports_only_the_floors_below_it(package):
    wrong = sorted(
        f"{name} imports {target}"
        for name, targets in GRAPH.items() if name.split(".")[0] == package
        for target in targets if target.split(".")[0] not in FLOORS[package] | {package}
    )
    assert not wrong, wrong


def test_no_module_imports_itself_back():
    state: dict[str, str] = {}

    def visit(name: str, path: list[str]) -> None:
        state[name] = "open"
        for target in sorted(GRAPH[name]):
            assert state.get(target) != "open", " -> ".join([*path, name, target])
            if target not in state:
                visit(target, [*path, name])
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [])


def test_the_runtime_never_imports_the_test_servers():
    wrong = sorted(f"{name} imports {target}" for name, targets in GRAPH.items() if name.split(".")[0] in RUNTIME
                   for target in targets if target.split(".")[0] == "testing")
    assert not wrong, wrong


@pytest.mark.parametrize("package", SILENT)
def test_the_library_floors_never_print(package):
    printing = sorted(
        f"{name}:{node.lineno}"
        for name, tree in MODULES.items() if name.split(".")[0] == package
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print"
    )
    assert not printing, printing
