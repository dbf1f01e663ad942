"""Upstream headers: parsed strictly, merged (flags win), never shown."""

from __future__ import annotations

import pytest

from backend.relay.headers import HeaderRefused, UpstreamHeaders, parse_headers

SECRET = "Bearer sk-very-secret-42"


def test_flags_and_environment_merge_and_flags_win():
    headers = parse_headers(
        ["authorization: " + SECRET, "X-Team: red"],
        "Authorization: Bearer from-env\nX-Api-Key: env-key\n\n",
    )
    assert headers.as_dict() == {
        "X-Api-Key": "env-key",
        "authorization": SECRET,
        "X-Team": "red",
    }


def test_the_value_is_not_in_the_repr():
    headers = parse_headers(["Authorization: " + SECRET], None)
    assert "secret" not in repr(headers) and "Authorization" in repr(headers)


@pytest.mark.parametrize(
    "line",
    [
        "Authorization " + SECRET,  # no colon
        "Bad Name: " + SECRET,  # a space in the name
        ": " + SECRET,
        "X-Key:",  # no value
        "X-Key: " + SECRET + "\x00",
        "Content-Type: " + SECRET,  # the relay sets it
        "Host: " + SECRET,
    ],
)
def test_a_refusal_names_the_problem_and_never_the_value(line):
    with pytest.raises(HeaderRefused) as refused:
        parse_headers([line], None)
    assert "secret" not in str(refused.value)


def test_a_bad_environment_line_says_where_it_came_from():
    with pytest.raises(HeaderRefused, match="PYCHAT_AGENT_HEADERS"):
        parse_headers([], "X-Key " + SECRET)


def test_equal_headers_compare_equal():
    assert UpstreamHeaders([("A", "1")]) == UpstreamHeaders([("a", "2"), ("A", "1")])
