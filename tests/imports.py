"""The import graph of our own packages, read from the source (imports inside functions too)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def module_name(path: str) -> str:
    parts = list(Path(path).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def module_file(name: str) -> str | None:
    for candidate in (name.replace(".", "/") + ".py", name.replace(".", "/") + "/__init__.py"):
        if (ROOT / candidate).is_file():
            return candidate
    return None


def _imported(path: str) -> set[str]:
    """Absolute names of everything ``path`` imports (``from a import b`` gives ``a`` and
    ``a.b``: ``b`` may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def import_graph(folders: list[str]) -> dict[str, set[str]]:
    """File -> the modules it imports: our own as their files' module names (only those that
    exist), anything else by its top-level name (``js``, ``asyncio``)."""
    graph = {}
    for folder in folders:
        for file in sorted((ROOT / folder).rglob("*.py")):
            path = str(file.relative_to(ROOT))
            targets = set()
            for name in _imported(path):
                if name.split(".")[0] in folders:
                    if module_file(name) is not None and module_name(path) != name:
                        targets.add(name)
                else:
                    targets.add(name.split(".")[0])
            graph[path] = targets
    return graph


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    """Every module ``start`` imports, directly or through our own modules."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        for name in graph.get(todo.pop(), set()):
            if name not in seen:
                seen.add(name)
                file = module_file(name)
                if file is not None:
                    todo.append(file)
    return seen


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Groups of our modules that import each other (strongly connected, more than one)."""
    edges = {
        module_name(f): {t for t in targets if module_file(t) is not None}
        for f, targets in graph.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found
