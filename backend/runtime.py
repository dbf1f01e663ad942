"""Prepares the self-hosted browser runtime under ``vendor/`` from the pinned npm packages.

``npm ci`` puts ``@pyscript/core`` and ``pyodide`` in ``node_modules/``; this copies just the
files a page loads into versioned folders (``vendor/pyscript/<version>/``,
``vendor/pyodide/<version>/``) and writes brotli and gzip variants next to the large ones, so
the server can answer with ``Cache-Control: immutable`` and the smallest encoding the browser
accepts.  Next to Pyodide it writes ``snapshot.gz``, a gzipped memory snapshot of a started
interpreter made with Node (``backend/pyodide_snapshot.mjs`` says why).  It is idempotent: a
stamp records what was prepared, and a second run with the same packages does nothing.

    python -m backend.runtime          # prepare (or check) vendor/
"""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import brotli

from backend.config import ROOT

PACKAGES = {
    # name in vendor/ : (npm package folder, sub-folder holding the files, files to take)
    "pyscript": ("@pyscript/core", "dist", ("*.js", "*.css")),
    "pyodide": (
        "pyodide",
        ".",
        (
            "pyodide.mjs",
            "pyodide.asm.mjs",
            "pyodide.asm.wasm",
            "python_stdlib.zip",
            "pyodide-lock.json",
        ),
    ),
}
COMPRESS_SUFFIXES = {".wasm", ".mjs", ".js", ".css", ".json", ".zip"}
MIN_COMPRESS_BYTES = 16 * 1024
MIN_SAVING = 0.05  # keep a variant only if it is at least 5 % smaller
# Gzipped as a file (by the script), not as a Content-Encoding variant: the page inflates it
# itself (DecompressionStream), so it is 6 MiB on the wire from any static host, not 30 MiB.
SNAPSHOT = "snapshot.gz"
SNAPSHOT_SCRIPT = Path(__file__).with_name("pyodide_snapshot.mjs")


def package_version(node_modules: Path, package: str) -> str:
    return json.loads((node_modules / package / "package.json").read_text())["version"]


def versions(root: Path = ROOT) -> dict[str, str]:
    node_modules = root / "node_modules"
    return {name: package_version(node_modules, pkg) for name, (pkg, _, _) in PACKAGES.items()}


def _compress(path: Path) -> list[Path]:
    data = path.read_bytes()
    made = []
    for suffix, packed in (
        (".br", lambda: brotli.compress(data, quality=11)),
        (".gz", lambda: gzip.compress(data, compresslevel=9, mtime=0)),
    ):
        target = path.with_name(path.name + suffix)
        blob = packed()
        if len(blob) <= len(data) * (1 - MIN_SAVING):
            target.write_bytes(blob)
            made.append(target)
    return made


def _fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(versions(root), sort_keys=True).encode())
    digest.update(Path(__file__).read_bytes())
    digest.update(SNAPSHOT_SCRIPT.read_bytes())
    return digest.hexdigest()


def prepare(root: Path = ROOT, out: Path | None = None, log=print) -> Path:
    """Build ``vendor/`` (or ``out``) unless the stamp says it is current; return its path."""
    out = out or root / "vendor"
    stamp = out / ".prepared"
    fingerprint = _fingerprint(root)
    if stamp.exists() and stamp.read_text() == fingerprint:
        return out
    node_modules = root / "node_modules"
    if out.exists():
        shutil.rmtree(out)
    for name, (package, sub, patterns) in PACKAGES.items():
        version = package_version(node_modules, package)
        source = node_modules / package / sub
        target = out / name / version
        target.mkdir(parents=True)
        for pattern in patterns:
            for file in sorted(source.glob(pattern)):
                shutil.copy2(file, target / file.name)
                if file.suffix in COMPRESS_SUFFIXES and file.stat().st_size >= MIN_COMPRESS_BYTES:
                    _compress(target / file.name)
        if name == "pyodide":
            write_snapshot(target)
        log(f"runtime: {name} {version} prepared in {target.relative_to(root)}")
    stamp.write_text(fingerprint)
    return out


def write_snapshot(runtime: Path) -> Path:
    """``runtime/snapshot.gz``, made by Node from the runtime in ``runtime``."""
    subprocess.run(["node", str(SNAPSHOT_SCRIPT), str(runtime)], check=True)
    return runtime / SNAPSHOT


if __name__ == "__main__":
    try:
        prepare()
    except FileNotFoundError as exc:
        sys.exit(f"runtime: {exc.filename} is missing; run `npm ci` first")
