"""Parsing what the sign-in endpoints answer, and mapping statuses to auth events.

Pure functions over plain values (status code, decoded JSON), so the browser shell only moves
bytes and every decision about a response is tested under CPython::

    >>> session_user({"user": {"name": "ada"}, "expires_at": "2030-01-01T00:00:00Z"})
    User(name='ada', expires_at=1893456000.0)
"""

from __future__ import annotations

from datetime import datetime

from app.auth.model import (
    Event,
    Reason,
    SignedOutEverywhere,
    SignInFailed,
    SignInSucceeded,
    User,
    ValidationFailed,
    ValidationRejected,
    ValidationSucceeded,
)


def session_user(data: object) -> User | None:
    """The user from a ``{user: {name}, expires_at}`` body, or ``None`` if it is not one."""
    if not isinstance(data, dict):
        return None
    user, expires_at = data.get("user"), data.get("expires_at")
    name = user.get("name") if isinstance(user, dict) else None
    if not isinstance(name, str) or not name or not isinstance(expires_at, str):
        return None
    try:
        moment = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return User(name=name, expires_at=moment.timestamp())


def validation_event(status: int | None, data: object, generation: int) -> Event:
    """``status`` is ``None`` when the request never got an answer (network error, timeout)."""
    if status == 200:
        user = session_user(data)
        if user is not None:
            return ValidationSucceeded(user=user, generation=generation)
        return ValidationFailed(generation=generation, server_error=True)
    if status in (401, 403):
        return ValidationRejected(generation=generation)
    return ValidationFailed(generation=generation, server_error=status is not None)


def parse_retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def login_event(
    status: int | None, data: object, generation: int, retry_after: str | None = None
) -> Event:
    if status == 200:
        user = session_user(data)
        if user is not None:
            return SignInSucceeded(user=user, generation=generation)
        return SignInFailed(generation, Reason.SERVER_ERROR)
    if status == 401:
        return SignInFailed(generation, Reason.INVALID_CREDENTIALS)
    if status == 429:
        return SignInFailed(generation, Reason.THROTTLED, parse_retry_after(retry_after))
    if status is None:
        return SignInFailed(generation, Reason.SERVER_UNREACHABLE)
    if status == 503:
        return SignInFailed(generation, Reason.UNAVAILABLE, parse_retry_after(retry_after))
    if 400 <= status < 500:
        return SignInFailed(generation, Reason.BAD_INPUT)
    return SignInFailed(generation, Reason.SERVER_ERROR)


def logout_all_event(status: int | None, generation: int) -> SignedOutEverywhere:
    """Only a 204 means every session ended; anything else (no answer, 401, 5xx) did not.

    >>> logout_all_event(204, 3), logout_all_event(None, 3).ok
    (SignedOutEverywhere(generation=3, ok=True), False)
    """
    return SignedOutEverywhere(generation=generation, ok=status == 204)
