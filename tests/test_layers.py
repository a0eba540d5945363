"""The packages' imports flow one way, `features <- scoring <- training's rooms <- service`,
with no cycle, counting function-local imports too (a local import that dodges a cycle is a cycle)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("common", "features", "claims_io", "scoring", "training", "service")
# Rooms from the bottom up: a module may import its own room or a lower one, never a higher one.
ROOMS = ("common", "features", "claims_io", "scoring", "training.data", "training.demo", "training", "training.review",
         "service")
# What the app that answers requests may load: create_app and everything it imports. Nothing of
# training: the service scores uploaded claims files (POST /v1/files) with `medspa-coverage
# predict`'s own streaming scorer (scoring.batch), which lives with the served model.
APP_ROOMS = ("common", "features", "claims_io", "scoring", "service")
NOT_IN_THE_APP = ("service.cli", "service.bootstrap", "service.docs_pages")  # commands, not the app


def module_files() -> dict[str, Path]:
    files = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            files[name] = path
    return files


MODULES = module_files()


def imported_modules(name: str, path: Path) -> set[str]:
    """The project modules `name` imports anywhere in its body (submodules named in `from x import y`)."""
    is_package = path.name == "__init__.py"
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):  # `import a.b.c` runs a, a.b and a.b.c
            targets = [".".join(alias.name.split(".")[:depth]) for alias in node.names
                       for depth in range(1, alias.name.count(".") + 2)]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module
            # `from package import module` runs the package's __init__ and then the module: both
            targets = [module] + [f"{module}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in MODULES and target != name)
    return found


GRAPH = {name: imported_modules(name, path) for name, path in MODULES.items()}


def room(name: str) -> int:
    """The index in ROOMS of the longest room name that holds `name`."""
    holders = [prefix for prefix in ROOMS if name == prefix or name.startswith(prefix + ".")]
    return ROOMS.index(max(holders, key=len))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(GRAPH[node])
    return seen


def test_the_walk_sees_every_room_and_the_known_edges():
    assert {room(name) for name in MODULES} == set(range(len(ROOMS)))
    assert "scoring.coverage_model" in GRAPH["service.model_loading"]
    assert "scoring.advice" in GRAPH["scoring.coverage_model"]  # `from scoring import advice`


def test_no_import_cycle_even_through_function_local_imports():
    assert cycles(GRAPH) == []


def test_cycle_finder_finds_a_planted_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_import_reaches_up_to_a_higher_room(name):
    upward = sorted(target for target in GRAPH[name] if room(target) > room(name))
    assert upward == [], f"{name} ({ROOMS[room(name)]}) imports from higher rooms: {upward}"


def test_the_app_loads_only_the_served_model_and_the_domain():
    app_modules = reachable("service") - {"service"}
    stages = sorted(name for name in app_modules
                    if not name.startswith(tuple(f"{prefix}." for prefix in APP_ROOMS)) and name not in APP_ROOMS)
    assert stages == [], f"create_app reaches the training stages: {stages}"
    assert not app_modules & set(NOT_IN_THE_APP)


def test_the_service_imports_training_only_in_its_commands():
    reaching = sorted(name for name in MODULES if name.startswith("service") and name not in NOT_IN_THE_APP
                      and any(target == "training" or target.startswith("training.") for target in GRAPH[name]))
    assert reaching == [], f"service modules importing training outside the command group: {reaching}"
