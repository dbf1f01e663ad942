"""The auth transition table, row by row: start state, event, expected state and effects."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.auth.model import (
    CancelRetry,
    ClearHint,
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
from app.auth.transition import transition

ADA = User("ada", 2_000_000_000.0)
HINT = Hint("ada", 2_000_000_000.0)
RESTORING = Snapshot()
VALIDATING = Snapshot(status=Status.RESTORING, remembered="ada", generation=1, validating=True)
ANON = Snapshot(status=Status.ANONYMOUS)
SIGNING_IN = Snapshot(status=Status.SIGNING_IN, generation=3)
SIGNED_IN = Snapshot(status=Status.AUTHENTICATED, user=ADA, generation=3)
UNREACHABLE = Snapshot(
    status=Status.UNREACHABLE,
    remembered="ada",
    reason=Reason.SERVER_UNREACHABLE,
    generation=1,
    attempt=1,
)


def test_restore_without_hint_is_anonymous_at_once_with_no_request():
    state, effects = transition(RESTORING, Restore(hint=None, now=0))
    assert state.status is Status.ANONYMOUS
    assert effects == [ClearHint()]


def test_restore_with_hint_sends_exactly_one_validation():
    state, effects = transition(RESTORING, Restore(hint=HINT, now=0))
    assert state == VALIDATING
    assert effects == [ValidateSession(generation=1)]


def test_a_second_restore_while_validating_changes_nothing():
    assert transition(VALIDATING, Restore(hint=HINT, now=0)) == (VALIDATING, [])


def test_validation_success_authenticates_and_refreshes_the_hint():
    state, effects = transition(VALIDATING, ValidationSucceeded(user=ADA, generation=1))
    assert state.status is Status.AUTHENTICATED and state.user == ADA
    assert state.remembered is None and not state.validating
    assert effects == [CancelRetry(), WriteHint(HINT)]


def test_validation_401_signs_out_and_clears_the_hint():
    state, effects = transition(VALIDATING, ValidationRejected(generation=1))
    assert state.status is Status.ANONYMOUS and state.reason is Reason.SESSION_EXPIRED
    assert state.user is None and state.remembered is None
    assert effects == [CancelRetry(), ClearHint()]


@pytest.mark.parametrize(
    ("server_error", "reason"),
    [(False, Reason.SERVER_UNREACHABLE), (True, Reason.SERVER_ERROR)],
)
def test_validation_network_failure_keeps_the_session(server_error, reason):
    state, effects = transition(
        VALIDATING, ValidationFailed(generation=1, server_error=server_error)
    )
    assert state.status is Status.UNREACHABLE and state.reason is reason
    assert state.remembered == "ada"  # not signed out
    assert effects == [ScheduleRetry(attempt=0)]
    assert ClearHint() not in effects


def test_retry_while_unreachable_sends_one_new_validation():
    state, effects = transition(UNREACHABLE, RetryNow())
    assert state.validating and state.generation == 2
    assert effects == [CancelRetry(), ValidateSession(generation=2)]
    # a second trigger (online event, button) while it is in flight does nothing
    assert transition(state, RetryNow()) == (state, [])


def test_repeated_failures_grow_the_backoff_attempt():
    state, _ = transition(UNREACHABLE, RetryNow())
    state, effects = transition(state, ValidationFailed(generation=2))
    assert state.attempt == 2 and effects == [ScheduleRetry(attempt=1)]


def test_recovery_from_unreachable():
    state, _ = transition(UNREACHABLE, RetryNow())
    state, effects = transition(state, ValidationSucceeded(user=ADA, generation=2))
    assert state.status is Status.AUTHENTICATED and state.attempt == 0
    assert effects == [CancelRetry(), WriteHint(HINT)]


@pytest.mark.parametrize(
    "event",
    [
        ValidationSucceeded(user=ADA, generation=0),
        ValidationRejected(generation=0),
        ValidationFailed(generation=0),
    ],
)
def test_stale_validation_answers_change_nothing(event):
    assert transition(VALIDATING, event) == (VALIDATING, [])


def test_sign_in_request_posts_credentials_with_a_new_generation():
    state, effects = transition(ANON, SignInRequested("ada", "pw-123456"))
    assert state.status is Status.SIGNING_IN and state.generation == 1
    assert effects == [PostLogin("ada", "pw-123456", 1)]


@pytest.mark.parametrize(
    ("name", "password"), [("", "x"), ("ada", ""), ("  ", "x"), ("a" * 257, "x")]
)
def test_unusable_sign_in_input_is_refused_without_a_request(name, password):
    state, effects = transition(ANON, SignInRequested(name, password))
    assert state.status is Status.ANONYMOUS and state.reason is Reason.BAD_INPUT
    assert effects == []


def test_password_never_appears_in_reprs():
    assert "hunter2" not in repr(SignInRequested("ada", "hunter2"))
    assert "hunter2" not in repr(PostLogin("ada", "hunter2", 1))


def test_sign_in_success():
    state, effects = transition(SIGNING_IN, SignInSucceeded(user=ADA, generation=3))
    assert state == replace(SIGNED_IN, generation=3)
    assert effects == [WriteHint(HINT)]


def test_sign_in_failure_reports_the_reason_and_wait():
    state, effects = transition(SIGNING_IN, SignInFailed(3, Reason.THROTTLED, 42.0))
    assert state.status is Status.ANONYMOUS
    assert (state.reason, state.retry_after) == (Reason.THROTTLED, 42.0)
    assert effects == []


def test_stale_sign_in_answer_is_ignored():
    assert transition(SIGNING_IN, SignInSucceeded(user=ADA, generation=2)) == (SIGNING_IN, [])


def test_sign_out_is_local_first():
    state, effects = transition(SIGNED_IN, SignOutRequested())
    assert state.status is Status.ANONYMOUS and state.user is None
    assert state.reason is Reason.SIGNED_OUT and state.generation == 4
    # commit anonymous (the state above), tear down, clear the hint, then tell the server
    assert effects == [TearDown(), ClearHint(), PostLogout()]


def test_sign_out_everywhere_is_local_first_too():
    state, effects = transition(SIGNED_IN, SignOutEverywhereRequested())
    assert state.status is Status.ANONYMOUS and state.user is None
    assert state.reason is Reason.SIGNED_OUT and state.generation == 4
    assert effects == [TearDown(), ClearHint(), PostLogoutAll(4)]


@pytest.mark.parametrize(
    ("ok", "reason"),
    [(True, Reason.SIGNED_OUT_EVERYWHERE), (False, Reason.SIGN_OUT_EVERYWHERE_FAILED)],
)
def test_the_answer_to_sign_out_everywhere_says_whether_it_worked(ok, reason):
    signed_out, _ = transition(SIGNED_IN, SignOutEverywhereRequested())
    state, effects = transition(signed_out, SignedOutEverywhere(4, ok=ok))
    assert state == replace(signed_out, reason=reason) and effects == []


def test_a_late_answer_to_sign_out_everywhere_changes_nothing():
    signed_out, _ = transition(SIGNED_IN, SignOutEverywhereRequested())
    assert transition(signed_out, SignedOutEverywhere(3, ok=False)) == (signed_out, [])
    # the user already tried to sign in again: their error stays
    late = SignedOutEverywhere(4, ok=True)
    retried = replace(signed_out, reason=Reason.INVALID_CREDENTIALS)
    assert transition(retried, late) == (retried, [])


def test_sign_out_while_unreachable():
    state, effects = transition(UNREACHABLE, SignOutRequested())
    assert state.status is Status.ANONYMOUS
    assert effects == [CancelRetry(), TearDown(), ClearHint(), PostLogout()]


def test_session_ended_elsewhere_signs_out_without_a_logout_request():
    state, effects = transition(SIGNED_IN, SessionEnded())
    assert state.status is Status.ANONYMOUS and state.reason is Reason.SESSION_EXPIRED
    assert effects == [TearDown(), ClearHint()]


def test_other_tab_signing_out_is_followed_without_a_request():
    state, effects = transition(SIGNED_IN, HintChanged(hint=None, now=0))
    assert state.status is Status.ANONYMOUS
    assert effects == [CancelRetry(), TearDown()]


def test_other_tab_signing_out_during_restore_discards_the_validation():
    state, effects = transition(VALIDATING, HintChanged(hint=None, now=0))
    assert state.status is Status.ANONYMOUS and state.generation == 2
    assert effects == [CancelRetry()]
    # the answer to the abandoned validation arrives late: nothing happens
    assert transition(state, ValidationSucceeded(user=ADA, generation=1)) == (state, [])


@pytest.mark.parametrize("start", [ANON, SIGNING_IN, UNREACHABLE])
def test_other_tab_signing_in_is_followed_without_a_request(start):
    state, effects = transition(start, HintChanged(hint=HINT, now=0))
    assert state.status is Status.AUTHENTICATED and state.user == ADA
    assert effects == [CancelRetry()]


def test_other_tab_signing_in_as_someone_else_tears_down_first():
    state, effects = transition(SIGNED_IN, HintChanged(hint=Hint("bob", 3e9), now=0))
    assert state.user == User("bob", 3e9)
    assert effects == [TearDown()]


def test_same_user_hint_refresh_only_updates_expiry():
    state, effects = transition(SIGNED_IN, HintChanged(hint=Hint("ada", 3e9), now=0))
    assert state.user == User("ada", 3e9) and effects == []


@pytest.mark.parametrize(
    ("start", "event"),
    [
        (ANON, SignOutRequested()),
        (ANON, SignOutEverywhereRequested()),
        (UNREACHABLE, SignOutEverywhereRequested()),
        (SIGNED_IN, SignedOutEverywhere(3, ok=True)),
        (ANON, SessionEnded()),
        (ANON, RetryNow()),
        (SIGNED_IN, SignInRequested("x", "y")),
        (SIGNED_IN, RetryNow()),
        (SIGNED_IN, Restore(hint=None, now=0)),
        (SIGNING_IN, SignOutRequested()),
        (RESTORING, SignInRequested("x", "y")),
    ],
)
def test_events_not_in_the_table_change_nothing(start, event):
    assert transition(start, event) == (start, [])
