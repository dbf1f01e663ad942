"""Invariants of the auth core under hypothesis-generated event sequences.

A small fake server answers the requests the core asks for, in an order hypothesis picks
(possibly late, possibly never), while tabs and users do their own things in between.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from app.auth.model import (
    Hint,
    HintChanged,
    PostLogin,
    PostLogoutAll,
    Reason,
    Restore,
    RetryNow,
    SessionEnded,
    SignedOutEverywhere,
    SignInFailed,
    SignInRequested,
    SignInSucceeded,
    SignOutEverywhereRequested,
    SignOutRequested,
    Status,
    User,
    ValidateSession,
    ValidationFailed,
    ValidationRejected,
    ValidationSucceeded,
)
from app.auth.store import AuthStore

ADA = User("ada", 2e9)
hints = st.one_of(st.none(), st.just(Hint("ada", 2e9)), st.just(Hint("bob", 3e9)))

# "Answer the n-th pending request with outcome k"; or a user/tab event.
actions = st.one_of(
    st.tuples(st.just("answer"), st.integers(0, 3), st.integers(0, 2)),
    st.tuples(
        st.just("event"),
        st.sampled_from(["retry", "signin", "signout", "signout-everywhere", "ended"]),
        st.just(0),
    ),
    st.tuples(st.just("hint"), hints, st.just(0)),
)


class Harness:
    def __init__(self) -> None:
        self.pending: list[object] = []
        self.validations_sent = 0
        self.statuses: list[Status] = []
        self.store = AuthStore(run_effect=self.run)
        self.store.subscribe(self.check)

    def run(self, effect) -> None:
        if isinstance(effect, ValidateSession):
            self.validations_sent += 1
            self.pending.append(effect)
        elif isinstance(effect, PostLogin | PostLogoutAll):
            self.pending.append(effect)

    def check(self, snap) -> None:
        self.statuses.append(snap.status)
        assert (snap.user is not None) == (snap.status is Status.AUTHENTICATED)

    def check_in_flight(self) -> None:
        """Checked between actions, once the effects of the last one have run."""
        snap = self.store.snapshot
        validations = [p for p in self.pending if isinstance(p, ValidateSession)]
        assert len(validations) <= 1, "two validations in flight"
        if snap.validating:
            assert [v.generation for v in validations] == [snap.generation]

    def answer(self, index: int, outcome: int) -> None:
        if not self.pending:
            return
        request = self.pending.pop(index % len(self.pending))
        if isinstance(request, ValidateSession):
            g = request.generation
            event = [ValidationSucceeded(ADA, g), ValidationRejected(g), ValidationFailed(g)][
                outcome
            ]
        elif isinstance(request, PostLogoutAll):
            event = SignedOutEverywhere(request.generation, ok=outcome == 0)
        else:
            g = request.generation
            event = [
                SignInSucceeded(ADA, g),
                SignInFailed(g, Reason.INVALID_CREDENTIALS),
                SignInFailed(g, Reason.SERVER_UNREACHABLE),
            ][outcome]
        self.store.dispatch(event)

    def act(self, action) -> None:
        kind, a, b = action
        if kind == "answer":
            self.answer(a, b)
        elif kind == "hint":
            self.store.dispatch(HintChanged(hint=a, now=0))
        else:
            self.store.dispatch(
                {
                    "retry": RetryNow(),
                    "signin": SignInRequested("ada", "password1"),
                    "signout": SignOutRequested(),
                    "signout-everywhere": SignOutEverywhereRequested(),
                    "ended": SessionEnded(),
                }[a]
            )


@settings(max_examples=300, deadline=None)
@given(hint=hints, script=st.lists(actions, max_size=40))
def test_invariants_hold_for_any_sequence(hint, script):
    harness = Harness()
    harness.store.dispatch(Restore(hint=hint, now=0))
    for action in script:
        harness.act(action)
        harness.check_in_flight()


@settings(max_examples=300, deadline=None)
@given(script=st.lists(actions.filter(lambda a: a[0] != "hint" and a[1] != "signin"), max_size=40))
def test_no_request_at_all_without_a_hint(script):
    harness = Harness()
    harness.store.dispatch(Restore(hint=None, now=0))
    for action in script:
        harness.act(action)
    assert harness.validations_sent == 0
    assert harness.pending == []


@settings(max_examples=300, deadline=None)
@given(hint=hints, script=st.lists(actions, max_size=40))
def test_exactly_one_transition_out_of_restoring(hint, script):
    harness = Harness()
    harness.store.dispatch(Restore(hint=hint, now=0))
    for action in script:
        harness.act(action)
    statuses = harness.statuses
    leaving = [
        i
        for i in range(1, len(statuses))
        if statuses[i - 1] is Status.RESTORING and statuses[i] is not Status.RESTORING
    ]
    assert len(leaving) <= 1
    if leaving:  # and it never comes back
        assert Status.RESTORING not in statuses[leaving[0] :]


@settings(max_examples=200, deadline=None)
@given(hint=st.just(Hint("ada", 2e9)), script=st.lists(actions, max_size=40))
def test_restore_with_hint_sends_at_most_one_validation_before_it_settles(hint, script):
    harness = Harness()
    harness.store.dispatch(Restore(hint=hint, now=0))
    assert harness.validations_sent == 1
    for action in script:
        harness.act(action)
        if harness.store.snapshot.status is Status.RESTORING:
            assert harness.validations_sent == 1
