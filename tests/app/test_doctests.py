"""The runnable examples in the core modules' docstrings stay true."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "app.auth.hint",
    "app.auth.transition",
    "app.auth.store",
    "app.auth.api",
    "app.auth.model",
    "app.net.backoff",
    "app.ui.layout",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0
    assert result.attempted > 0
