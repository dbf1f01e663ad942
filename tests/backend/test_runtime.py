"""The prepared runtime: the memory snapshot the page starts from belongs to the pinned build."""

from __future__ import annotations

import gzip
import re
import struct

from backend.config import ROOT
from backend.runtime import SNAPSHOT, versions

RUNTIME = ROOT / "vendor" / "pyodide" / versions()["pyodide"]


def build_id_of_served_pyodide() -> str:
    match = re.search(r'BUILD_ID:"([0-9a-f]{64})"', (RUNTIME / "pyodide.mjs").read_text())
    assert match, "pyodide.mjs no longer names its build id where this test looks"
    return match.group(1)


def test_the_snapshot_was_made_by_the_served_build():
    """Pyodide refuses a snapshot of another build (the page then starts without it, ~1.5 s
    slower); a stale one would only show up as a slow page, so set-up must remake it."""
    with gzip.open(RUNTIME / SNAPSHOT) as snapshot:
        header = snapshot.read(48)
    magic, _offset, _size, _reserved, *words = struct.unpack("<12I", header)
    assert magic == 0x706E7300  # Pyodide's snapshot magic number
    assert "".join(f"{word:08x}" for word in words) == build_id_of_served_pyodide()


def test_the_snapshot_travels_gzipped_and_alone():
    """The page inflates it itself; a 30 MiB raw copy or a br/gz sibling that a server would
    send with Content-Encoding (the page would then inflate it twice) must not be there."""
    assert (RUNTIME / SNAPSHOT).stat().st_size < 10 * 1024 * 1024
    assert not (RUNTIME / "snapshot.bin").exists()
    assert sorted(p.name for p in RUNTIME.glob("snapshot*")) == [SNAPSHOT]
