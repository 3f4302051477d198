"""Each package's imports form a tree of rooms, not a web: no module imports itself back, however
indirectly (streams never import the tap, sinks never import the target), and no room imports a room
that sits above it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tap_yandex_tracker
import target_clickhouse_agile

PACKAGES = {
    "tap_yandex_tracker": Path(tap_yandex_tracker.__file__).parent,
    "target_clickhouse_agile": Path(target_clickhouse_agile.__file__).parent,
}


def module_files(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `package` (`pkg.sub` for `pkg/sub/__init__.py`)."""
    root = PACKAGES[package]
    modules = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imports_of(module: str, path: Path, known: set[str]) -> set[str]:
    """The package's own modules that `module` imports: at the top, in functions or for type checking
    alike (a circle through a type-checking import is still a circle in the design)."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in known:  # `pkg.mod.attr` -> `pkg.mod`
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def import_graph(package: str) -> dict[str, set[str]]:
    files = module_files(package)
    return {module: imports_of(module, path, set(files)) for module, path in files.items()}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_import_circles(package: str) -> None:
    assert circles(import_graph(package)) == []


def test_the_walker_sees_imports_and_circles() -> None:
    """The checks above can fail: the walker finds real edges (from the tap to its streams, from a
    sink module to the load context) and the circle finder finds a planted circle."""
    tap = import_graph("tap_yandex_tracker")
    assert "tap_yandex_tracker.streams" in tap["tap_yandex_tracker.tap"]
    assert "tap_yandex_tracker.run_context" in tap["tap_yandex_tracker.client"]
    target = import_graph("target_clickhouse_agile")
    assert "target_clickhouse_agile.load_context" in target["target_clickhouse_agile.sinks"]
    planted = {**target, "target_clickhouse_agile.clickhouse.base": {"target_clickhouse_agile.sinks"}}
    assert any("target_clickhouse_agile.sinks" in group for group in circles(planted))


#: Who may import whom, by room (the first part below the package): a room imports only rooms listed
#: for it. `metrics` is the pure core (see test_purity.py); `clickhouse` owns the SQL.
TARGET_ROOMS = {
    "metrics": set(),
    "clickhouse": {"metrics", "workflow"},
    "workflow": {"metrics"},
    "report": {"clickhouse", "metrics"},
}


@pytest.mark.parametrize("room", sorted(TARGET_ROOMS))
def test_target_rooms_import_only_rooms_below(room: str) -> None:
    graph = import_graph("target_clickhouse_agile")
    prefix = f"target_clickhouse_agile.{room}"
    allowed = TARGET_ROOMS[room] | {room}
    for module, targets in graph.items():
        if module == prefix or module.startswith(prefix + "."):
            rooms = {t.split(".")[1] for t in targets if t.count(".") >= 1}
            assert rooms <= allowed, (module, rooms - allowed)


def test_code_outside_clickhouse_uses_its_facade() -> None:
    """`target_clickhouse_agile.clickhouse` is the one door into the room: nothing outside it imports one
    of its modules directly."""
    graph = import_graph("target_clickhouse_agile")
    room = "target_clickhouse_agile.clickhouse"
    bypassing = {
        (module, target)
        for module, targets in graph.items()
        if not module.startswith(room)
        for target in targets
        if target.startswith(room + ".")
    }
    assert bypassing == set()
