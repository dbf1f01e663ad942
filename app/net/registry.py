"""The connection registry: the only way anything gets a socket.

Components ``acquire()`` a lease on the socket for the signed-in session and ``release()`` it
when they go away.  The registry creates the managed socket on the first lease, keeps exactly
one per page (a lease for another session stops the old socket first), and closes it
``grace`` seconds after the last lease is released, so a panel that re-mounts does not churn
the connection.  ``close_all()`` (sign-out) stops everything at once.

The socket itself and the timer come from outside, so the registry is pure::

    >>> class Sock:
    ...     def __init__(self): self.running = False
    ...     def start(self): self.running = True
    ...     def stop(self): self.running = False
    >>> registry = ConnectionRegistry(lambda key: Sock(), schedule=lambda d, f: None)
    >>> lease = registry.acquire("ada")
    >>> lease.socket.running, registry.acquire("ada").socket is lease.socket
    (True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class ManagedSocket(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


class Cancellable(Protocol):
    def cancel(self) -> object: ...


Schedule = Callable[[float, Callable[[], None]], Cancellable | None]


class Lease:
    def __init__(self, registry: ConnectionRegistry, key: str, socket: ManagedSocket) -> None:
        self._registry = registry
        self.key = key
        self.socket = socket
        self.active = True

    def release(self) -> None:
        """Idempotent: releasing twice counts once."""
        if self.active:
            self.active = False
            self._registry._released(self)


class ConnectionRegistry:
    def __init__(
        self,
        factory: Callable[[str], ManagedSocket],
        schedule: Schedule,
        grace: float = 1.0,
    ) -> None:
        self._factory = factory
        self._schedule = schedule
        self.grace = grace
        self._key: str | None = None
        self._socket: ManagedSocket | None = None
        self._leases: set[Lease] = set()
        self._pending_close: Cancellable | None = None
        self.generation = 0  # bumped whenever the socket is replaced or dropped

    @property
    def socket(self) -> ManagedSocket | None:
        return self._socket

    @property
    def lease_count(self) -> int:
        return len(self._leases)

    def acquire(self, key: str) -> Lease:
        if self._socket is not None and self._key != key:
            self._drop()  # another session: never two sockets at once
        self._cancel_pending_close()
        if self._socket is None:
            self.generation += 1
            self._key = key
            self._socket = self._factory(key)
            self._socket.start()
        lease = Lease(self, key, self._socket)
        self._leases.add(lease)
        return lease

    def close_all(self) -> None:
        """Sign-out: stop the socket now and void every lease."""
        for lease in list(self._leases):
            lease.active = False
        self._leases.clear()
        self._cancel_pending_close()
        self._drop()

    def _released(self, lease: Lease) -> None:
        self._leases.discard(lease)
        if self._leases or self._socket is None or lease.socket is not self._socket:
            return
        self._cancel_pending_close()
        socket = self._socket
        self._pending_close = self._schedule(self.grace, lambda: self._close_if_unused(socket))

    def _close_if_unused(self, socket: ManagedSocket) -> None:
        self._pending_close = None
        if not self._leases and self._socket is socket:
            self._drop()

    def _cancel_pending_close(self) -> None:
        if self._pending_close is not None:
            self._pending_close.cancel()
            self._pending_close = None

    def _drop(self) -> None:
        socket, self._socket, self._key = self._socket, None, None
        if socket is not None:
            self.generation += 1
            socket.stop()
