"""The shared storage: everything of :mod:`backend.storage` in Redis, for several replicas.

Keys (all under ``pychat:``):

* ``user:<name>`` hash (id, name, password_hash, created_at), ``users`` set, ``user-ids`` counter;
* ``session:<sha256 hex>`` hash (user_id, user_name, created_at, last_seen, expires_at), expiring
  with the session (Redis forgets it when it is over; a revocation deletes it);
* ``throttle:<kind>:<key>`` sorted sets of attempt times: the same sliding windows as the
  embedded :class:`backend.throttle.SlidingWindow`, shared by every replica;
* ``history:<user id>`` a capped stream (newest :data:`HISTORY_CAP` messages) and
  ``seen:<user id>:<message id>`` keys that make a resent message a duplicate for a week;
* ``presence:<session hex>`` hash tab -> "owner|time": which replica's socket holds each tab;
  owners refresh their entries every 10 s and an entry older than :data:`STALE_AFTER` is gone
  (its replica died), so a crash never locks a session out;
* channel ``pychat:signals``: JSON :class:`~backend.storage.SessionClosed` and
  :class:`~backend.storage.TabClaimed` for every replica's hub.

Multi-step changes are Lua scripts, so two replicas never interleave them.  Any connection
error becomes :class:`~backend.storage.StorageUnavailable` (fail closed); the client reconnects
by itself on the next call once Redis is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from backend.history import ChatMessage
from backend.passwords import hash_password
from backend.sessions import TOUCH_EVERY, Session, new_token, token_hash
from backend.storage import (
    Claim,
    Handler,
    SessionClosed,
    Signal,
    Storage,
    StorageUnavailable,
    TabClaimed,
)
from backend.users import InvalidUser, UserRecord, check_new_user

log = logging.getLogger("pychat.redis")

PREFIX = "pychat:"
CHANNEL = PREFIX + "signals"
HISTORY_CAP = 1000  # messages kept per user (the page shows the newest 100)
SEEN_FOR = 7 * 24 * 3600  # seconds a message id stays a duplicate
STALE_AFTER = 30.0  # seconds without refresh after which a socket's presence is gone
DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)

T = TypeVar("T")


async def guarded(call: Awaitable[T]) -> T:
    """Run one Redis call; a connection problem becomes :class:`StorageUnavailable`."""
    try:
        return await call
    except DOWN as exc:
        raise StorageUnavailable(f"redis: {exc.__class__.__name__}: {exc}") from exc


def connect(url: str) -> Redis:
    """A client that fails fast (no retries: the caller answers 503 at once instead)."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=0.5,
        socket_timeout=2.0,
        retry=Retry(NoBackoff(), 0),
    )


# ------------------------------------------------------------------------------ users

ADD_USER = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local id = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'id', id, 'name', ARGV[1], 'password_hash', ARGV[2],
           'created_at', ARGV[3])
redis.call('SADD', KEYS[3], ARGV[1])
return id
"""


class RedisUsers:
    def __init__(self, redis: Redis, clock: Callable[[], float]) -> None:
        self._redis = redis
        self._clock = clock
        self._add = redis.register_script(ADD_USER)

    async def add(self, name: str, password: str) -> UserRecord:
        check_new_user(name, password)
        hashed = hash_password(password)
        keys = [f"{PREFIX}user:{name}", f"{PREFIX}user-ids", f"{PREFIX}users"]
        user_id = await guarded(self._add(keys=keys, args=[name, hashed, self._clock()]))
        if not user_id:
            raise InvalidUser(f"a user called {name!r} already exists")
        return UserRecord(int(user_id), name, hashed)

    async def by_name(self, name: str) -> UserRecord | None:
        row = await guarded(self._redis.hgetall(f"{PREFIX}user:{name}"))
        if not row:
            return None
        return UserRecord(int(row["id"]), row["name"], row["password_hash"])

    async def count(self) -> int:
        return int(await guarded(self._redis.scard(f"{PREFIX}users")))


# ------------------------------------------------------------------------------ sessions


class RedisSessions:
    def __init__(
        self,
        redis: Redis,
        clock: Callable[[], float],
        idle_timeout: float,
        absolute_timeout: float,
    ) -> None:
        self._redis = redis
        self._clock = clock
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout

    def now(self) -> float:
        return self._clock()

    @staticmethod
    def _key(digest: bytes) -> str:
        return f"{PREFIX}session:{digest.hex()}"

    def _ttl_ms(self, last_seen: float, expires_at: float) -> int:
        return max(
            1, math.ceil((min(expires_at, last_seen + self.idle_timeout) - self._clock()) * 1000)
        )

    async def create(self, user_id: int, user_name: str) -> tuple[str, Session]:
        token = new_token()
        digest = token_hash(token)
        now = self._clock()
        expires_at = now + self.absolute_timeout
        fields = {
            "user_id": user_id,
            "user_name": user_name,
            "created_at": now,
            "last_seen": now,
            "expires_at": expires_at,
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(digest), mapping=fields)
            pipe.pexpire(self._key(digest), self._ttl_ms(now, expires_at))
            await guarded(pipe.execute())
        session = self._session(digest, fields, now)
        assert session is not None
        return token, session

    def _session(self, digest: bytes, row: dict, now: float) -> Session | None:
        if not row:
            return None
        expires_at, last_seen = float(row["expires_at"]), float(row["last_seen"])
        idle_expires_at = min(expires_at, last_seen + self.idle_timeout)
        if now >= expires_at or now >= idle_expires_at:
            return None
        return Session(digest, int(row["user_id"]), row["user_name"], expires_at, idle_expires_at)

    async def _lookup(self, digest: bytes) -> tuple[Session | None, dict]:
        row = await guarded(self._redis.hgetall(self._key(digest)))
        return self._session(digest, row, self._clock()), row

    async def validate(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        return await self.validate_hash(token_hash(token))

    async def validate_hash(self, digest: bytes) -> Session | None:
        session, row = await self._lookup(digest)
        now = self._clock()
        if session is not None and now - float(row["last_seen"]) >= TOUCH_EVERY:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(self._key(digest), "last_seen", now)
                pipe.pexpire(self._key(digest), self._ttl_ms(now, session.expires_at))
                await guarded(pipe.execute())
            session = self._session(digest, {**row, "last_seen": now}, now)
        return session

    async def deadline(self, digest: bytes) -> float | None:
        session, _row = await self._lookup(digest)
        return None if session is None else session.idle_expires_at

    async def revoke(self, token: str | None) -> Session | None:
        if not token or len(token) > 128:
            return None
        digest = token_hash(token)
        session, _row = await self._lookup(digest)
        await guarded(self._redis.delete(self._key(digest)))
        return session

    async def purge_expired(self) -> int:
        return 0  # Redis expires session keys by itself


# ------------------------------------------------------------------------------ throttling

OLDEST_IN_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
local limit = tonumber(ARGV[3])
if redis.call('ZCARD', KEYS[1]) < limit then return false end
return redis.call('ZRANGE', KEYS[1], -limit, -limit, 'WITHSCORES')[2]
"""


class RedisThrottle:
    """The embedded :class:`backend.throttle.LoginThrottle`'s windows, shared by replicas."""

    def __init__(self, redis: Redis, settings, clock: Callable[[], float]) -> None:
        self._redis = redis
        self._clock = clock
        self._oldest = redis.register_script(OLDEST_IN_WINDOW)
        self.windows = {
            "account": (settings.account_failures, settings.account_window),
            "address": (settings.address_attempts, settings.address_window),
        }

    async def _retry_after(self, kind: str, key: str) -> int | None:
        limit, window = self.windows[kind]
        now = self._clock()
        oldest = await guarded(
            self._oldest(keys=[f"{PREFIX}throttle:{kind}:{key}"], args=[now, window, limit])
        )
        if oldest is None:
            return None
        return max(1, math.ceil(float(oldest) + window - now))

    async def check(self, account: str, address: str) -> int | None:
        waits = [
            wait
            for wait in (
                await self._retry_after("address", address),
                await self._retry_after("account", account),
            )
            if wait is not None
        ]
        return max(waits) if waits else None

    def _hit(self, pipe: Any, kind: str, key: str) -> None:
        name = f"{PREFIX}throttle:{kind}:{key}"
        now = self._clock()
        pipe.zadd(name, {f"{now}:{uuid.uuid4().hex[:8]}": now})
        pipe.pexpire(name, math.ceil(self.windows[kind][1] * 1000))

    async def record(self, account: str, address: str, success: bool) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            self._hit(pipe, "address", address)
            if success:
                pipe.delete(f"{PREFIX}throttle:account:{account}")
            else:
                self._hit(pipe, "account", account)
            await guarded(pipe.execute())


# ------------------------------------------------------------------------------ history

ADD_MESSAGE = """
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[6]) then return 0 end
local fields = {'id', ARGV[1], 'role', ARGV[2], 'text', ARGV[3], 'created_at', ARGV[4]}
if ARGV[7] ~= '' then
  table.insert(fields, 'cut')
  table.insert(fields, ARGV[7])
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[5], '*', unpack(fields))
return 1
"""


class RedisHistory:
    def __init__(self, redis: Redis, clock: Callable[[], float]) -> None:
        self._redis = redis
        self._clock = clock
        self._add = redis.register_script(ADD_MESSAGE)

    async def add(
        self, user_id: int, message_id: str, role: str, text: str, cut: str | None = None
    ) -> ChatMessage | None:
        now = self._clock()
        keys = [f"{PREFIX}history:{user_id}", f"{PREFIX}seen:{user_id}:{message_id}"]
        args = [message_id, role, text, now, HISTORY_CAP, SEEN_FOR, cut or ""]
        added = await guarded(self._add(keys=keys, args=args))
        return ChatMessage(message_id, role, text, now, cut) if added else None

    async def recent(self, user_id: int, limit: int = 100) -> list[ChatMessage]:
        entries = await guarded(self._redis.xrevrange(f"{PREFIX}history:{user_id}", count=limit))
        return [
            ChatMessage(f["id"], f["role"], f["text"], float(f["created_at"]), f.get("cut"))
            for _entry_id, f in reversed(entries)
        ]


# ------------------------------------------------------------------------------ presence

CLAIM = """
local now, stale = tonumber(ARGV[4]), tonumber(ARGV[5])
local entries = redis.call('HGETALL', KEYS[1])
for i = 1, #entries, 2 do
  local seen = tonumber(string.match(entries[i + 1], '|([^|]+)$'))
  if seen == nil or seen < now - stale then redis.call('HDEL', KEYS[1], entries[i]) end
end
local value = ARGV[2] .. '|' .. ARGV[4]
local result = 'ok'
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then
  result = 'replaced'
elseif redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[3]) then
  return 'full'
end
redis.call('HSET', KEYS[1], ARGV[1], value)
redis.call('PEXPIRE', KEYS[1], math.ceil(stale * 2000))
return result
"""

# Refresh (ARGV[3] = time) or release (no ARGV[3]) a tab, only if ``owner`` still holds it.
IF_OWNER = """
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value or string.sub(value, 1, #ARGV[2] + 1) ~= ARGV[2] .. '|' then return 0 end
if ARGV[3] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. '|' .. ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(tonumber(ARGV[4]) * 2000))
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
"""


class RedisPresence:
    def __init__(self, redis: Redis, clock: Callable[[], float]) -> None:
        self._redis = redis
        self._clock = clock
        self._claim = redis.register_script(CLAIM)
        self._if_owner = redis.register_script(IF_OWNER)

    @staticmethod
    def _key(session: bytes) -> str:
        return f"{PREFIX}presence:{session.hex()}"

    async def claim(self, session: bytes, tab: str, owner: str, limit: int) -> Claim:
        result = await guarded(
            self._claim(
                keys=[self._key(session)],
                args=[tab, owner, limit, self._clock(), STALE_AFTER],
            )
        )
        return Claim(result)

    async def release(self, session: bytes, tab: str, owner: str) -> None:
        await guarded(self._if_owner(keys=[self._key(session)], args=[tab, owner]))

    async def refresh(self, held: list[tuple[bytes, str, str]]) -> None:
        if not held:
            return
        now = self._clock()
        async with self._redis.pipeline(transaction=False) as pipe:
            for session, tab, owner in held:
                await self._if_owner(
                    keys=[self._key(session)], args=[tab, owner, now, STALE_AFTER], client=pipe
                )
            await guarded(pipe.execute())


# ------------------------------------------------------------------------------ signals


def encode_signal(signal: Signal) -> str:
    match signal:
        case SessionClosed(session=session, code=code, reason=reason):
            return json.dumps(
                {"type": "session_closed", "session": session.hex(), "code": code, "reason": reason}
            )
        case TabClaimed(session=session, tab=tab, owner=owner):
            return json.dumps(
                {"type": "tab_claimed", "session": session.hex(), "tab": tab, "owner": owner}
            )
    raise TypeError(signal)


def decode_signal(raw: str) -> Signal | None:
    try:
        data = json.loads(raw)
        session = bytes.fromhex(data["session"])
        if data["type"] == "session_closed":
            return SessionClosed(session, int(data["code"]), str(data["reason"]))
        if data["type"] == "tab_claimed":
            return TabClaimed(session, str(data["tab"]), str(data["owner"]))
    except (ValueError, KeyError, TypeError):
        pass
    return None


class RedisSignals:
    """Publish/subscribe on one channel.  A replica also hears its own signals (its hub's
    handlers are idempotent).  The listener reconnects by itself after Redis comes back."""

    def __init__(self, url: str, redis: Redis) -> None:
        self._url = url
        self._redis = redis
        self._handlers: list[Handler] = []
        self._task: asyncio.Task | None = None
        self.listening = asyncio.Event()

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    async def publish(self, signal: Signal) -> None:
        await guarded(self._redis.publish(CHANNEL, encode_signal(signal)))

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        delay = 0.1
        while True:
            # No read timeout: a quiet channel is normal; a dead Redis resets the connection.
            client = Redis.from_url(self._url, decode_responses=True, socket_connect_timeout=0.5)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                self.listening.set()
                delay = 0.1
                async for message in pubsub.listen():
                    signal = decode_signal(message.get("data", ""))
                    if signal is not None:
                        await self._deliver(signal)
            except DOWN as exc:
                if self.listening.is_set():
                    log.warning("signal channel lost (%s); reconnecting", exc.__class__.__name__)
                self.listening.clear()
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(2.0, delay * 2)

    async def _deliver(self, signal: Signal) -> None:
        for handler in list(self._handlers):
            try:
                await handler(signal)
            except Exception:  # one bad handler must not stop the channel
                log.exception("signal handler failed")


# ------------------------------------------------------------------------------ assembly


def shared(url: str, settings) -> Storage:
    redis = connect(url)
    signals = RedisSignals(url, redis)

    async def close() -> None:
        await signals.stop()
        await redis.aclose()

    async def health() -> bool:
        try:
            return bool(await guarded(redis.ping()))
        except StorageUnavailable:
            return False

    clock = settings.clock
    return Storage(
        users=RedisUsers(redis, clock),
        sessions=RedisSessions(redis, clock, settings.idle_timeout, settings.absolute_timeout),
        throttle=RedisThrottle(redis, settings, clock),
        history=RedisHistory(redis, clock),
        presence=RedisPresence(redis, clock),
        signals=signals,
        close=close,
        health=health,
        kind="redis",
    )
