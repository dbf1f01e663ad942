"""The in-process parts of the embedded persistence: throttle windows, signals, presence and
the board of open agent runs.

Right for one process; :mod:`backend.redis_storage` has the shared equivalents.
"""

from __future__ import annotations

from collections import defaultdict, deque

from backend.storage import Claim, Handler, OpenRun, Signal


class MemoryHits:
    """Attempt times per key (the throttle's windows)."""

    def __init__(self) -> None:
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    async def newest(self, key: str, after: float, count: int) -> list[float]:
        hits = self._hits.get(key)
        if hits is None:
            return []
        while hits and hits[0] <= after:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return []
        return list(hits)[-count:]

    async def add(self, key: str, at: float, keep_for: float) -> None:
        self._hits[key].append(at)

    async def clear(self, key: str) -> None:
        self._hits.pop(key, None)


class LocalSignals:
    """In-process signals: delivered at once to this process's handlers."""

    def __init__(self) -> None:
        self._handlers: list[Handler] = []

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    async def publish(self, signal: Signal) -> None:
        for handler in list(self._handlers):
            await handler(signal)


class LocalPresence:
    """Socket presence of one process: a dict of sessions to their tabs' owners."""

    def __init__(self) -> None:
        self._tabs: dict[bytes, dict[str, str]] = {}

    async def claim(self, session: bytes, tab: str, owner: str, limit: int) -> Claim:
        tabs = self._tabs.setdefault(session, {})
        if tab in tabs:
            tabs[tab] = owner
            return Claim.REPLACED
        if len(tabs) >= limit:
            if not tabs:
                del self._tabs[session]
            return Claim.FULL
        tabs[tab] = owner
        return Claim.OK

    async def release(self, session: bytes, tab: str, owner: str) -> None:
        tabs = self._tabs.get(session)
        if tabs is not None and tabs.get(tab) == owner:
            del tabs[tab]
            if not tabs:
                del self._tabs[session]

    async def refresh(self, held: list[tuple[bytes, str, str]]) -> None:
        return None  # nothing can go stale inside one process


class LocalRunBoard:
    """Open agent runs of one process, per user (no lease: the process that runs them is this
    one, and it forgets them when it ends)."""

    def __init__(self) -> None:
        self._runs: dict[int, dict[str, OpenRun]] = {}

    async def open(self, user_id: int, run: OpenRun) -> None:
        self._runs.setdefault(user_id, {})[run.reply_to] = run

    async def close(self, user_id: int, run: OpenRun) -> None:
        runs = self._runs.get(user_id)
        if runs is not None and runs.get(run.reply_to) == run:
            del runs[run.reply_to]
            if not runs:
                del self._runs[user_id]

    async def refresh(self, held: list[tuple[int, OpenRun]]) -> None:
        return None  # nothing can go stale inside one process

    async def listed(self, user_id: int) -> list[OpenRun]:
        return sorted(self._runs.get(user_id, {}).values(), key=lambda r: r.opened_at)
