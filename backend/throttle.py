"""Login throttling: sliding windows per client address (attempts), per account (failures
of unknown clients) and per known device (its own failures).

A known device is a browser holding a device cookie (:class:`Devices`, after OWASP's
Authentication Cheat Sheet, "device cookies"): proof that it signed in as that user before.
Its failures are counted apart, so the account-wide limit slows unknown clients down (the
guessers) and never locks out the user's own browsers; the per-address limit holds for all.

The rule is written once here; where the attempt times are kept is a :class:`HitLog` (memory
for the single embedded process, a Redis sorted set shared by every replica)::

    >>> retry_after([100.0, 130.0], limit=2, window=60.0, now=140.0)
    20
    >>> retry_after([130.0], limit=2, window=60.0, now=140.0) is None
    True
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from collections.abc import Awaitable, Callable
from typing import Protocol

DEVICE_LIFETIME = 90 * 24 * 3600  # seconds a device cookie is honoured after its sign-in
DEVICE_KEY = "device-cookies"  # the name of the signing key in the persistence
MAX_DEVICE_COOKIE = 256  # characters; anything longer is not one of ours


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
            "device": (settings.account_failures, settings.account_window),
            "address": (settings.address_attempts, settings.address_window),
        }

    async def _wait(self, kind: str, key: str) -> int | None:
        limit, window = self.windows[kind]
        now = self._clock()
        newest = await self._log.newest(f"{kind}:{key}", now - window, limit)
        return retry_after(newest, limit, window, now)

    @staticmethod
    def _failures(account: str, device: str | None) -> tuple[str, str]:
        """Whose failures this attempt counts with: its device's, or the unknown clients'."""
        return ("device", device) if device is not None else ("account", account)

    async def check(self, account: str, address: str, device: str | None = None) -> int | None:
        """Seconds to wait before this attempt may run, or ``None``.  ``device`` is the id of
        the attempt's known device (:meth:`Devices.recognise`), ``None`` for an unknown client."""
        waits = [
            await self._wait("address", address),
            await self._wait(*self._failures(account, device)),
        ]
        found = [wait for wait in waits if wait is not None]
        return max(found) if found else None

    async def record(
        self, account: str, address: str, success: bool, device: str | None = None
    ) -> None:
        now = self._clock()
        await self._log.add(f"address:{address}", now, self.windows["address"][1])
        kind, key = self._failures(account, device)
        if success:
            await self._log.clear(f"{kind}:{key}")
        else:
            await self._log.add(f"{kind}:{key}", now, self.windows[kind][1])


def _sign(key: bytes, payload: str) -> str:
    digest = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class Devices:
    """Device cookies: ``<account>:<issued at>:<device id>:<signature>``, signed with a key
    the persistence makes once and shares with every replica (``secret(name, new)`` returns
    the key of that name, storing ``new`` if there is none yet).

    A cookie is bound to the account it signed in as and honoured for ``lifetime`` seconds;
    the random device id names its own failure window.  Nothing is stored per device.
    """

    def __init__(
        self,
        secret: Callable[[str, bytes], Awaitable[bytes]],
        clock: Callable[[], float],
        lifetime: float = DEVICE_LIFETIME,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self.lifetime = lifetime
        self._key: bytes | None = None

    async def _signing_key(self) -> bytes:
        if self._key is None:
            self._key = await self._secret(DEVICE_KEY, secrets.token_bytes(32))
        return self._key

    async def issue(self, account: str) -> str:
        """A new device cookie's value for a browser that has just signed in as ``account``."""
        payload = f"{account}:{int(self._clock())}:{secrets.token_urlsafe(16)}"
        return f"{payload}:{_sign(await self._signing_key(), payload)}"

    async def recognise(self, value: str | None, account: str) -> str | None:
        """The device id if ``value`` is a live device cookie of ``account``, else ``None``."""
        if not value or len(value) > MAX_DEVICE_COOKIE:
            return None
        parts = value.rsplit(":", 3)
        if len(parts) != 4 or parts[0] != account or not parts[1].isdigit():
            return None
        if int(parts[1]) + self.lifetime <= self._clock():
            return None
        payload = value[: -len(parts[3]) - 1]
        if not hmac.compare_digest(parts[3], _sign(await self._signing_key(), payload)):
            return None
        return parts[2]
