"""Every runnable example in a docstring stays true: each module of ours that shows one."""

from __future__ import annotations

import doctest
import importlib

import pytest

from tests.imports import ROOT, module_name

WITH_EXAMPLES = sorted(
    module_name(str(path.relative_to(ROOT)))
    for folder in ("app", "backend")
    for path in (ROOT / folder).rglob("*.py")
    if ">>>" in path.read_text() and not str(path.relative_to(ROOT)).startswith("app/browser/")
)


def test_the_examples_are_found():
    assert {"app.auth.transition", "app.chat.session", "app.wire.frames"} <= set(WITH_EXAMPLES)


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
