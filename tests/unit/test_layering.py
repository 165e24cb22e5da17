"""The packages of l3roam import each other without cycles (the layering is the architecture).

Read from the source with ``ast`` (imports inside functions count too): a
package-level graph, ``l3roam.<pkg>`` -> ``l3roam.<other>``, must be acyclic.
Top-level modules (errors, log, config, metrics, cli ...) are leaves or the
entry point and are left out, except that nothing may import the CLI.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "l3roam"


def package_imports() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT)
        if len(rel.parts) < 2:
            continue  # top-level modules
        pkg = rel.parts[0]
        deps = graph.setdefault(pkg, set())
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "l3roam" and len(parts) > 1 and (ROOT / parts[1]).is_dir() and parts[1] != pkg:
                    deps.add(parts[1])
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            found = visit(n)
            if found:
                return found
    return None


def test_find_cycle_reports_a_cycle_and_accepts_a_dag():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_packages_import_each_other_without_cycles():
    graph = package_imports()
    assert {"measure", "testbed", "experiment"} <= set(graph)
    assert find_cycle(graph) is None, f"import cycle between packages: {' -> '.join(find_cycle(graph))}"


def test_measurement_is_below_the_testbed():
    graph = package_imports()
    assert "testbed" not in graph["measure"]
    assert "experiment" not in graph["testbed"]
