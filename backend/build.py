"""Static builds: everything the page needs in one folder that any static host can serve.

    python -m backend.build                 # dist/: the app; ?preview=1 turns on preview mode
    python -m backend.build --preview       # dist/: preview mode unless ?preview=0

The folder holds ``index.html``, the config, the app's Python files, the stylesheet, the
self-hosted runtime from ``vendor/`` (with its ``.br``/``.gz`` variants for hosts that serve
them) and the browser's wheels with a static PEP 503 index.  Every URL in it is relative, so it
works from any static server and under any sub-path; ``server.py --root dist`` serves the same
files with the real API.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from backend.config import ROOT
from backend.wheels import WheelIndex

MARKER = ".pychat-build"  # only a folder with this file in it is ever deleted by a rebuild
TOP_FILES = ("index.html", "pyscript.json", "pyscript.toml")
PREVIEW_ATTRIBUTE = 'data-preview="default"'


class BuildError(Exception):
    """Something the build needs is missing; the message says what to run."""


@dataclass(frozen=True)
class Built:
    out: Path
    files: int
    bytes: int
    preview: bool


def mark_preview(index_html: str) -> str:
    """``index.html`` for a preview build: ``<html … data-preview="default">``."""
    marked, count = re.subn(r"<html(\s[^>]*)?>", _add_attribute, index_html, count=1)
    if count != 1:
        raise BuildError("index.html has no <html> tag to mark")
    return marked


def _add_attribute(match: re.Match[str]) -> str:
    attributes = match.group(1) or ""
    return f"<html{attributes} {PREVIEW_ATTRIBUTE}>"


def _prepare_out(out: Path, root: Path) -> None:
    out = out.resolve()
    if out == root.resolve() or root.resolve().is_relative_to(out):
        raise BuildError(f"refusing to build into {out}: it contains the sources")
    if out.exists():
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise BuildError(f"{out} exists and is not a previous build; choose another --out")
        shutil.rmtree(out)
    out.mkdir(parents=True)


# Pyodide's whole standard library stays behind: the page mounts its own cut one (app/stdlib.zip).
LEFT_OUT = ("__pycache__", "*.pyc", ".prepared", "python_stdlib.zip")


def _copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(*LEFT_OUT))


def write_wheel_index(wheels: Path) -> None:
    """``wheels/simple/<project>/index.html`` for ``wheels/files/*.whl``: what micropip reads
    from a static host (it resolves the relative links against the page's own URL)."""
    index = WheelIndex(wheels / "files")
    simple = wheels / "simple"
    for project in index.projects:
        folder = simple / project
        folder.mkdir(parents=True)
        (folder / "index.html").write_text(index.project_html(project, "../../files/"))
    links = "\n".join(f'<a href="{p}/">{p}</a><br>' for p in sorted(index.projects))
    (simple / "index.html").write_text(
        f"<!doctype html>\n<html><head><title>Simple index</title></head><body>\n{links}\n"
        "</body></html>\n"
    )


def build(out: Path, preview: bool = False, root: Path = ROOT) -> Built:
    for needed, command in (("vendor/.prepared", "make setup"), ("wheels/.prepared", "make setup")):
        if not (root / needed).is_file():
            raise BuildError(f"{needed} is missing: run `{command}` first")
    _prepare_out(out, root)
    for name in TOP_FILES:
        shutil.copy2(root / name, out / name)
    if preview:
        index = out / "index.html"
        index.write_text(mark_preview(index.read_text(encoding="utf-8")), encoding="utf-8")
    for folder in ("app", "static", "vendor"):
        _copy_tree(root / folder, out / folder)
    _copy_tree(root / "wheels" / "files", out / "wheels" / "files")
    write_wheel_index(out / "wheels")
    (out / MARKER).write_text(json.dumps({"preview": preview}) + "\n")
    files = [p for p in out.rglob("*") if p.is_file()]
    return Built(out, len(files), sum(p.stat().st_size for p in files), preview)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m backend.build", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="folder to write (dist/)")
    parser.add_argument(
        "--preview", action="store_true", help="preview mode by default (?preview=0 turns it off)"
    )
    args = parser.parse_args(argv)
    try:
        built = build(args.out, args.preview)
    except BuildError as exc:
        print(f"build failed: {exc}", file=sys.stderr)
        return 1
    mode = "preview by default" if built.preview else "the app; add ?preview=1 for preview mode"
    print(
        f"wrote {built.files} files, {built.bytes / 1024 / 1024:.1f} MiB, to {built.out} ({mode})"
    )
    print(f"try it: python -m http.server --directory {built.out} 8080")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
