"""Benchmarks are not run in the test suite (no timed assertions), but they must keep working:
each one parses under the project's oldest Python and documents its command."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BENCH = sorted(
    p
    for p in (Path(__file__).resolve().parent.parent / "bench").glob("*.py")
    if p.stem != "__init__"
)


@pytest.mark.parametrize("script", BENCH, ids=lambda p: p.name)
def test_bench_script_parses_and_says_how_to_run_it(script):
    tree = ast.parse(script.read_text(), feature_version=(3, 11))
    doc = ast.get_docstring(tree)
    assert doc and f"bench/{script.name}" in doc
