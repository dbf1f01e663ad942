"""What MainLayout shows for a snapshot, decided without touching the DOM.

The shell renders a :class:`View` and nothing else, so "protected content never appears while
restoring" and "the sign-in view never flashes during a successful restore" are properties of
:func:`view_for`, tested under CPython::

    >>> from app.auth.model import Snapshot
    >>> view_for(Snapshot()).screen
    <Screen.SKELETON: 'skeleton'>
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from app.auth.model import Reason, Snapshot, Status
from app.wire.limits import MAX_FIELD


class Screen(StrEnum):
    SKELETON = "skeleton"  # restoring: neutral placeholder, neither sign-in nor content
    SIGN_IN = "sign-in"
    SIGNED_IN = "signed-in"
    UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class View:
    screen: Screen
    auth: str  # value for <body data-auth>
    user_name: str | None = None  # shown in the header (only when signed in)
    busy: bool = False  # sign-in form disabled and showing progress
    error: str | None = None  # for #login-error (role=alert)
    notice: str | None = None  # a polite status line (signed out, unreachable details)
    mount_chat: bool = False  # the chat panel may be mounted


_ERRORS = {
    Reason.INVALID_CREDENTIALS: "Wrong user name or password.",
    Reason.BAD_INPUT: (f"Enter a user name and a password (at most {MAX_FIELD} characters each)."),
    Reason.SERVER_UNREACHABLE: "Can't reach the server. Check your connection and try again.",
    Reason.SERVER_ERROR: "The server had a problem. Try again in a moment.",
    Reason.UNAVAILABLE: "The service is briefly unavailable. Try again in a few seconds.",
    Reason.SIGN_OUT_EVERYWHERE_FAILED: (
        "You have signed out here, but the server could not sign out your other devices."
        " Sign in and try again."
    ),
}

_NOTICES = {
    Reason.SIGNED_OUT: "You have signed out.",
    Reason.SIGNED_OUT_EVERYWHERE: "You have signed out on every device.",
    Reason.SESSION_EXPIRED: "Your session has ended. Please sign in again.",
}


def throttled_message(retry_after: float | None) -> str:
    if retry_after is None or not retry_after > 0:
        return "Too many sign-in attempts. Wait a moment and try again."
    seconds = math.ceil(retry_after)
    unit = "second" if seconds == 1 else "seconds"
    return f"Too many sign-in attempts. Try again in {seconds} {unit}."


def view_for(snapshot: Snapshot) -> View:
    status = snapshot.status
    if status is Status.RESTORING:
        return View(Screen.SKELETON, auth=status.value)
    if status is Status.AUTHENTICATED and snapshot.user is not None:
        return View(
            Screen.SIGNED_IN, auth=status.value, user_name=snapshot.user.name, mount_chat=True
        )
    if status is Status.UNREACHABLE:
        who = f" Your session as {snapshot.remembered} is kept." if snapshot.remembered else ""
        problem = _ERRORS.get(snapshot.reason, _ERRORS[Reason.SERVER_UNREACHABLE])
        return View(Screen.UNREACHABLE, auth=status.value, notice=f"{problem}{who}")
    if status is Status.SIGNING_IN:
        return View(Screen.SIGN_IN, auth=status.value, busy=True)
    # anonymous
    if snapshot.reason is Reason.THROTTLED:
        error: str | None = throttled_message(snapshot.retry_after)
    else:
        error = _ERRORS.get(snapshot.reason)
    return View(
        Screen.SIGN_IN,
        auth=Status.ANONYMOUS.value,
        error=error,
        notice=_NOTICES.get(snapshot.reason),
    )


def countdown(seconds_left: float) -> str:
    """The unreachable view's retry line, refreshed once a second.

    >>> countdown(4.4), countdown(0.2)
    ('Retrying in 4 s…', 'Retrying…')
    """
    left = max(0, round(seconds_left))
    return f"Retrying in {left} s…" if left else "Retrying…"
