"""The whole sign-in lifecycle as one pure function.

Every allowed (status, event) pair is one ``case`` below; anything else returns the state
unchanged with no effects, and the store logs it.  Answers to requests carry the generation
they were started with, so a late answer to an abandoned request can never move the state::

    >>> s, fx = transition(Snapshot(), Restore(hint=None, now=0.0))
    >>> s.status, fx
    (<Status.ANONYMOUS: 'anonymous'>, [ClearHint()])
"""

from __future__ import annotations

from dataclasses import replace

from app.auth.model import (
    CancelRetry,
    ClearHint,
    Effect,
    Event,
    Hint,
    HintChanged,
    PostLogin,
    PostLogout,
    PostLogoutAll,
    Reason,
    Restore,
    RetryNow,
    ScheduleRetry,
    SessionEnded,
    SignedOutEverywhere,
    SignInFailed,
    SignInRequested,
    SignInSucceeded,
    SignOutEverywhereRequested,
    SignOutRequested,
    Snapshot,
    Status,
    TearDown,
    User,
    ValidateSession,
    ValidationFailed,
    ValidationRejected,
    ValidationSucceeded,
    WriteHint,
)
from app.wire.limits import MAX_FIELD

Result = tuple[Snapshot, list[Effect]]

R, A, S, U, X = (
    Status.RESTORING,
    Status.ANONYMOUS,
    Status.SIGNING_IN,
    Status.UNREACHABLE,
    Status.AUTHENTICATED,
)


def _anonymous(state: Snapshot, reason: Reason, **changes: object) -> Snapshot:
    cleared: dict[str, object] = {
        "status": A,
        "user": None,
        "remembered": None,
        "reason": reason,
        "validating": False,
        "attempt": 0,
        "retry_after": None,
    }
    return replace(state, **{**cleared, **changes})


def _authenticated(state: Snapshot, user: User, **changes: object) -> Snapshot:
    return replace(
        state,
        status=X,
        user=user,
        remembered=None,
        reason=Reason.NONE,
        validating=False,
        attempt=0,
        retry_after=None,
        **changes,
    )


def _hint_for(user: User) -> Hint:
    return Hint(user=user.name, expires_at=user.expires_at)


def _user_from(hint: Hint) -> User:
    return User(name=hint.user, expires_at=hint.expires_at)


def _acceptable(field: str) -> bool:
    """The server's own limits, checked first so an empty form costs no request."""
    return bool(field.strip()) and len(field) <= MAX_FIELD


def transition(state: Snapshot, event: Event) -> Result:
    """Return the next snapshot and the effects the shell must perform, in order."""
    gen = state.generation
    match state.status, event:
        # ---- restore: one storage read, then zero or one validation request
        case Status.RESTORING, Restore(hint=None) if not state.validating:
            return _anonymous(state, Reason.NONE), [ClearHint()]
        case Status.RESTORING, Restore(hint=Hint() as hint) if not state.validating:
            nxt = replace(state, remembered=hint.user, generation=gen + 1, validating=True)
            return nxt, [ValidateSession(gen + 1)]

        # ---- answers to a validation (from restoring or from a retry while unreachable)
        case (
            (Status.RESTORING | Status.UNREACHABLE),
            ValidationSucceeded(user=user, generation=g),
        ) if g == gen and state.validating:
            return _authenticated(state, user), [CancelRetry(), WriteHint(_hint_for(user))]
        case ((Status.RESTORING | Status.UNREACHABLE), ValidationRejected(generation=g)) if (
            g == gen and state.validating
        ):
            return _anonymous(state, Reason.SESSION_EXPIRED), [CancelRetry(), ClearHint()]
        case (
            (Status.RESTORING | Status.UNREACHABLE),
            ValidationFailed(generation=g, server_error=server_error),
        ) if g == gen and state.validating:
            reason = Reason.SERVER_ERROR if server_error else Reason.SERVER_UNREACHABLE
            nxt = replace(
                state, status=U, reason=reason, validating=False, attempt=state.attempt + 1
            )
            return nxt, [ScheduleRetry(attempt=state.attempt)]

        # ---- unreachable: keep the session, retry on a timer, on `online`, or on demand
        case Status.UNREACHABLE, RetryNow() if not state.validating:
            nxt = replace(state, generation=gen + 1, validating=True)
            return nxt, [CancelRetry(), ValidateSession(gen + 1)]
        case Status.UNREACHABLE, SignOutRequested():
            nxt = _anonymous(state, Reason.SIGNED_OUT, generation=gen + 1)
            return nxt, [CancelRetry(), TearDown(), ClearHint(), PostLogout()]

        # ---- sign-in
        case Status.ANONYMOUS, SignInRequested(username=name, password=password) if not (
            _acceptable(name) and _acceptable(password)
        ):
            return replace(state, reason=Reason.BAD_INPUT, retry_after=None), []
        case Status.ANONYMOUS, SignInRequested(username=name, password=password):
            nxt = replace(state, status=S, reason=Reason.NONE, retry_after=None, generation=gen + 1)
            return nxt, [PostLogin(name, password, gen + 1)]
        case Status.SIGNING_IN, SignInSucceeded(user=user, generation=g) if g == gen:
            return _authenticated(state, user), [WriteHint(_hint_for(user))]
        case Status.SIGNING_IN, SignInFailed(
            generation=g, reason=reason, retry_after=retry_after
        ) if g == gen:
            return _anonymous(state, reason, retry_after=retry_after), []

        # ---- signed in: local-first sign-out, or the server says the session is over
        case Status.AUTHENTICATED, SignOutRequested():
            nxt = _anonymous(state, Reason.SIGNED_OUT, generation=gen + 1)
            return nxt, [TearDown(), ClearHint(), PostLogout()]
        case Status.AUTHENTICATED, SignOutEverywhereRequested():
            # Local-first as well; the answer only changes what the sign-in view says.
            nxt = _anonymous(state, Reason.SIGNED_OUT, generation=gen + 1)
            return nxt, [TearDown(), ClearHint(), PostLogoutAll(gen + 1)]
        case Status.ANONYMOUS, SignedOutEverywhere(generation=g, ok=ok) if (
            g == gen and state.reason is Reason.SIGNED_OUT
        ):
            reason = Reason.SIGNED_OUT_EVERYWHERE if ok else Reason.SIGN_OUT_EVERYWHERE_FAILED
            return replace(state, reason=reason), []
        case Status.AUTHENTICATED, SessionEnded():
            nxt = _anonymous(state, Reason.SESSION_EXPIRED, generation=gen + 1)
            return nxt, [TearDown(), ClearHint()]

        # ---- another tab changed the hint: follow it without a request
        case (
            (Status.RESTORING | Status.UNREACHABLE | Status.AUTHENTICATED),
            HintChanged(hint=None),
        ):
            nxt = _anonymous(state, Reason.SIGNED_OUT, generation=gen + 1)
            teardown: list[Effect] = [TearDown()] if state.status is X else []
            return nxt, [CancelRetry(), *teardown]
        case (
            (Status.ANONYMOUS | Status.SIGNING_IN | Status.UNREACHABLE),
            HintChanged(hint=Hint() as hint),
        ):
            return _authenticated(state, _user_from(hint), generation=gen + 1), [CancelRetry()]
        case Status.AUTHENTICATED, HintChanged(hint=Hint() as hint) if state.user is not None:
            if hint.user == state.user.name:
                return replace(state, user=_user_from(hint)), []
            # Another tab signed in as someone else: drop everything of the old user first.
            return _authenticated(state, _user_from(hint), generation=gen + 1), [TearDown()]

    return state, []
