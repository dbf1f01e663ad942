from __future__ import annotations

import pytest

from app.auth.api import (
    login_event,
    logout_all_event,
    parse_retry_after,
    session_user,
    validation_event,
)
from app.auth.model import (
    Reason,
    SignedOutEverywhere,
    SignInFailed,
    SignInSucceeded,
    User,
    ValidationFailed,
    ValidationRejected,
    ValidationSucceeded,
)

BODY = {"user": {"name": "ada"}, "expires_at": "2030-01-01T00:00:00Z"}
ADA = User("ada", 1_893_456_000.0)


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {},
        {"user": "ada", "expires_at": "2030-01-01T00:00:00Z"},
        {"user": {"name": ""}, "expires_at": "2030-01-01T00:00:00Z"},
        {"user": {"name": "ada"}, "expires_at": "tomorrow"},
        {"user": {"name": "ada"}, "expires_at": "2030-01-01T00:00:00"},  # no zone
        {"user": {"name": "ada"}, "expires_at": 1893456000},
    ],
)
def test_bodies_that_are_not_sessions(body):
    assert session_user(body) is None


def test_session_body():
    assert session_user(BODY) == ADA


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, BODY, ValidationSucceeded(ADA, 4)),
        (200, {"oops": 1}, ValidationFailed(4, server_error=True)),
        (401, None, ValidationRejected(4)),
        (403, None, ValidationRejected(4)),
        (500, None, ValidationFailed(4, server_error=True)),
        (502, None, ValidationFailed(4, server_error=True)),
        (None, None, ValidationFailed(4, server_error=False)),
    ],
)
def test_only_401_and_403_sign_out(status, body, expected):
    assert validation_event(status, body, 4) == expected


@pytest.mark.parametrize(
    ("status", "retry_after", "expected"),
    [
        (200, None, SignInSucceeded(ADA, 2)),
        (401, None, SignInFailed(2, Reason.INVALID_CREDENTIALS)),
        (429, "30", SignInFailed(2, Reason.THROTTLED, 30.0)),
        (429, None, SignInFailed(2, Reason.THROTTLED, None)),
        (422, None, SignInFailed(2, Reason.BAD_INPUT)),
        (503, "1", SignInFailed(2, Reason.UNAVAILABLE, 1.0)),
        (500, None, SignInFailed(2, Reason.SERVER_ERROR)),
        (None, None, SignInFailed(2, Reason.SERVER_UNREACHABLE)),
    ],
)
def test_login_answers(status, retry_after, expected):
    assert login_event(status, BODY, 2, retry_after) == expected


@pytest.mark.parametrize(
    ("raw", "value"), [("5", 5.0), ("0", 0.0), ("-1", None), ("x", None), (None, None), ("", None)]
)
def test_retry_after(raw, value):
    assert parse_retry_after(raw) == value


def test_a_200_without_a_session_body_is_a_server_error_not_a_sign_in():
    assert login_event(200, {"user": {}}, 2) == SignInFailed(2, Reason.SERVER_ERROR)


@pytest.mark.parametrize(
    ("status", "ok"), [(204, True), (None, False), (401, False), (503, False), (200, False)]
)
def test_only_a_204_means_signed_out_everywhere(status, ok):
    assert logout_all_event(status, 7) == SignedOutEverywhere(7, ok=ok)
