"""The page's own standard library: Pyodide's ``python_stdlib.zip`` cut to what the page imports.

Every visit downloads the standard library before Python can start: Pyodide's zip holds all of
CPython's (559 modules, 2.5 MB), the page imports about 170 of them.  This module keeps the
*roots* (``backend/stdlib_roots.txt``: every standard module a page was seen to import, written
by ``python -m tools.stdlib_roots``) and everything they import when they are imported, that
is, import statements outside function bodies (``if TYPE_CHECKING:`` blocks excepted), and
writes that zip.  Imports inside functions are kept only when a root names them, so a lazy
path the roots tool did not see is a missing module; the e2e test that imports every module
of the app and of its browser wheels from the served zip is what keeps this honest.

The sources are Python 3.14, which only 3.14's ``ast`` can parse, so set-up runs this inside
Pyodide under Node (``backend/pyodide_prepare.mjs``); the tests run it under CPython on small
zips::

    >>> import io, zipfile
    >>> buffer = io.BytesIO()
    >>> with zipfile.ZipFile(buffer, "w") as z:
    ...     z.writestr("a.py", "import b\\ndef f():\\n    import c\\n")
    ...     z.writestr("b.py", ""); z.writestr("c.py", ""); z.writestr("d.py", "")
    >>> sorted(keep(zipfile.ZipFile(buffer), ["a"]))
    ['a', 'b']
"""

from __future__ import annotations

import ast
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Module:
    name: str
    path: str
    package: bool


def module_of(path: str) -> Module | None:
    """The module a zip member is the source of (``None`` for data files and folders)."""
    if not path.endswith(".py"):
        return None
    dotted = path[: -len(".py")].replace("/", ".")
    if dotted.endswith(".__init__"):
        return Module(dotted[: -len(".__init__")], path, True)
    return Module(dotted, path, False)


def modules(archive: zipfile.ZipFile) -> dict[str, Module]:
    found = (module_of(info.filename) for info in archive.infolist())
    return {module.name: module for module in found if module is not None}


def _type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_time_nodes(tree: ast.Module) -> Iterable[ast.AST]:
    """Every node that runs when the module is imported: not function bodies, not lambdas, not
    the body of ``if TYPE_CHECKING:``."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and _type_checking(node.test):
            stack.extend(node.orelse)
            continue
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                stack.extend(child.decorator_list if not isinstance(child, ast.Lambda) else ())
                continue
            stack.append(child)


def imported_names(source: bytes | str, module: Module) -> set[str]:
    """Dotted names the module's import-time statements may load (``from a import b`` gives
    ``a`` and ``a.b``, since ``b`` may be a submodule); relative imports resolved."""
    tree = ast.parse(source)
    names: set[str] = set()
    for node in _import_time_nodes(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.name.split(".") if module.package else module.name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            names.add(target)
            names.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _with_parents(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:end]) for end in range(1, len(parts) + 1)]


def keep(archive: zipfile.ZipFile, roots: Iterable[str]) -> set[str]:
    """The roots found in ``archive``, their packages, and what they import at import time,
    transitively.  Roots the zip does not hold (modules built into the interpreter, such as
    ``math``) are ignored."""
    table = modules(archive)
    kept: set[str] = set()
    todo = [name for root in roots for name in _with_parents(root) if name in table]
    while todo:
        name = todo.pop()
        if name in kept:
            continue
        kept.add(name)
        module = table[name]
        for imported in imported_names(archive.read(module.path), module):
            todo.extend(n for n in _with_parents(imported) if n in table and n not in kept)
    return kept


def _member_kept(path: str, kept: set[str]) -> bool:
    module = module_of(path)
    if module is not None:
        return module.name in kept
    package = path.rstrip("/") if path.endswith("/") else path.rpartition("/")[0]
    return not package or package.replace("/", ".") in kept  # a kept package's data, folders


def write(archive: zipfile.ZipFile, kept: set[str], target: str, compression: int) -> None:
    """Copy the kept members (and the data files of kept packages) into ``target``, in the
    original order, with fixed timestamps so the same input always gives the same bytes."""
    with zipfile.ZipFile(target, "w", compression, compresslevel=9) as out:
        for info in archive.infolist():
            if _member_kept(info.filename, kept):
                member = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
                member.external_attr = info.external_attr
                out.writestr(member, archive.read(info), compress_type=compression)


def read_roots(text: str) -> list[str]:
    """Module names, one per line; ``#`` starts a comment."""
    lines = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def main(argv: list[str]) -> None:
    """``stdlib_prune.py FULL_ZIP ROOTS_FILE DEFLATED_OUT STORED_OUT``: the same members twice,
    deflated (for hosts that send files as they are) and stored (for brotli on the wire, which
    compresses across files far better than per-file deflate)."""
    full, roots_file, deflated, stored = argv
    with open(roots_file, encoding="utf-8") as file:
        roots = read_roots(file.read())
    with zipfile.ZipFile(full) as archive:
        kept = keep(archive, roots)
        write(archive, kept, deflated, zipfile.ZIP_DEFLATED)
        write(archive, kept, stored, zipfile.ZIP_STORED)
    print(f"stdlib: kept {len(kept)} of {len(modules(zipfile.ZipFile(full)))} modules")


if __name__ == "__main__":
    main(sys.argv[1:])
