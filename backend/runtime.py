"""Prepares the self-hosted browser runtime under ``vendor/`` from the pinned npm packages.

``npm ci`` puts ``@pyscript/core`` and ``pyodide`` in ``node_modules/``; this copies just the
files a page loads into versioned folders (``vendor/pyscript/<version>/``,
``vendor/pyodide/<version>/``) and writes brotli and gzip variants next to the large ones, so
the server can answer with ``Cache-Control: immutable`` and the smallest encoding the browser
accepts.

Under ``vendor/pyodide/<version>/app/`` it writes the two runtime files made from the app's own
code with Node (``backend/pyodide_prepare.mjs`` says how): ``stdlib.zip``, the standard library
cut to what the page imports, and ``snapshot.gz``, a memory snapshot of an interpreter started
on it.  Each has a brotli sibling made from its uncompressed form (the stored zip, the raw
snapshot), which a server sends as ``Content-Encoding: br``: far fewer bytes than the file
itself (0.84 vs 1.17 MB, 4.1 vs 6.1 MB), and the page accepts either form.  They change with the
app, so the server revalidates them instead of calling them immutable.

It is idempotent: a stamp per part records what was prepared, and a second run with the same
inputs does nothing; a change to the page's standard-library roots remakes only the app part.

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
APP_FOLDER = "app"  # under vendor/pyodide/<version>/: made from the app, revalidated
STDLIB = "stdlib.zip"
# A gzip file, not only a Content-Encoding: the page inflates it itself (DecompressionStream),
# so a static host that sends files as they are still sends 6 MiB, not 30.
SNAPSHOT = "snapshot.gz"
PREPARE_SCRIPT = Path(__file__).with_name("pyodide_prepare.mjs")
PRUNE_SCRIPT = Path(__file__).with_name("stdlib_prune.py")
STDLIB_ROOTS = Path(__file__).with_name("stdlib_roots.txt")
# Brotli's best quality: 40 s of set-up for the 30 MiB snapshot, once, for 2 MB less per visit.
SNAPSHOT_BROTLI_QUALITY = 11


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


def _fingerprint(root: Path, *files: Path) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(versions(root), sort_keys=True).encode())
    for file in (Path(__file__), *files):
        digest.update(file.read_bytes())
    return digest.hexdigest()


def prepare(root: Path = ROOT, out: Path | None = None, log=print) -> Path:
    """Build ``vendor/`` (or ``out``) unless the stamps say it is current; return its path."""
    out = out or root / "vendor"
    stamp = out / ".prepared"
    fingerprint = _fingerprint(root)
    if not (stamp.exists() and stamp.read_text() == fingerprint):
        _copy_packages(root, out, log)
        stamp.write_text(fingerprint)
    runtime = out / "pyodide" / versions(root)["pyodide"]
    prepare_app_part(root, runtime, log)
    write_manifest(runtime)
    return out


def _copy_packages(root: Path, out: Path, log) -> None:
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
        log(f"runtime: {name} {version} prepared in {target.relative_to(root)}")


def prepare_app_part(root: Path, runtime: Path, log=print) -> Path:
    """``runtime/app/``: the cut standard library and the snapshot, with their brotli forms."""
    app = runtime / APP_FOLDER
    stamp = app / ".prepared"
    fingerprint = _fingerprint(root, PREPARE_SCRIPT, PRUNE_SCRIPT, STDLIB_ROOTS)
    if stamp.exists() and stamp.read_text() == fingerprint:
        return app
    subprocess.run(
        ["node", str(PREPARE_SCRIPT), str(runtime), str(STDLIB_ROOTS), str(PRUNE_SCRIPT)],
        check=True,
    )
    if app.exists():
        shutil.rmtree(app)
    app.mkdir()
    stored = runtime / "app-stdlib.stored.zip"
    (runtime / "app-stdlib.zip").replace(app / STDLIB)
    raw_stdlib = stored.read_bytes()
    (app / f"{STDLIB}.br").write_bytes(brotli.compress(raw_stdlib, quality=11, lgwin=24))
    (app / f"{STDLIB}.gz").write_bytes(gzip.compress(raw_stdlib, compresslevel=9, mtime=0))
    stored.unlink()
    raw = runtime / "snapshot.raw"
    snapshot = raw.read_bytes()
    (app / SNAPSHOT).write_bytes(gzip.compress(snapshot, compresslevel=9, mtime=0))
    log("runtime: compressing the snapshot with brotli (about 40 s, once)")
    (app / f"{SNAPSHOT}.br").write_bytes(
        brotli.compress(snapshot, quality=SNAPSHOT_BROTLI_QUALITY, lgwin=24)
    )
    raw.unlink()
    stamp.write_text(fingerprint)
    log(f"runtime: app standard library and snapshot prepared in {app.relative_to(root)}")
    return app


# The files the page fetches itself while the runtime starts (static/pyodide-early.mjs), whose
# sizes it needs for the progress bar and to judge the link.
MANIFEST = "runtime.json"
MANIFEST_FILES = (
    "pyodide.asm.wasm",
    "pyodide-lock.json",
    f"{APP_FOLDER}/{STDLIB}",
    f"{APP_FOLDER}/{SNAPSHOT}",
)
CODINGS = {"identity": "", "br": ".br", "gzip": ".gz"}
DECODE = {"identity": lambda data: data, "br": brotli.decompress, "gzip": gzip.decompress}


def manifest(runtime: Path) -> dict[str, dict[str, object]]:
    """For each file, each encoding a server can send it in: ``[bytes as sent, bytes decoded]``
    (the app's files decode to a different, uncompressed form under br and gzip), and the
    ``sha256`` of the file itself (the page keeps the snapshot under it)."""
    sizes: dict[str, dict[str, object]] = {}
    for name in MANIFEST_FILES:
        variants: dict[str, object] = {
            "sha256": hashlib.sha256((runtime / name).read_bytes()).hexdigest()
        }
        sizes[name] = variants
        for coding, suffix in CODINGS.items():
            path = runtime / f"{name}{suffix}"
            if path.exists():
                data = path.read_bytes()
                variants[coding] = [len(data), len(DECODE[coding](data))]
    return sizes


def write_manifest(runtime: Path) -> Path:
    """``app/runtime.json``, rewritten only when a size changed (its ETag stays otherwise)."""
    path = runtime / APP_FOLDER / MANIFEST
    text = json.dumps(manifest(runtime), indent=1, sort_keys=True) + "\n"
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    return path


if __name__ == "__main__":
    try:
        prepare()
    except FileNotFoundError as exc:
        sys.exit(f"runtime: {exc.filename} is missing; run `npm ci` first")
