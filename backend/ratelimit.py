"""Socket limits: per connection a token bucket for messages and a window for invalid
frames; per process the handshake :class:`Admission`, fair per address and per session.

All are small, clock-injected and pure, so the socket handler only asks and acts.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable


class TokenBucket:
    """``rate`` tokens a second up to ``burst``; each frame takes one."""

    __slots__ = ("_clock", "_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, clock: Callable[[], float]) -> None:
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


class WindowCounter:
    """Counts events in the last ``window`` seconds; ``add`` says whether ``limit`` is passed.

    The deque is made on first use: most connections never send an invalid frame, and an
    empty deque costs ~600 bytes on every one of thousands of idle sockets."""

    __slots__ = ("_clock", "_times", "limit", "window")

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._times: deque[float] | None = None

    def add(self) -> bool:
        now = self._clock()
        if self._times is None:
            self._times = deque()
        self._times.append(now)
        while self._times and self._times[0] <= now - self.window:
            self._times.popleft()
        return len(self._times) > self.limit


class SharedBuckets:
    """A token bucket per key that splits one ``rate`` fairly among the keys asking.

    While ``n`` keys have asked within the last ``idle`` seconds, each refills at ``rate / n``
    up to ``burst`` tokens: one key alone may use the whole rate (a reconnect storm from one
    address is still served at full speed), and among many no key gets more than its share,
    so one client cannot crowd the others out.  A key starts full.  Memory is bounded: keys
    quiet for ``idle`` seconds are forgotten, and beyond ``max_keys`` the least recently seen
    goes first (it comes back full, which costs at most ``burst`` tokens).

    >>> now = [0.0]
    >>> buckets = SharedBuckets(rate=2.0, burst=1, clock=lambda: now[0])
    >>> buckets.take("a"), buckets.take("a"), buckets.take("b")
    (True, False, True)
    >>> now[0] = 0.5  # two keys share 2/s: each has refilled one token a second, half a token
    >>> buckets.take("a")
    False
    """

    __slots__ = ("_clock", "_keys", "burst", "idle", "max_keys", "rate")

    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float],
        idle: float = 10.0,
        max_keys: int = 10_000,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.idle = idle
        self.max_keys = max_keys
        self._clock = clock
        # key -> [tokens, last refill, last seen]; ordered by last seen, oldest first
        self._keys: OrderedDict[object, list[float]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._keys)

    def _entry(self, key: object) -> list[float]:
        now = self._clock()
        keys = self._keys
        while keys:
            oldest = next(iter(keys.values()))
            if oldest[2] > now - self.idle and len(keys) < self.max_keys:
                break
            keys.popitem(last=False)
        entry = keys.get(key)
        if entry is None:
            entry = keys[key] = [float(self.burst), now, now]
        else:
            keys.move_to_end(key)
            share = self.rate / len(keys)
            entry[0] = min(self.burst, entry[0] + (now - entry[1]) * share)
            entry[1] = entry[2] = now
        return entry

    def take(self, key: object) -> bool:
        entry = self._entry(key)
        if entry[0] >= 1:
            entry[0] -= 1
            return True
        return False

    def give_back(self, key: object) -> None:
        """Return the token of a ``take`` whose request was refused further on."""
        entry = self._keys.get(key)
        if entry is not None:
            entry[0] = min(self.burst, entry[0] + 1)


class Admission:
    """Socket handshakes admitted: fair per client address and per session, then one
    allowance for the process (``rate`` a second, ``burst`` at once).

    Only handshakes that will become a chat socket ask (the endpoint refuses a foreign
    origin, a request that is not an upgrade and a missing or unknown session first), so
    nobody can spend the allowance without a session.  A key holds at most ``key_burst``
    tokens, below ``burst``, so one client can never empty the allowance at once either.  A
    token taken from a key's bucket for a handshake refused further on is given back.

    >>> now = [0.0]
    >>> admission = Admission(rate=10.0, burst=4, key_burst=2, clock=lambda: now[0])
    >>> [admission.admit("1.2.3.4", b"s1") for _ in range(3)]
    [True, True, False]
    >>> admission.admit("5.6.7.8", b"s2"), admission.admit("5.6.7.8", b"s3")
    (True, True)
    >>> admission.admit("9.9.9.9", b"s4")  # the process's allowance is spent
    False
    """

    __slots__ = ("addresses", "sessions", "total")

    def __init__(self, rate: float, burst: int, key_burst: int, clock: Callable[[], float]) -> None:
        self.total = TokenBucket(rate, burst, clock)
        self.addresses = SharedBuckets(rate, key_burst, clock)
        self.sessions = SharedBuckets(rate, key_burst, clock)

    def admit(self, address: str, session: bytes) -> bool:
        if not self.sessions.take(session):
            return False
        if not self.addresses.take(address):
            self.sessions.give_back(session)
            return False
        if not self.total.take():
            self.sessions.give_back(session)
            self.addresses.give_back(address)
            return False
        return True
