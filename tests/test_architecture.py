"""The package's shape, checked from its own source: no import circle, dependencies that
point one way, plugins that stay declarative, core modules small enough to read."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "venuefeed"
#: the largest a core module may grow before it should be split
CORE_MODULE_MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES: dict[str, Path] = {module_name(p): p for p in ROOT.rglob("*.py")}


def imports_of(path: Path) -> set[str]:
    """Every venuefeed module `path` imports explicitly, wherever the import stands (an
    import that exists only for type hints is still a dependency)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports the module pkg.mod when there is one
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in MODULES and t != name)
    return found


GRAPH = {name: imports_of(path) for name, path in MODULES.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_circle_anywhere():
    assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH) or [])


def test_the_graph_sees_every_kind_of_import():
    assert "venuefeed.core.connection.freshness" in GRAPH["venuefeed.core.connection.runner"]
    # `from venuefeed.core import wire`-style and TYPE_CHECKING-only imports count too
    assert "venuefeed.core.observe.metrics" in GRAPH["venuefeed.core.observe.collector"]
    assert "venuefeed.core.adapter" in GRAPH["venuefeed.core.wire"]


def test_the_cycle_finder_finds_a_planted_circle():
    planted = {**GRAPH, "venuefeed.core.engine": {*GRAPH["venuefeed.core.engine"], "x"}}
    planted["x"] = {"venuefeed.core.engine"}
    assert find_cycle(planted) == ["venuefeed.core.engine", "x", "venuefeed.core.engine"]


@pytest.mark.parametrize(
    "outer", ["venuefeed.plugins", "venuefeed.sim", "venuefeed.sinks", "venuefeed.bus"]
)
def test_core_depends_on_nothing_built_on_it(outer: str):
    offenders = {
        (name, dep)
        for name, deps in GRAPH.items()
        if name.startswith("venuefeed.core")
        for dep in deps
        if dep.startswith(outer) or dep in ("venuefeed.cli", "venuefeed.tui")
    }
    assert not offenders


def test_plugins_are_declarative():
    """A plugin never opens sockets, sleeps, retries or reconnects."""
    forbidden = {"asyncio", "aiohttp", "tenacity", "socket", "time.sleep"}
    for name, path in MODULES.items():
        if not name.startswith("venuefeed.plugins.") or name.endswith(".sim"):
            continue
        tree = ast.parse(path.read_text())
        used = {
            alias.name.split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import | ast.ImportFrom)
            for alias in (
                node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")]
            )
        }
        assert not used & forbidden, f"{name} imports {sorted(used & forbidden)}"


def test_core_modules_are_small_enough_to_read():
    sizes = {
        name: len(path.read_text().splitlines())
        for name, path in MODULES.items()
        if name.startswith("venuefeed.core")
    }
    too_big = {name: n for name, n in sizes.items() if n > CORE_MODULE_MAX_LINES}
    assert not too_big
