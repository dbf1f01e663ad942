from __future__ import annotations

from app.auth.model import (
    ClearHint,
    Hint,
    HintChanged,
    Restore,
    SignOutRequested,
    Status,
    User,
    ValidateSession,
    ValidationSucceeded,
)
from app.auth.store import AuthStore

HINT = Hint("ada", 2e9)
ADA = User("ada", 2e9)


def test_subscriber_gets_current_snapshot_then_each_change_once():
    store = AuthStore(run_effect=lambda effect: None)
    seen = []
    store.subscribe(lambda snap: seen.append(snap.status))
    store.dispatch(Restore(hint=HINT, now=0))  # restoring -> restoring (validating): a change
    store.dispatch(ValidationSucceeded(ADA, 1))
    store.dispatch(ValidationSucceeded(ADA, 1))  # ignored: no second notification
    assert seen == [Status.RESTORING, Status.RESTORING, Status.AUTHENTICATED]


def test_effects_run_after_subscribers_saw_the_new_state():
    order = []
    store = AuthStore(run_effect=lambda effect: order.append(("effect", effect)))
    store.subscribe(lambda snap: order.append(("state", snap.status)))
    store.dispatch(Restore(hint=None, now=0))
    assert order == [
        ("state", Status.RESTORING),
        ("state", Status.ANONYMOUS),
        ("effect", ClearHint()),
    ]


def test_dispatch_from_inside_a_subscriber_is_queued_not_reentered():
    store = AuthStore(run_effect=lambda effect: None)
    log_a, log_b = [], []

    def a(snap):
        log_a.append(snap.status)
        if snap.status is Status.AUTHENTICATED:
            store.dispatch(SignOutRequested())  # re-entrant dispatch

    store.subscribe(a)
    store.subscribe(lambda snap: log_b.append(snap.status))
    store.dispatch(Restore(hint=HINT, now=0))
    store.dispatch(ValidationSucceeded(ADA, 1))
    # Both subscribers saw the same sequence, in the same order, with nothing skipped.
    assert log_a == log_b
    assert log_a[-2:] == [Status.AUTHENTICATED, Status.ANONYMOUS]


def test_effect_that_dispatches_is_queued_too():
    store: AuthStore

    def run(effect):
        if isinstance(effect, ValidateSession):
            store.dispatch(ValidationSucceeded(ADA, effect.generation))

    store = AuthStore(run_effect=run)
    seen = []
    store.subscribe(lambda snap: seen.append(snap.status))
    store.dispatch(Restore(hint=HINT, now=0))
    assert seen == [Status.RESTORING, Status.RESTORING, Status.AUTHENTICATED]


def test_ignored_events_are_logged():
    lines = []
    store = AuthStore(run_effect=lambda effect: None, log=lines.append)
    store.dispatch(SignOutRequested())  # not allowed while restoring
    assert lines == ["auth: ignored SignOutRequested in restoring"]


def test_unsubscribe_stops_delivery():
    store = AuthStore(run_effect=lambda effect: None)
    seen = []
    unsubscribe = store.subscribe(lambda snap: seen.append(snap.status))
    unsubscribe()
    store.dispatch(HintChanged(hint=None, now=0))
    assert seen == [Status.RESTORING]


def test_unsubscribing_twice_is_harmless():
    store = AuthStore(run_effect=lambda effect: None)
    unsubscribe = store.subscribe(lambda snapshot: None)
    unsubscribe()
    unsubscribe()
    store.dispatch(Restore(hint=None, now=0.0))
    assert store.snapshot.status.value == "anonymous"
