"""Login throttling: sliding windows per account (failures) and per client address (attempts).

The rule is written once here; where the attempt times are kept is a :class:`HitLog` (memory
for the single embedded process, a Redis sorted set shared by every replica)::

    >>> retry_after([100.0, 130.0], limit=2, window=60.0, now=140.0)
    20
    >>> retry_after([130.0], limit=2, window=60.0, now=140.0) is None
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol


class HitLog(Protocol):
    async def newest(self, key: str, after: float, count: int) -> list[float]:
        """Forget the times of ``key`` at or before ``after``; the newest ``count`` of the rest,
        oldest first."""
        ...

    async def add(self, key: str, at: float, keep_for: float) -> None: ...
    async def clear(self, key: str) -> None: ...


def retry_after(newest: list[float], limit: int, window: float, now: float) -> int | None:
    """Whole seconds until one more attempt fits in the window, or ``None`` if it fits now."""
    if len(newest) < limit:
        return None
    return max(1, math.ceil(newest[-limit] + window - now))


class LoginThrottle:
    def __init__(self, log: HitLog, settings, clock: Callable[[], float]) -> None:
        self._log = log
        self._clock = clock
        self.windows = {
            "account": (settings.account_failures, settings.account_window),
            "address": (settings.address_attempts, settings.address_window),
        }

    async def _wait(self, kind: str, key: str) -> int | None:
        limit, window = self.windows[kind]
        now = self._clock()
        newest = await self._log.newest(f"{kind}:{key}", now - window, limit)
        return retry_after(newest, limit, window, now)

    async def check(self, account: str, address: str) -> int | None:
        """Seconds to wait before this attempt may run, or ``None``."""
        waits = [await self._wait("address", address), await self._wait("account", account)]
        found = [wait for wait in waits if wait is not None]
        return max(found) if found else None

    async def record(self, account: str, address: str, success: bool) -> None:
        now = self._clock()
        await self._log.add(f"address:{address}", now, self.windows["address"][1])
        if success:
            await self._log.clear(f"account:{account}")
        else:
            await self._log.add(f"account:{account}", now, self.windows["account"][1])
