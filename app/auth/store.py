"""The auth store: holds the current snapshot, applies events, tells subscribers.

Subscribers get the current snapshot at once and then every change exactly once, in order.
An event dispatched from inside a subscriber or an effect handler is queued and applied after
the current one has been fully delivered, never re-entered, so every subscriber sees the same
sequence of snapshots::

    >>> store = AuthStore(run_effect=lambda effect: None)
    >>> seen = []
    >>> unsubscribe = store.subscribe(lambda snap: seen.append(snap.status.value))
    >>> store.dispatch(Restore(hint=None, now=0.0))
    >>> seen
    ['restoring', 'anonymous']
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from app.auth.model import Effect, Event, Restore, Snapshot
from app.auth.transition import transition

Subscriber = Callable[[Snapshot], None]
__all__ = ["AuthStore", "Restore"]


class AuthStore:
    def __init__(
        self,
        run_effect: Callable[[Effect], None],
        log: Callable[[str], None] = lambda line: None,
        initial: Snapshot | None = None,
    ) -> None:
        self._state = initial or Snapshot()
        self._run_effect = run_effect
        self._log = log
        self._subscribers: list[Subscriber] = []
        self._queue: deque[Event] = deque()
        self._busy = False

    @property
    def snapshot(self) -> Snapshot:
        return self._state

    def subscribe(self, subscriber: Subscriber) -> Callable[[], None]:
        """Call ``subscriber`` now and on every change; returns the unsubscribe function."""
        self._subscribers.append(subscriber)
        subscriber(self._state)

        def unsubscribe() -> None:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

        return unsubscribe

    def dispatch(self, event: Event) -> None:
        self._queue.append(event)
        if self._busy:
            return  # the outer dispatch loop will get to it
        self._busy = True
        try:
            while self._queue:
                self._apply(self._queue.popleft())
        finally:
            self._busy = False

    def _apply(self, event: Event) -> None:
        before = self._state
        after, effects = transition(before, event)
        if after is before and not effects:
            self._log(f"auth: ignored {type(event).__name__} in {before.status.value}")
            return
        self._state = after
        if after != before:
            for subscriber in list(self._subscribers):
                subscriber(after)
        for effect in effects:
            self._run_effect(effect)
