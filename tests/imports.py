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


def _at_import_time(body: list[ast.stmt]) -> list[ast.stmt]:
    """The import statements that run when the module is imported: at the top, or in an
    ``if``/``try`` there; not in functions, not under ``if TYPE_CHECKING:``."""
    found: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                found += _at_import_time(node.body)
            found += _at_import_time(node.orelse)
        elif isinstance(node, ast.Try):
            found += _at_import_time(node.body + node.orelse + node.finalbody)
    return found


def _imported(path: str, eager: bool = False) -> set[str]:
    """Absolute names of everything ``path`` imports (``from a import b`` gives ``a`` and
    ``a.b``: ``b`` may be a module); ``eager``: only what runs at import time."""
    names: set[str] = set()
    tree = ast.parse((ROOT / path).read_text())
    nodes = _at_import_time(tree.body) if eager else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def import_graph(folders: list[str], eager: bool = False) -> dict[str, set[str]]:
    """File -> the modules it imports: our own as their files' module names (only those that
    exist), anything else by its top-level name (``js``, ``asyncio``).  ``eager``: only the
    imports that run when the module is imported."""
    graph = {}
    for folder in folders:
        for file in sorted((ROOT / folder).rglob("*.py")):
            path = str(file.relative_to(ROOT))
            targets = set()
            for name in _imported(path, eager):
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
