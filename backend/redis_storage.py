"""The shared persistence (``redis://…``): everything the server keeps, in Redis, so several
replicas act as one.  It stores and finds; the rules are in :mod:`backend.storage`'s policies.

Keys (all under ``pychat:``):

* ``user:<name>`` hash (id, name, password_hash, created_at), ``users`` set, ``user-ids`` counter;
* ``session:<sha256 hex>`` hash (user_id, user_name, created_at, last_seen, expires_at), expiring
  with the session (Redis forgets it when it is over; a revocation deletes it);
* ``user-sessions:<user id>`` set of the user's session hashes (hex), for "sign out
  everywhere"; it lives as long as the user's newest session may, and a member whose session
  Redis has already forgotten is just skipped;
* ``secret:<name>`` server-side keys made once (the device cookies' signing key, hex);
* ``throttle:<kind>:<key>`` sorted sets of attempt times, the throttle's windows
  (:mod:`backend.throttle`), shared by every replica;
* ``history:<user id>`` a capped stream (newest :data:`HISTORY_CAP` messages) and
  ``seen:<user id>:<message id>`` keys that make a resent message a duplicate for a week;
* ``presence:<session hex>`` hash slot -> "owner|time": which replica's socket holds each slot
  (``*`` for the session's one socket, a tab id in per-tab mode);
  owners refresh their entries every 10 s and an entry older than :data:`STALE_AFTER` is gone
  (its replica died), so a crash never locks a session out;
* ``runs:<user id>`` hash reply_to -> JSON (run_id, replica, opened_at, seen): the user's open
  agent runs (:class:`~backend.storage.RunBoard`), refreshed like presence and gone after
  :data:`RUN_STALE_AFTER`;
* channel ``pychat:signals``: JSON :class:`~backend.storage.SessionClosed` and
  :class:`~backend.storage.TabClaimed` for every replica's hub, and
  :class:`~backend.storage.RunAsked` and :class:`~backend.storage.RunRelayed` between the
  replica running an agent run and one whose socket shows it.

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
from typing import TypeVar

from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from backend.history import ChatMessage
from backend.sessions import SessionRow
from backend.storage import (
    Claim,
    Handler,
    OpenRun,
    RunAsked,
    RunRelayed,
    SessionClosed,
    Signal,
    StorageUnavailable,
    TabClaimed,
)
from backend.users import UserRecord

log = logging.getLogger("pychat.redis")

PREFIX = "pychat:"
CHANNEL = PREFIX + "signals"
HISTORY_CAP = 1000  # messages kept per user (the page shows the newest 100)
SEEN_FOR = 7 * 24 * 3600  # seconds a message id stays a duplicate
STALE_AFTER = 30.0  # seconds without refresh after which a socket's presence is gone
# Seconds without refresh after which an agent run's entry is gone: its replica refreshes it
# every 2 s (backend.runs.LEASE_EVERY), and a page shown a run that died waits this long.
RUN_STALE_AFTER = 10.0
DOWN = (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError)
# Calls in flight at once per process; beyond it a call is refused as unavailable (the
# process is overloaded: shedding is right).  Ten replicas at their peak fit Redis's 10,000.
MAX_CONNECTIONS = 1000
CONNECT_TIMEOUT = 5.0  # seconds

T = TypeVar("T")


async def guarded(call: Awaitable[T]) -> T:
    """Run one Redis call; a connection problem becomes :class:`StorageUnavailable`."""
    try:
        return await call
    except DOWN as exc:
        raise StorageUnavailable(f"redis: {exc.__class__.__name__}: {exc}") from exc


def connect(url: str) -> Redis:
    """A client that fails fast when Redis is down (no retries: the caller answers 503 at
    once instead), but not when it is merely busy.

    redis-py's pool refuses a call with "Too many connections" once all its connections are
    in use, and that reads as an outage.  Its default of 100 was too few: after a replica
    died, the survivor greeting a few hundred sockets at once closed some with 1013 and
    answered sign-ins with 503 while Redis was fine (tests/backend/test_cluster_faults.py).
    Its blocking pool is no cure: under such a burst its waiters and releases queue for one
    lock, a turn of the event loop each, and time out too.  Connections are cheap for Redis
    (10,000 clients by default), so the pool may grow to :data:`MAX_CONNECTIONS`.  Growing
    means connecting hundreds at once, on a replica busy with the burst that made them: the
    connect deadline is :data:`CONNECT_TIMEOUT`, not the half second that once failed a few of
    them as an outage, nor the two seconds that 300 at once outlasted on a machine whose both
    cores were busy (tests/backend/test_storage_contract.py, beside two test browsers).  A
    Redis that is down refuses at once; the deadline only waits out one that does not answer at
    all."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=2.0,
        retry=Retry(NoBackoff(), 0),
        max_connections=MAX_CONNECTIONS,
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
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._add = redis.register_script(ADD_USER)

    async def insert(self, name: str, password_hash: str, created_at: float) -> int | None:
        keys = [f"{PREFIX}user:{name}", f"{PREFIX}user-ids", f"{PREFIX}users"]
        user_id = await guarded(self._add(keys=keys, args=[name, password_hash, created_at]))
        return int(user_id) if user_id else None

    async def by_name(self, name: str) -> UserRecord | None:
        row = await guarded(self._redis.hgetall(f"{PREFIX}user:{name}"))
        if not row:
            return None
        return UserRecord(int(row["id"]), row["name"], row["password_hash"])

    async def count(self) -> int:
        return int(await guarded(self._redis.scard(f"{PREFIX}users")))


# ------------------------------------------------------------------------------ sessions


# Atomic, so a session created while "sign out everywhere" runs is either deleted with the
# others or added after it.  The session keys are named from the set's members (ARGV[1] is
# their prefix): fine on one Redis, which is what this persistence speaks to.
DELETE_USER_SESSIONS = """
local ended = {}
for _, hex in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if redis.call('DEL', ARGV[1] .. hex) == 1 then table.insert(ended, hex) end
end
redis.call('DEL', KEYS[1])
return ended
"""


class RedisSessions:
    """A hash per session that Redis expires when the session's idle deadline passes, and a
    set per user of their sessions."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._delete_user = redis.register_script(DELETE_USER_SESSIONS)

    @staticmethod
    def _key(digest: bytes) -> str:
        return f"{PREFIX}session:{digest.hex()}"

    @staticmethod
    def _user_key(user_id: int | str) -> str:
        return f"{PREFIX}user-sessions:{user_id}"

    @staticmethod
    def _ms(seconds: float) -> int:
        return max(1, math.ceil(seconds * 1000))

    async def insert(self, digest: bytes, row: SessionRow, keep_for: float) -> None:
        fields = {
            "user_id": row.user_id,
            "user_name": row.user_name,
            "created_at": row.created_at,
            "last_seen": row.last_seen,
            "expires_at": row.expires_at,
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(digest), mapping=fields)
            pipe.pexpire(self._key(digest), self._ms(keep_for))
            pipe.sadd(self._user_key(row.user_id), digest.hex())
            # The newest session lives longest: the set lives as long as it may.
            pipe.pexpire(self._user_key(row.user_id), self._ms(row.expires_at - row.created_at))
            await guarded(pipe.execute())

    async def get(self, digest: bytes) -> SessionRow | None:
        row = await guarded(self._redis.hgetall(self._key(digest)))
        if not row:
            return None
        return SessionRow(
            int(row["user_id"]),
            row["user_name"],
            float(row["created_at"]),
            float(row["last_seen"]),
            float(row["expires_at"]),
        )

    async def touch(self, digest: bytes, last_seen: float, keep_for: float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._key(digest), "last_seen", last_seen)
            pipe.pexpire(self._key(digest), self._ms(keep_for))
            await guarded(pipe.execute())

    async def delete(self, digest: bytes) -> None:
        user_id = await guarded(self._redis.hget(self._key(digest), "user_id"))
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(digest))
            if user_id is not None:
                pipe.srem(self._user_key(user_id), digest.hex())
            await guarded(pipe.execute())

    async def delete_user(self, user_id: int) -> list[bytes]:
        ended = await guarded(
            self._delete_user(keys=[self._user_key(user_id)], args=[f"{PREFIX}session:"])
        )
        return [bytes.fromhex(hex_digest) for hex_digest in ended]

    async def delete_idle_or_expired(self, now: float, idle_timeout: float) -> int:
        return 0  # Redis expires session keys by itself


# ------------------------------------------------------------------------------ throttling

NEWEST_IN_WINDOW = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], -tonumber(ARGV[2]), -1, 'WITHSCORES')
"""


class RedisHits:
    """The throttle's attempt times: a sorted set per key, expiring with its window."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._newest = redis.register_script(NEWEST_IN_WINDOW)

    @staticmethod
    def _key(key: str) -> str:
        return f"{PREFIX}throttle:{key}"

    async def newest(self, key: str, after: float, count: int) -> list[float]:
        flat = await guarded(self._newest(keys=[self._key(key)], args=[after, count]))
        return [float(score) for score in flat[1::2]]  # [member, score, member, score, ...]

    async def add(self, key: str, at: float, keep_for: float) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self._key(key), {f"{at}:{uuid.uuid4().hex[:8]}": at})
            pipe.pexpire(self._key(key), math.ceil(keep_for * 1000))
            await guarded(pipe.execute())

    async def clear(self, key: str) -> None:
        await guarded(self._redis.delete(self._key(key)))


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


# Forget the run ``ARGV[1]`` only if replica ``ARGV[2]`` still runs it.
CLOSE_RUN = """
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value and cjson.decode(value).replica == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
"""


class RedisRunBoard:
    def __init__(self, redis: Redis, clock: Callable[[], float]) -> None:
        self._redis = redis
        self._clock = clock
        self._close = redis.register_script(CLOSE_RUN)

    @staticmethod
    def _key(user_id: int) -> str:
        return f"{PREFIX}runs:{user_id}"

    def _value(self, run: OpenRun) -> str:
        return json.dumps(
            {
                "run_id": run.run_id,
                "replica": run.replica,
                "opened_at": run.opened_at,
                "seen": self._clock(),
            }
        )

    async def open(self, user_id: int, run: OpenRun) -> None:
        await self.refresh([(user_id, run)])

    async def close(self, user_id: int, run: OpenRun) -> None:
        await guarded(self._close(keys=[self._key(user_id)], args=[run.reply_to, run.replica]))

    async def refresh(self, held: list[tuple[int, OpenRun]]) -> None:
        if not held:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, run in held:
                pipe.hset(self._key(user_id), run.reply_to, self._value(run))
                pipe.pexpire(self._key(user_id), math.ceil(RUN_STALE_AFTER * 2000))
            await guarded(pipe.execute())

    async def listed(self, user_id: int) -> list[OpenRun]:
        entries = await guarded(self._redis.hgetall(self._key(user_id)))
        fresh_after = self._clock() - RUN_STALE_AFTER
        runs = []
        for reply_to, raw in entries.items():
            try:
                data = json.loads(raw)
                if float(data["seen"]) >= fresh_after:
                    runs.append(
                        OpenRun(reply_to, data["run_id"], data["replica"], data["opened_at"])
                    )
            except (ValueError, KeyError, TypeError):
                continue
        return sorted(runs, key=lambda r: r.opened_at)


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
        case RunAsked():
            return json.dumps(
                {
                    "type": "run_asked",
                    "session": signal.session.hex(),
                    "replica": signal.replica,
                    "user_id": signal.user_id,
                    "reply_to": signal.reply_to,
                    "action": signal.action,
                    "tab": signal.tab,
                    "asker": signal.asker,
                }
            )
        case RunRelayed():
            return json.dumps(
                {
                    "type": "run_relayed",
                    "session": signal.session.hex(),
                    "replica": signal.replica,
                    "tab": signal.tab,
                    "reply_to": signal.reply_to,
                    "frame": signal.frame,
                    "last": signal.last,
                },
                ensure_ascii=False,
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
        if data["type"] == "run_asked":
            return RunAsked(
                str(data["replica"]),
                int(data["user_id"]),
                str(data["reply_to"]),
                str(data["action"]),
                session,
                str(data["tab"]),
                str(data["asker"]),
            )
        if data["type"] == "run_relayed":
            frame = data["frame"]
            return RunRelayed(
                str(data["replica"]),
                session,
                str(data["tab"]),
                str(data["reply_to"]),
                None if frame is None else str(frame),
                bool(data["last"]),
            )
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
        self._first_attempt = asyncio.Event()

    def subscribe(self, handler: Handler) -> None:
        self._handlers.append(handler)

    async def publish(self, signal: Signal) -> None:
        await guarded(self._redis.publish(CHANNEL, encode_signal(signal)))

    async def start(self, wait: float = 2.0) -> None:
        """Subscribe in the background; returns once subscribed (so no signal published after
        start-up is missed), or once the first attempt failed: Redis may come later."""
        if self._task is None:
            self._task = asyncio.create_task(self._listen())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._first_attempt.wait(), wait)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        delay = 0.1
        listening = False
        while True:
            # No read timeout: a quiet channel is normal; a dead Redis resets the connection.
            client = Redis.from_url(self._url, decode_responses=True, socket_connect_timeout=0.5)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(CHANNEL)
                listening = True
                self._first_attempt.set()
                delay = 0.1
                async for message in pubsub.listen():
                    signal = decode_signal(message.get("data", ""))
                    if signal is not None:
                        await self._deliver(signal)
            except DOWN as exc:
                if listening:
                    log.warning("signal channel lost (%s); reconnecting", exc.__class__.__name__)
                listening = False
                self._first_attempt.set()
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


class RedisPersistence:
    """Owns one Redis client (and the subscriber's own connection)."""

    def __init__(self, url: str, clock: Callable[[], float]) -> None:
        self.redis = connect(url)
        self.users = RedisUsers(self.redis)
        self.sessions = RedisSessions(self.redis)
        self.hits = RedisHits(self.redis)
        self.history = RedisHistory(self.redis, clock)
        self.presence = RedisPresence(self.redis, clock)
        self.signals = RedisSignals(url, self.redis)
        self.runs = RedisRunBoard(self.redis, clock)

    async def start(self) -> None:
        await self.signals.start()

    async def close(self) -> None:
        await self.signals.stop()
        await self.redis.aclose()

    async def secret(self, name: str, new: bytes) -> bytes:
        key = f"{PREFIX}secret:{name}"
        await guarded(self.redis.set(key, new.hex(), nx=True))  # the first replica's wins
        return bytes.fromhex(await guarded(self.redis.get(key)))

    async def health(self) -> bool:
        try:
            return bool(await guarded(self.redis.ping()))
        except StorageUnavailable:
            return False
