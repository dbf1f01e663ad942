"""Login throttling: sliding windows per account (failures) and per client address (attempts).

In memory, which is right for the single embedded process; the multi-replica setup swaps in
:class:`backend.redis_storage.RedisThrottle` behind the same two methods.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Callable


class SlidingWindow:
    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def _live(self, key: str) -> deque[float]:
        hits = self._hits[key]
        cutoff = self._clock() - self.window
        while hits and hits[0] <= cutoff:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return deque()
        return hits

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until ``key`` may try again, or ``None`` if it may try now."""
        hits = self._live(key)
        if len(hits) < self.limit:
            return None
        return max(1, math.ceil(hits[-self.limit] + self.window - self._clock()))

    def hit(self, key: str) -> None:
        self._live(key)
        self._hits[key].append(self._clock())

    def clear(self, key: str) -> None:
        self._hits.pop(key, None)


class LoginThrottle:
    def __init__(self, settings, clock: Callable[[], float]) -> None:
        self.accounts = SlidingWindow(settings.account_failures, settings.account_window, clock)
        self.addresses = SlidingWindow(settings.address_attempts, settings.address_window, clock)

    async def check(self, account: str, address: str) -> int | None:
        """Seconds to wait before this attempt may run, or ``None``."""
        waits = [
            w
            for w in (self.addresses.retry_after(address), self.accounts.retry_after(account))
            if w is not None
        ]
        return max(waits) if waits else None

    async def record(self, account: str, address: str, success: bool) -> None:
        self.addresses.hit(address)
        if success:
            self.accounts.clear(account)
        else:
            self.accounts.hit(account)
