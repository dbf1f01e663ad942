"""The prepared runtime: what the page starts from belongs to the pinned build and the app."""

from __future__ import annotations

import gzip
import io
import json
import re
import struct
import zipfile

import brotli

from backend.config import ROOT
from backend.runtime import APP_FOLDER, MANIFEST, SNAPSHOT, STDLIB, STDLIB_ROOTS, manifest, versions
from backend.stdlib_prune import modules, read_roots

RUNTIME = ROOT / "vendor" / "pyodide" / versions()["pyodide"]
APP = RUNTIME / APP_FOLDER


def build_id_of_served_pyodide() -> str:
    match = re.search(r'BUILD_ID:"([0-9a-f]{64})"', (RUNTIME / "pyodide.mjs").read_text())
    assert match, "pyodide.mjs no longer names its build id where this test looks"
    return match.group(1)


def snapshot_build_id(header: bytes) -> str:
    magic, _offset, _size, _reserved, *words = struct.unpack("<12I", header[:48])
    assert magic == 0x706E7300  # Pyodide's snapshot magic number
    return "".join(f"{word:08x}" for word in words)


def test_the_snapshot_was_made_by_the_served_build_in_both_of_its_forms():
    """Pyodide refuses a snapshot of another build (the page then starts without it, ~1.5 s
    slower); a stale one would only show up as a slow page, so set-up must remake it."""
    with gzip.open(APP / SNAPSHOT) as snapshot:
        assert snapshot_build_id(snapshot.read(48)) == build_id_of_served_pyodide()
    raw = brotli.decompress((APP / f"{SNAPSHOT}.br").read_bytes())
    assert snapshot_build_id(raw) == build_id_of_served_pyodide()


def test_the_snapshot_is_small_on_the_wire_and_never_raw_on_disk():
    assert (APP / f"{SNAPSHOT}.br").stat().st_size < (APP / SNAPSHOT).stat().st_size < 8e6
    assert not list(RUNTIME.rglob("*.raw")) and not list(RUNTIME.rglob("*.stored.zip"))


def test_the_cut_standard_library_holds_the_roots_and_far_less_than_pyodide_s():
    full = zipfile.ZipFile(RUNTIME / "python_stdlib.zip")
    cut = zipfile.ZipFile(APP / STDLIB)
    in_full = modules(full)
    kept = modules(cut)
    roots = [name for name in read_roots(STDLIB_ROOTS.read_text()) if name in in_full]
    assert roots and set(roots) <= set(kept)
    assert len(kept) < len(in_full) / 2
    assert (APP / STDLIB).stat().st_size < (RUNTIME / "python_stdlib.zip").stat().st_size / 2
    stored = zipfile.ZipFile(io.BytesIO(gzip.decompress((APP / f"{STDLIB}.gz").read_bytes())))
    assert sorted(stored.namelist()) == sorted(cut.namelist())  # same members, another form
    assert {info.compress_type for info in stored.infolist()} == {zipfile.ZIP_STORED}


def test_the_manifest_says_what_each_encoding_sends_and_decodes_to():
    """static/pyodide-early.mjs scales decoded bytes to bytes as sent with these numbers (the
    progress bar, and the link's speed that picks the start path)."""
    written = json.loads((APP / MANIFEST).read_text())
    assert written == manifest(RUNTIME)
    wasm = written["pyodide.asm.wasm"]
    assert wasm["identity"] == [(RUNTIME / "pyodide.asm.wasm").stat().st_size] * 2
    assert wasm["br"] == [(RUNTIME / "pyodide.asm.wasm.br").stat().st_size, wasm["identity"][1]]
    snapshot = written[f"{APP_FOLDER}/{SNAPSHOT}"]
    assert snapshot["br"][1] == len(gzip.decompress((APP / SNAPSHOT).read_bytes()))
