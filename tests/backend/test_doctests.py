"""The runnable examples in the server modules' docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "backend.protocol",
    "backend.run_wire",
    "backend.relay.sse",
    "backend.relay.events",
    "backend.relay.projection",
    "backend.relay.headers",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0
