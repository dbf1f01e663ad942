"""Per-connection limits: a token bucket for messages and a window for invalid frames.

Both are small, clock-injected and pure, so the socket handler only asks and acts.
"""

from __future__ import annotations

from collections import deque
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
