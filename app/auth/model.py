"""The sign-in vocabulary: statuses, the snapshot, the events that drive it and its effects.

The snapshot is frozen, so a subscriber can keep the one it was handed and compare it with the
next.  Events are what the outside world reports (a response arrived, a tab signed out); effects
are what the core asks the shell to do (send a request, write the hint).  Neither carries
behaviour, so both print well in logs and compare equal in tests::

    >>> Snapshot(status=Status.RESTORING).user is None
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Status(StrEnum):
    """The one status.  ``anonymous`` and ``authenticated`` are the settled ones."""

    RESTORING = "restoring"  # page just started; hint read, validation maybe in flight
    ANONYMOUS = "anonymous"  # nobody signed in (sign-in view)
    SIGNING_IN = "signing_in"  # credentials sent, waiting for the server
    AUTHENTICATED = "authenticated"  # server confirmed the session
    UNREACHABLE = "unreachable"  # a session may exist but the server could not confirm it


class Reason(StrEnum):
    """Why the snapshot is where it is; the layout turns these into words."""

    NONE = ""
    SIGNED_OUT = "signed_out"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"  # the server ended every session
    SIGN_OUT_EVERYWHERE_FAILED = "sign_out_everywhere_failed"  # signed out here only
    SESSION_EXPIRED = "session_expired"
    INVALID_CREDENTIALS = "invalid_credentials"
    THROTTLED = "throttled"
    BAD_INPUT = "bad_input"
    SERVER_UNREACHABLE = "server_unreachable"
    SERVER_ERROR = "server_error"
    UNAVAILABLE = "unavailable"  # 503: busy, or its storage is briefly unreachable


@dataclass(frozen=True)
class User:
    name: str
    expires_at: float  # absolute session expiry, seconds since the epoch


@dataclass(frozen=True)
class Snapshot:
    """Everything the page knows about sign-in, as one value.

    Invariants (checked by property tests): ``user`` is set if and only if the status is
    ``authenticated``; ``validating`` is true for at most one request at a time.
    """

    status: Status = Status.RESTORING
    user: User | None = None
    reason: Reason = Reason.NONE
    # Name from the hint while a session is being (re)validated: shown, never trusted.
    remembered: str | None = None
    # Bumped whenever a new request starts or the user changes; stale answers carry an old one.
    generation: int = 0
    validating: bool = False
    # Consecutive failed validations while unreachable; drives the retry backoff.
    attempt: int = 0
    retry_after: float | None = None  # seconds, from a 429 or the backoff


# ---------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class Restore:
    """The page started; ``hint`` is what the one synchronous storage read found."""

    hint: Hint | None
    now: float


@dataclass(frozen=True)
class ValidationSucceeded:
    user: User
    generation: int


@dataclass(frozen=True)
class ValidationRejected:
    """The server answered 401 or 403: the session is gone."""

    generation: int


@dataclass(frozen=True)
class ValidationFailed:
    """Network error, timeout or 5xx: we do not know, so nobody is signed out."""

    generation: int
    server_error: bool = False


@dataclass(frozen=True)
class RetryNow:
    """The retry timer fired, the browser came online, or the user pressed retry."""


@dataclass(frozen=True)
class SignInRequested:
    username: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class SignInSucceeded:
    user: User
    generation: int


@dataclass(frozen=True)
class SignInFailed:
    generation: int
    reason: Reason
    retry_after: float | None = None


@dataclass(frozen=True)
class SignOutRequested:
    pass


@dataclass(frozen=True)
class SignOutEverywhereRequested:
    """End every session of the user, on every device (this one first, locally)."""


@dataclass(frozen=True)
class SignedOutEverywhere:
    """The server's answer to :class:`PostLogoutAll`: ``ok`` when every session ended."""

    generation: int
    ok: bool


@dataclass(frozen=True)
class SessionEnded:
    """Something other than validation learned the session is gone (a 401, a 4401 close)."""


@dataclass(frozen=True)
class HintChanged:
    """Another tab wrote or cleared the hint (the ``storage`` event)."""

    hint: Hint | None
    now: float


Event = (
    Restore
    | ValidationSucceeded
    | ValidationRejected
    | ValidationFailed
    | RetryNow
    | SignInRequested
    | SignInSucceeded
    | SignInFailed
    | SignOutRequested
    | SignOutEverywhereRequested
    | SignedOutEverywhere
    | SessionEnded
    | HintChanged
)


# --------------------------------------------------------------------------------- effects


@dataclass(frozen=True)
class ValidateSession:
    """``GET /api/auth/session`` once; answer with a Validation* event carrying ``generation``."""

    generation: int


@dataclass(frozen=True)
class PostLogin:
    username: str
    password: str = field(repr=False)
    generation: int = 0


@dataclass(frozen=True)
class PostLogout:
    pass


@dataclass(frozen=True)
class PostLogoutAll:
    """``POST /api/auth/logout-all``; answer with :class:`SignedOutEverywhere`."""

    generation: int


@dataclass(frozen=True)
class WriteHint:
    hint: Hint


@dataclass(frozen=True)
class ClearHint:
    pass


@dataclass(frozen=True)
class ScheduleRetry:
    """Call back with :class:`RetryNow` after a backoff delay for the ``attempt``-th retry
    (replacing any earlier timer).  The shell draws the delay: randomness stays out of here."""

    attempt: int


@dataclass(frozen=True)
class CancelRetry:
    pass


@dataclass(frozen=True)
class TearDown:
    """Close sockets, drop queued messages, unmount signed-in UI: the user is leaving."""


Effect = (
    ValidateSession
    | PostLogin
    | PostLogout
    | PostLogoutAll
    | WriteHint
    | ClearHint
    | ScheduleRetry
    | CancelRetry
    | TearDown
)


@dataclass(frozen=True)
class Hint:
    """The non-secret note in localStorage that lets the first frame decide without a request."""

    user: str
    expires_at: float
