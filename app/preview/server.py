"""The server of preview mode, simulated inside the page, in Python.

It answers the same requests and speaks the same socket protocol as ``server.py`` (see
docs/protocol.md), through the :class:`app.net.link.ServerLink` interface, so the auth store,
the connection core and the panel run unchanged.  Any non-empty user name signs in; the guide
agent's answers stream a few words at a time.  :class:`Behaviour` makes it misbehave on purpose
(refuse, fail, hang) so the preview toolbar can show every state::

    server = PreviewServer()
    server.behaviour = Behaviour(validation=Answer.DOWN)  # the next validation gets no answer

Only :mod:`asyncio` is used: it runs the same under CPython (tests/app/preview) and Pyodide.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from app.net.link import Reply
from app.wire import frames, guide
from app.wire.agent_runs import CUT_STOPPED, STOPPED, failure
from app.wire.client_frames import Ping, ProtocolError, Stop, parse_client_frame
from app.wire.close_codes import ABNORMAL, NORMAL, REPLACED, UNAUTHORIZED
from app.wire.limits import ABSOLUTE_TIMEOUT, HISTORY_LIMIT, IDLE_TIMEOUT
from app.wire.urls import (
    LOGIN_URL,
    LOGOUT_ALL_URL,
    LOGOUT_URL,
    MODE_PARAM,
    PER_TAB_MODE,
    SESSION_URL,
    TAB_PARAM,
)

SESSION_SECONDS = ABSOLUTE_TIMEOUT


class Answer(StrEnum):
    OK = "ok"  # behave like a healthy server
    REJECT = "reject"  # 401: session gone / wrong password
    THROTTLE = "throttle"  # 429 with Retry-After (sign-in only)
    DOWN = "down"  # no answer at all: a network error
    HANG = "hang"  # never answer (until the behaviour is reset)


class Sockets(StrEnum):
    OK = "ok"
    REFUSE = "refuse"  # the handshake fails: the browser reports 1006
    HANG = "hang"  # the handshake never completes


@dataclass(frozen=True)
class Behaviour:
    validation: Answer = Answer.OK
    login: Answer = Answer.OK
    sockets: Sockets = Sockets.OK
    latency: float = 0.12  # seconds per HTTP answer and socket handshake
    retry_after: int = 30  # seconds, for THROTTLE
    stream_delay: float = 0.04  # seconds between streamed chunks
    words_per_chunk: int = 3


@dataclass
class SocketEvent:
    """What the browser hands to WebSocket handlers: ``data`` for messages, ``code`` for
    closes."""

    type: str
    data: str | None = None
    code: int = 0
    reason: str = ""


class SimulatedSocket:
    """Looks like the browser's ``WebSocket`` to the transport; events arrive asynchronously,
    as they would from a real one."""

    CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3

    def __init__(self, server: PreviewServer, url: str) -> None:
        self.url = url
        self.readyState = self.CONNECTING
        self.onopen: Any = None
        self.onmessage: Any = None
        self.onclose: Any = None
        self._server = server

    # the page's side
    def send(self, data: str) -> None:
        if self.readyState == self.CONNECTING:
            raise RuntimeError("InvalidStateError: still connecting")
        if self.readyState == self.OPEN:
            self._server._receive(self, data)

    def close(self, code: int = NORMAL, reason: str = "") -> None:
        if self.readyState in (self.CLOSING, self.CLOSED):
            return
        self.readyState = self.CLOSING
        self._server._forget(self)
        _later(0, self._closed, code, reason)

    # the server's side
    def _open(self) -> None:
        if self.readyState == self.CONNECTING:
            self.readyState = self.OPEN
            self._fire(self.onopen, SocketEvent("open"))

    def _deliver(self, frame: dict) -> None:
        if self.readyState == self.OPEN:
            self._fire(self.onmessage, SocketEvent("message", data=frames.dumps(frame)))

    def _closed(self, code: int, reason: str = "") -> None:
        if self.readyState == self.CLOSED:
            return
        self.readyState = self.CLOSED
        self._server._forget(self)
        self._fire(self.onclose, SocketEvent("close", code=code, reason=reason))

    @staticmethod
    def _fire(handler: Any, event: SocketEvent) -> None:
        if handler is not None:
            handler(event)


def _later(delay: float, callback: Callable[..., None], *args: Any) -> asyncio.TimerHandle:
    return asyncio.get_event_loop().call_later(delay, callback, *args)


def _error(status: int, code: str, message: str, headers: dict | None = None) -> Reply:
    return status, {"error": {"code": code, "message": message}}, headers or {}


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))


@dataclass
class Stats:
    """What happened, for tests and the toolbar (``window.pychatPreview()``)."""

    requests: int = 0
    sockets_opened: int = 0
    content_frames: int = 0


@dataclass
class PreviewServer:
    """One simulated server per page.  ``user`` is who is signed in (the simulated session
    cookie); ``remember`` is told whenever it changes so a reload can keep it."""

    user: str | None = None
    remember: Callable[[str | None], None] = lambda _user: None
    clock: Callable[[], float] = time.time
    behaviour: Behaviour = field(default_factory=Behaviour)
    history: list[dict] = field(default_factory=list)
    stats: Stats = field(default_factory=Stats)
    expires_at: float = 0.0
    _sockets: list[SimulatedSocket] = field(default_factory=list)
    _hanging: set[asyncio.Future] = field(default_factory=set)
    _runs: set[asyncio.Task] = field(default_factory=set)
    _answering: dict[str, asyncio.Task] = field(default_factory=dict)  # by the message answered
    _stopped: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        if self.user is not None:
            self.expires_at = self.clock() + SESSION_SECONDS

    # ------------------------------------------------------------------ HTTP

    async def request(self, method: str, url: str, body: dict | None = None) -> Reply:
        self.stats.requests += 1
        route = (method, url.split("?")[0].removeprefix("./"))
        # local-first: answered whatever the mood (one simulated user has one session)
        if route in (("POST", LOGOUT_URL), ("POST", LOGOUT_ALL_URL)):
            await asyncio.sleep(self.behaviour.latency)
            self._sign_out()
            return 204, None, {}
        answer = {
            ("GET", SESSION_URL): self.behaviour.validation,
            ("POST", LOGIN_URL): self.behaviour.login,
        }.get(route)
        if answer is None:
            return _error(404, "not_found", "No such endpoint.")
        if answer is Answer.HANG:
            await self._hang()  # until reset(), which answers as a network error would
            return None, None, None
        await asyncio.sleep(self.behaviour.latency)
        if answer is Answer.DOWN:
            return None, None, None
        if route[1] == SESSION_URL:
            if answer is Answer.OK and self.user is not None:
                return 200, self._session_body(), {}
            return _error(401, "not_signed_in", "Not signed in.")
        return self._login(answer, body or {})

    def _login(self, answer: Answer, body: dict) -> Reply:
        if answer is Answer.THROTTLE:
            seconds = self.behaviour.retry_after
            return _error(
                429,
                "throttled",
                f"Too many sign-in attempts. Try again in {seconds} seconds.",
                {"Retry-After": str(seconds)},
            )
        name = body.get("username")
        if not isinstance(name, str) or not name.strip():
            return _error(422, "bad_request", "The field 'username' must be a non-empty string.")
        if answer is Answer.REJECT:
            return _error(401, "invalid_credentials", "Wrong user name or password.")
        self.sign_in_as(name.strip()[:64])
        return 200, self._session_body(), {}

    def _session_body(self) -> dict:
        return {"user": {"name": self.user}, "expires_at": _iso(self.expires_at)}

    async def _hang(self) -> None:
        future = asyncio.get_event_loop().create_future()
        self._hanging.add(future)
        try:
            await future
        finally:
            self._hanging.discard(future)

    # ------------------------------------------------------------------ sockets

    def open_socket(self, url: str) -> SimulatedSocket:
        socket = SimulatedSocket(self, url)
        self.stats.sockets_opened += 1
        mode = self.behaviour.sockets
        if mode is Sockets.REFUSE:
            _later(self.behaviour.latency, socket._closed, ABNORMAL)
        elif mode is Sockets.OK:
            _later(self.behaviour.latency, self._accept, socket)
        return socket  # Sockets.HANG: it stays CONNECTING

    def _accept(self, socket: SimulatedSocket) -> None:
        if socket.readyState != socket.CONNECTING:
            return
        socket._open()
        if self.user is None:  # accept-then-close, as the real server reports auth failures
            socket._closed(UNAUTHORIZED, "not signed in")
            return
        tab = _tab_of(socket.url)  # None: the session's one socket
        for other in [s for s in self._sockets if _tab_of(s.url) == tab]:
            other._closed(REPLACED, "replaced by a newer connection")
        self._sockets.append(socket)
        socket._deliver(frames.welcome(self.user, _iso(self.expires_at), tab))
        socket._deliver(frames.history(self.history[-HISTORY_LIMIT:]))

    def _forget(self, socket: SimulatedSocket) -> None:
        if socket in self._sockets:
            self._sockets.remove(socket)

    def _receive(self, socket: SimulatedSocket, raw: str) -> None:
        try:
            frame = parse_client_frame(raw)
        except ProtocolError as exc:
            socket._deliver(frames.error(exc.code, exc.message, exc.message_id))
            return
        if isinstance(frame, Ping):
            socket._deliver(frames.pong(frame.id))
            return
        if isinstance(frame, Stop):  # as the real server: stopping what is not running is no error
            run = self._answering.get(frame.id)
            if run is not None and not run.done():
                self._stopped.add(frame.id)
                run.cancel()
            return
        duplicate = any(m["id"] == frame.id for m in self.history)
        socket._deliver(frames.ack(frame.id, duplicate=duplicate))
        if not duplicate:
            self._store(frame.id, "user", frame.text)
            run = asyncio.ensure_future(self._answer(socket, frame.id, frame.text))
            self._runs.add(run)
            self._answering[frame.id] = run
            run.add_done_callback(self._runs.discard)
            run.add_done_callback(lambda _run, mid=frame.id: self._answering.pop(mid, None))

    def _store(self, message_id: str, role: str, text: str, cut: str | None = None) -> None:
        message = {"id": message_id, "role": role, "text": text, "created_at": self.clock()}
        if cut is not None:
            message["cut"] = cut
        self.history.append(message)

    async def _answer(self, asked: SimulatedSocket, reply_to: str, text: str) -> None:
        """Stream the guide's reply to the asking tab's current socket, then store it."""
        tab = _tab_of(asked.url)
        facts = guide.Facts(
            self.user or "", self.expires_at, IDLE_TIMEOUT, self.clock(), len(self._sockets)
        )
        run_id, message_id = uuid.uuid4().hex, f"a-{uuid.uuid4().hex}"
        behaviour = self.behaviour

        def send(frame: dict) -> None:
            for socket in self._sockets:
                if _tab_of(socket.url) == tab:
                    socket._deliver(frame)

        send(frames.run_started("preview", run_id, reply_to))
        send(frames.text_start(message_id))
        answer = guide.reply(text, facts)
        shown = ""
        try:
            for chunk in guide.chunks(answer, behaviour.words_per_chunk):
                await asyncio.sleep(behaviour.stream_delay)
                self.stats.content_frames += 1
                send(frames.text_content(message_id, chunk))
                shown += chunk
        except asyncio.CancelledError:
            if reply_to not in self._stopped:
                raise  # reset(): the toolbar moves on, nothing more is said
            self._stopped.discard(reply_to)
            if shown:
                self._store(message_id, "assistant", shown, CUT_STOPPED)
            send(frames.run_error(failure(STOPPED).message, STOPPED, reply_to))
            return
        send(frames.text_end(message_id))
        self._store(message_id, "assistant", answer)
        send(frames.run_finished("preview", run_id, reply_to))

    # ------------------------------------------------------------------ the toolbar's levers

    def reset(self, behaviour: Behaviour | None = None) -> None:
        """Back to a healthy server (or ``behaviour``): hung requests are released as network
        errors, handshakes in flight fail, streaming replies stop."""
        self.behaviour = behaviour or Behaviour()
        for future in list(self._hanging):
            if not future.done():
                future.set_result(None)
        for run in list(self._runs):
            run.cancel()

    def sign_in_as(self, user: str | None) -> None:
        """Who the simulated session belongs to (``None``: nobody); sockets are left alone."""
        self.user = user
        self.expires_at = self.clock() + SESSION_SECONDS if user else 0.0
        self.remember(user)

    def misbehave(self, **changes: Any) -> None:
        self.behaviour = replace(self.behaviour, **changes)

    def drop_sockets(self, code: int = ABNORMAL, reason: str = "") -> int:
        """Close every open socket from the server's side (1006: the connection was lost)."""
        sockets = list(self._sockets)
        for socket in sockets:
            socket._closed(code, reason)
        return len(sockets)

    def expire_session(self) -> None:
        """The session ends on the server (expiry, revocation): its sockets close with 4401."""
        self._sign_out()

    def replace_history(self, messages: list[dict]) -> None:
        """Swap the stored conversation and push all of it to open sockets as a ``history``
        frame (uncapped, unlike a greeting: the stress cases want hundreds on screen)."""
        self.history = list(messages)
        for socket in list(self._sockets):
            socket._deliver(frames.history(self.history))

    def _sign_out(self) -> None:
        self.sign_in_as(None)
        self.drop_sockets(UNAUTHORIZED, "signed out")


def _tab_of(url: str) -> str | None:
    """The tab of a per-tab socket (``?mode=tab&tab=…``); ``None`` for the session's one."""
    query = dict(pair.partition("=")[::2] for pair in url.partition("?")[2].split("&"))
    if query.get(MODE_PARAM) != PER_TAB_MODE:
        return None
    return query.get(TAB_PARAM, "")
