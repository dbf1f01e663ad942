"""Arrows point one way: no import cycles, and backend/ imports nothing of app/ but app.wire."""

from __future__ import annotations

from tests.imports import cycles, import_graph

GRAPH = import_graph(["app", "backend"])


def test_no_import_cycles():
    assert cycles(GRAPH) == []


def test_the_cycle_check_finds_one():
    graph = {"app/wire/limits.py": {"app.wire.urls"}, "app/wire/urls.py": {"app.wire.limits"}}
    assert cycles(graph) == [["app.wire.limits", "app.wire.urls"]]


def test_backend_imports_only_the_wire_of_app():
    reached = {
        target
        for path, targets in GRAPH.items()
        if path.startswith("backend/")
        for target in targets
        if target.startswith("app")
    }
    assert reached and all(t == "app.wire" or t.startswith("app.wire.") for t in reached)


def test_the_wire_imports_nothing_of_ours_outside_it():
    for path, targets in GRAPH.items():
        if path.startswith("app/wire/"):
            assert all(
                t.startswith("app.wire") or not t.startswith(("app", "backend")) for t in targets
            ), path
