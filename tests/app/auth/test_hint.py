from __future__ import annotations

import json

import pytest

from app.auth.hint import decode, encode
from app.auth.model import Hint

NOW = 1_000_000.0


def test_round_trip():
    hint = Hint("ada", NOW + 60)
    assert decode(encode(hint), now=NOW) == hint


def test_hint_holds_no_secret():
    assert set(json.loads(encode(Hint("ada", NOW)))) == {"v", "user", "expires_at"}


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "not json",
        "[]",
        "null",
        '{"v": 2, "user": "ada", "expires_at": 2e6}',  # unknown version
        '{"v": 1, "user": "", "expires_at": 2e6}',
        '{"v": 1, "user": 7, "expires_at": 2e6}',
        '{"v": 1, "user": "ada", "expires_at": "soon"}',
        '{"v": 1, "user": "ada", "expires_at": true}',
        '{"v": 1, "user": "ada", "expires_at": NaN}',
        '{"v": 1, "user": "ada", "expires_at": 999999}',  # expired
        '{"v": 1, "user": "ada"}',
        json.dumps({"v": 1, "user": "a" * 300, "expires_at": 2e6}),
        "x" * 5000,
    ],
)
def test_malformed_tampered_or_expired_hints_count_as_none(raw):
    assert decode(raw, now=NOW) is None
