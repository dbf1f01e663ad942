from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.auth.model import Reason, Snapshot, Status, User
from app.ui.layout import Screen, view_for

ADA = User("ada", 2e9)


def test_restoring_shows_only_the_skeleton():
    view = view_for(Snapshot(status=Status.RESTORING, remembered="ada", validating=True))
    assert view.screen is Screen.SKELETON
    assert view.user_name is None and not view.mount_chat


def test_signed_in():
    view = view_for(Snapshot(status=Status.AUTHENTICATED, user=ADA))
    assert (view.screen, view.auth, view.user_name, view.mount_chat) == (
        Screen.SIGNED_IN,
        "authenticated",
        "ada",
        True,
    )


def test_unreachable_keeps_the_session_and_says_so():
    view = view_for(
        Snapshot(status=Status.UNREACHABLE, remembered="ada", reason=Reason.SERVER_UNREACHABLE)
    )
    assert view.screen is Screen.UNREACHABLE and view.auth == "unreachable"
    assert "ada" in view.notice and not view.mount_chat


def test_signing_in_is_busy_on_the_sign_in_screen():
    view = view_for(Snapshot(status=Status.SIGNING_IN))
    assert view.screen is Screen.SIGN_IN and view.busy and view.auth == "signing_in"


def test_throttled_error_says_how_long():
    view = view_for(Snapshot(status=Status.ANONYMOUS, reason=Reason.THROTTLED, retry_after=30))
    assert view.error == "Too many sign-in attempts. Try again in 30 seconds."


def test_wrong_password_error():
    view = view_for(Snapshot(status=Status.ANONYMOUS, reason=Reason.INVALID_CREDENTIALS))
    assert view.error == "Wrong user name or password." and view.notice is None


def test_an_unavailable_service_says_it_is_brief():
    view = view_for(Snapshot(status=Status.ANONYMOUS, reason=Reason.UNAVAILABLE))
    assert view.error == "The service is briefly unavailable. Try again in a few seconds."


def test_every_sign_in_failure_has_words():
    settled = {Reason.SIGNED_OUT, Reason.SIGNED_OUT_EVERYWHERE, Reason.SESSION_EXPIRED}
    failures = set(Reason) - {Reason.NONE, *settled}
    for reason in failures:
        view = view_for(Snapshot(status=Status.ANONYMOUS, reason=reason, retry_after=5))
        assert view.error, reason


def test_signing_out_everywhere_says_whether_the_other_devices_are_signed_out_too():
    done = view_for(Snapshot(status=Status.ANONYMOUS, reason=Reason.SIGNED_OUT_EVERYWHERE))
    assert done.error is None and done.notice == "You have signed out on every device."
    failed = view_for(Snapshot(status=Status.ANONYMOUS, reason=Reason.SIGN_OUT_EVERYWHERE_FAILED))
    assert failed.error is not None and "other devices" in failed.error


def test_expired_session_notice():
    view = view_for(Snapshot(status=Status.ANONYMOUS, reason=Reason.SESSION_EXPIRED))
    assert view.error is None and "ended" in view.notice


@given(
    status=st.sampled_from(Status),
    reason=st.sampled_from(Reason),
    user=st.one_of(st.none(), st.just(ADA)),
)
def test_protected_content_only_when_authenticated(status, reason, user):
    view = view_for(Snapshot(status=status, reason=reason, user=user))
    signed_in = status is Status.AUTHENTICATED and user is not None
    assert (view.screen is Screen.SIGNED_IN) == signed_in
    assert view.mount_chat == signed_in
    assert (view.user_name is not None) == signed_in
    if status is Status.RESTORING:
        assert view.screen is Screen.SKELETON  # never the sign-in view while restoring
