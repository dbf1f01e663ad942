"""``/api/ws``: the session's one chat socket (or, declared per-tab mode, one per tab).

Order of checks on a new connection, each with the answer a browser can see:

1. ``Origin`` must be in the exact allowlist, else HTTP 403 before the upgrade.
2. The request must be a WebSocket upgrade, else HTTP 400.
3. Session from the cookie (or ``Authorization: Bearer``; never the query string), else
   accept-and-close 4401, because a browser cannot read the status of a refused handshake.
4. Admission (:class:`~backend.ratelimit.Admission`): fair per client address and per
   session, then at most ``ws_handshakes_per_second`` for the process (burst 10), else HTTP
   503; the browser sees a failed handshake (1006) and backs off with jitter, which spreads a
   storm.  The cheap refusals above come first and never count, so requests without a
   session cannot spend the allowance, and one client cannot take more than its share.
5. Upgrade (no compression, 64 KiB frames, protocol pings every ``ws_heartbeat`` seconds).
6. One socket per session: a newer one replaces the older (4409).  A client whose tabs cannot
   share one socket declares per-tab mode (``?mode=tab&tab=<id>``): then one socket per tab
   (the older one of that tab gets 4409), at most five per session (4429).  Both rules hold
   across every replica (see :mod:`backend.hub`).

If the storage cannot be reached (shared storage down), the socket closes with 1013 "try again
later" at any of these steps or when a message cannot be stored; the client keeps what it had
not got acknowledged and retries with backoff.

Then ``welcome`` and ``history`` frames, and the receive loop: every frame is rate limited,
parsed strictly and answered; a chat message is acknowledged by id, stored once and answered
by an agent run (:mod:`backend.runs`), whose AG-UI events stream to the slot's current socket
(after a reconnect or a change of leading tab, the newer socket); a stop frame stops that run.
See docs/protocol.md.

Every step reports to :mod:`backend.metrics` (a handshake's outcome once, each close's code,
each message's acknowledgement latency).
"""

from __future__ import annotations

import logging
import time
import uuid

from aiohttp import WSMsgType, web

from app.wire import frames
from app.wire.client_frames import (
    ID_PATTERN,
    ChatText,
    Ping,
    ProtocolError,
    Stop,
    dumps,
    parse_client_frame,
)
from app.wire.close_codes import (
    MALFORMED,
    RATE_LIMITED,
    SERVICE_RESTART,
    TRY_AGAIN_LATER,
    UNAUTHORIZED,
    UNSUPPORTED_DATA,
)
from app.wire.limits import HISTORY_LIMIT, MAX_FRAME, SOCKETS_PER_SESSION
from app.wire.urls import MODE_PARAM, PER_TAB_MODE, SOCKET_URL, TAB_PARAM
from backend import auth
from backend.agent import Agent
from backend.errors import json_error
from backend.hub import SESSION_SLOT, Connection, Hub
from backend.keys import HUB, SETTINGS, STORAGE
from backend.metrics import METRICS, Handshake
from backend.middleware import client_address
from backend.ratelimit import Admission, TokenBucket, WindowCounter
from backend.runs import RUNS, RunManager
from backend.sessions import TOUCH_EVERY, Session
from backend.storage import Claim, StorageUnavailable

log = logging.getLogger("pychat.ws")

ORIGINS = web.AppKey("ws_origins", frozenset)
ADMISSION = web.AppKey("ws_admission", Admission)
ADMISSION_BURST = 10
# What one client may take at once: a session's full set of sockets and the one refused with
# 4429.  Below ADMISSION_BURST, so the rest of the allowance is always someone else's.
KEY_BURST = SOCKETS_PER_SESSION + 1


class Limits:
    """Per-connection abuse limits (numbers from the issue: 100/min with a burst of 20)."""

    __slots__ = ("bucket", "invalid", "rate_strikes")

    def __init__(self, settings) -> None:
        clock = settings.clock
        self.bucket = TokenBucket(settings.ws_rate_per_minute / 60, settings.ws_burst, clock)
        self.rate_strikes = WindowCounter(settings.ws_rate_strikes, 10.0, clock)
        self.invalid = WindowCounter(20, 5.0, clock)


def slot_of(request: web.Request) -> str:
    """The session's one socket, unless the client declares per-tab mode (docs/protocol.md)."""
    if request.query.get(MODE_PARAM) != PER_TAB_MODE:
        return SESSION_SLOT
    tab = request.query.get(TAB_PARAM, "")
    return tab if ID_PATTERN.fullmatch(tab) else uuid.uuid4().hex


async def chat_socket(request: web.Request) -> web.StreamResponse:
    app = request.app
    metrics = app[METRICS]
    origin = request.headers.get("Origin")
    if origin is None or origin not in app[ORIGINS]:
        metrics.handshake(Handshake.FORBIDDEN_ORIGIN)
        return json_error(
            403, "forbidden_origin", "WebSocket connections from this origin are refused."
        )
    settings = app[SETTINGS]
    ws = web.WebSocketResponse(
        # aiohttp refuses frames of max_msg_size bytes or more; +1 admits exactly 64 KiB.
        max_msg_size=MAX_FRAME + 1,
        compress=False,
        heartbeat=settings.ws_heartbeat,
        autoping=True,
    )
    if not ws.can_prepare(request).ok:
        metrics.handshake(Handshake.NOT_WEBSOCKET)
        return json_error(400, "not_websocket", "This endpoint speaks WebSocket only.")
    storage_down = False
    try:
        session = await app[STORAGE].sessions.validate(auth.request_token(request))
    except StorageUnavailable:
        session, storage_down = None, True
    if session is not None and not app[ADMISSION].admit(
        client_address(request), session.token_hash
    ):
        metrics.handshake(Handshake.BUSY)
        return json_error(
            503, "busy", "Too many connections at once. Try again shortly.", {"Retry-After": "1"}
        )
    await ws.prepare(request)
    conn: Connection | None = None
    refused: int | None = None  # the code a refused socket was closed with
    try:
        if storage_down:
            raise StorageUnavailable("the session could not be looked up")
        admitted = await _admit(request, ws, session)
        if isinstance(admitted, Connection):
            conn = admitted
            await _serve(request, conn)
        else:
            refused = admitted
    except StorageUnavailable:
        if conn is None:
            metrics.handshake(Handshake.STORAGE_UNAVAILABLE)
        log.warning("storage unavailable: socket closed with 1013")
        await ws.close(code=TRY_AGAIN_LATER, message=b"storage unavailable, try again later")
        refused = TRY_AGAIN_LATER
    # The code that ended it: ours when we closed it, the client's otherwise.
    ours = refused if refused is not None else conn.closed_with if conn is not None else None
    metrics.closed(ours if ours is not None else ws.close_code)
    return ws


async def _admit(
    request: web.Request, ws: web.WebSocketResponse, session: Session | None
) -> Connection | int:
    """Register the socket of ``session``; if refused, the code it was closed with."""
    app = request.app
    settings = app[SETTINGS]
    metrics = app[METRICS]
    if session is None:
        metrics.handshake(Handshake.UNAUTHORIZED)
        await ws.close(code=UNAUTHORIZED, message=b"not signed in")
        return UNAUTHORIZED
    slot = slot_of(request)
    now = settings.clock()
    conn = Connection(
        ws,
        session.token_hash,
        session.user_id,
        session.user_name,
        slot,
        connected_at=now,
        deadline=session.idle_expires_at,
        expires_at=session.expires_at,
        last_touch=now,
    )
    hub = app[HUB]
    conn.owner = hub.new_owner()
    claim = await hub.register(conn)
    if claim is Claim.FULL:
        metrics.handshake(Handshake.SESSION_FULL)
        await ws.close(code=RATE_LIMITED, message=b"too many connections for this session")
        return RATE_LIMITED
    metrics.handshake(Handshake.REPLACED if claim is Claim.REPLACED else Handshake.ACCEPTED)
    return conn


async def _serve(request: web.Request, conn: Connection) -> None:
    app = request.app
    storage = app[STORAGE]
    try:
        tab = None if conn.tab == SESSION_SLOT else conn.tab
        await conn.send(dumps(frames.welcome(conn.user_name, auth.iso(conn.expires_at), tab)))
        recent = await storage.history.recent(conn.user_id, HISTORY_LIMIT)
        await conn.send(dumps(frames.history([m.wire() for m in recent])))
        del recent  # nothing of the greeting stays alive with an idle socket
        await _receive(request, conn, Limits(app[SETTINGS]))
    finally:
        await app[HUB].unregister(conn)


async def _receive(request: web.Request, conn: Connection, limits: Limits) -> None:
    async for message in conn.ws:
        if conn.closing:
            break
        if message.type == WSMsgType.BINARY:
            await conn.close(UNSUPPORTED_DATA, "text frames only")
            break
        if message.type != WSMsgType.TEXT:
            break
        if not limits.bucket.take():
            if limits.rate_strikes.add():
                await conn.close(RATE_LIMITED, "rate limited")
                break
            await conn.send(dumps(frames.error("rate_limited", "Slow down: too many messages.")))
            continue
        try:
            frame = parse_client_frame(message.data)
        except ProtocolError as exc:
            if limits.invalid.add():
                await conn.close(MALFORMED, "too many malformed messages")
                break
            await conn.send(dumps(frames.error(exc.code, exc.message, exc.message_id)))
            continue
        await _handle(request, conn, frame)


async def _handle(request: web.Request, conn: Connection, frame: ChatText | Ping | Stop) -> None:
    app = request.app
    if isinstance(frame, Ping):
        await conn.send(dumps(frames.pong(frame.id)))
        return
    if isinstance(frame, Stop):  # nothing to stop (already finished) is not an error
        await app[RUNS].stop_from(conn, frame.id)
        return
    started = app[METRICS].message_received()
    now = app[SETTINGS].clock()
    storage = app[STORAGE]
    if now - conn.last_touch >= TOUCH_EVERY:  # a message is activity: slide the session
        session = await storage.sessions.validate_hash(conn.session_hash)
        if session is None:
            await app[HUB].close_session(conn.session_hash, UNAUTHORIZED, "session expired")
            return
        conn.last_touch, conn.expires_at = now, session.expires_at
        app[HUB].touch(conn.session_hash, session.idle_expires_at)
    # Not acknowledged unless stored: if this raises, the socket closes with 1013 and the
    # client resends the message after reconnecting.
    stored = await storage.history.add(conn.user_id, frame.id, "user", frame.text)
    if await conn.send(dumps(frames.ack(frame.id, duplicate=stored is None))):
        app[METRICS].acknowledged_since(started, duplicate=stored is None)
    if stored is not None:
        await app[RUNS].start(conn, frame.id)


async def _shutdown(app: web.Application) -> None:
    await app[HUB].close_all(SERVICE_RESTART, "server restart")
    await app[RUNS].close()


def setup(app: web.Application, settings, agent: Agent) -> None:
    storage = app[STORAGE]
    app[HUB] = Hub(storage.sessions.deadline, settings.clock, storage.presence, storage.signals)
    app[RUNS] = RunManager(
        agent,
        app[HUB],
        storage.history,
        settings.clock,
        storage.runs,
        storage.signals,
        idle_timeout=settings.idle_timeout,
        runs_per_user=settings.agent_runs_per_user,
        runs_per_server=settings.agent_runs_per_server,
        run_limit=settings.agent_run_limit,
    )
    app[HUB].session_listeners.append(app[RUNS].end_session)
    lifespan = getattr(agent, "lifespan", None)  # agents with a client to open and close
    if lifespan is not None:
        app.cleanup_ctx.append(lifespan)
    app[ORIGINS] = settings.allowed_origins
    app[ADMISSION] = Admission(
        settings.ws_handshakes_per_second, ADMISSION_BURST, KEY_BURST, time.monotonic
    )
    app[METRICS].sockets_open.set_function(lambda: app[HUB].count())
    app.cleanup_ctx.append(app[HUB].run_sweeper)
    app.cleanup_ctx.append(app[RUNS].run_leases)
    app.on_shutdown.append(_shutdown)
    app.router.add_get("/" + SOCKET_URL, chat_socket)
