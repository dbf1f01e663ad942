"""The browser driver of the managed socket: performs what :mod:`app.net.connection` decides.

This and :mod:`app.chat.panel` are the lazily loaded half of the browser shell: the only chat
modules that touch ``js``.  One :class:`ChatConnection` exists per signed-in page, created by
the :class:`~app.net.registry.ConnectionRegistry`; nothing else constructs a WebSocket.

It owns the conversation (and so the outbox), the named timers and the JS proxies of the
current socket.  Proxies are destroyed as soon as their socket is closed or replaced, and
:meth:`stop` cancels every timer and drops the queue, so nothing of a signed-out user survives.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import js
from pyodide.ffi import create_proxy

from app.chat.conversation import ALL, Accepted, Conversation
from app.chat.protocol import Welcome as WelcomeFrame
from app.chat.protocol import message_frame, parse, ping_frame
from app.net.connection import (
    CancelTimer,
    CheckSession,
    Closed,
    CloseSocket,
    Conn,
    ConnEvent,
    ConnState,
    Flush,
    Offline,
    Online,
    Opened,
    OpenSocket,
    Received,
    RetryRequested,
    SendPing,
    SessionChecked,
    SessionEnded,
    Start,
    StartTimer,
    Stop,
    Timer,
    TimerFired,
    Visible,
    Welcome,
    transition,
)
from app.net.link import ServerLink
from app.wire.close_codes import NORMAL
from app.wire.urls import SESSION_URL, SOCKET_URL

TAB_ID = uuid.uuid4().hex  # per page load: a new tab (or a reload) never replaces another tab


@dataclass(frozen=True)
class Change:
    connection: bool = False
    messages: tuple[str, ...] = ()
    all_messages: bool = False


Listener = Callable[[Change], None]


class Stats:
    """Counters the e2e tests read through ``window.pychatStats()``."""

    sockets_created = 0
    live_proxies = 0
    live_timers = 0


def new_proxy(handler: Callable[..., Any]) -> Any:
    """A counted ``create_proxy``: every proxy made here is destroyed by :func:`destroy`."""
    Stats.live_proxies += 1
    return create_proxy(handler)


def destroy(proxy: Any) -> None:
    proxy.destroy()
    Stats.live_proxies -= 1


class Listeners:
    """DOM event listeners owned by one component, removed and destroyed together."""

    def __init__(self) -> None:
        self._items: list[tuple[Any, str, Any]] = []

    def add(self, target: Any, name: str, handler: Callable[[Any], None]) -> None:
        proxy = new_proxy(handler)
        target.addEventListener(name, proxy)
        self._items.append((target, name, proxy))

    def clear(self) -> None:
        for target, name, proxy in self._items:
            target.removeEventListener(name, proxy)
            destroy(proxy)
        self._items.clear()


class BrowserLink:
    """The real server: the browser's ``WebSocket`` (constructed here and nowhere else) and the
    shell's ``fetch``.  Preview mode passes its simulated server instead (same two methods)."""

    @staticmethod
    def request(method: str, url: str, body: dict | None = None) -> Any:
        from app.browser.shell import request

        return request(method, url, body)

    @staticmethod
    def open_socket(url: str) -> Any:
        return js.WebSocket.new(url)


def socket_url() -> str:
    url = js.URL.new(SOCKET_URL, js.location.href)
    url.protocol = "wss:" if js.location.protocol == "https:" else "ws:"
    url.search = f"?tab={TAB_ID}"
    return str(url.href)


class ChatConnection:
    def __init__(
        self,
        user: str,
        on_session_ended: Callable[[], None],
        link: ServerLink | None = None,
        timer_scale: Callable[[], float] | None = None,
    ) -> None:
        """``link`` is the server (default: the real one); ``timer_scale()`` divides every
        timer's delay (default 1: preview mode fast-forwards to slow states with it)."""
        self.user = user
        self.on_session_ended = on_session_ended
        self.link: ServerLink = link if link is not None else BrowserLink()
        self.timer_scale = timer_scale or (lambda: 1.0)
        self.conn = Conn(online=bool(js.navigator.onLine))
        self.conversation = Conversation()
        self.rng = random.Random()
        self.listeners: list[Listener] = []
        self._ws: Any = None
        self._ws_generation = 0
        self._socket_proxies: list[Any] = []
        self._page_listeners = Listeners()
        self._timers: dict[Timer, asyncio.TimerHandle] = {}
        self._pings = 0
        self._tasks: set[asyncio.Future] = set()

    # ------------------------------------------------------------ ManagedSocket

    def start(self) -> None:
        listen = self._page_listeners.add
        listen(js.window, "online", lambda _e: self.dispatch(Online(time.time())))
        listen(js.window, "offline", lambda _e: self.dispatch(Offline()))
        listen(js.document, "visibilitychange", self._on_visibility)
        self.dispatch(Start(time.time()))

    def stop(self) -> None:
        self.dispatch(Stop())
        self._page_listeners.clear()
        for timer in list(self._timers):
            self._cancel_timer(timer)
        self._drop_socket()
        self.conversation.clear()  # the queue never goes out under another user
        self.listeners.clear()

    # ------------------------------------------------------------ for the panel

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    def send_message(self, text: str) -> Accepted:
        message_id = uuid.uuid4().hex
        accepted = self.conversation.send(message_id, text)
        if accepted is Accepted.OK:
            if self.conn.state is ConnState.OPEN:
                self._send(message_frame(message_id, text))
            self._notify(Change(messages=(message_id,)))
        return accepted

    def retry_message(self, message_id: str) -> None:
        if self.conversation.retry(message_id):
            message = self.conversation.find(message_id)
            if self.conn.state is ConnState.OPEN and message is not None:
                self._send(message_frame(message.id, message.text))
            self._notify(Change(messages=(message_id,)))

    def retry_connection(self) -> None:
        self.dispatch(RetryRequested(time.time()))

    # ------------------------------------------------------------ the core

    def dispatch(self, event: ConnEvent) -> None:
        before = self.conn
        self.conn, effects = transition(before, event, self.rng)
        for effect in effects:
            self._perform(effect)
        if self.conn != before and not isinstance(event, Received):
            self._notify(Change(connection=True))

    def _perform(self, effect: Any) -> None:
        match effect:
            case OpenSocket(generation=g):
                self._open(g)
            case CloseSocket(generation=g, code=code, reason=reason):
                if self._ws is not None and self._ws_generation == g:
                    self._ws.close(code, reason)
                    self._drop_socket()
            case StartTimer(timer=timer, delay=delay, generation=g):
                self._start_timer(timer, delay, g)
            case CancelTimer(timer=timer):
                self._cancel_timer(timer)
            case SendPing():
                self._pings += 1
                self._send(ping_frame(self._pings))
            case Flush():
                for message in self.conversation.pending():
                    self._send(message_frame(message.id, message.text))
            case CheckSession():
                task = asyncio.ensure_future(self._check_session())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            case SessionEnded():
                self.on_session_ended()

    # ------------------------------------------------------------ sockets

    def _open(self, generation: int) -> None:
        self._drop_socket()
        ws = self.link.open_socket(socket_url())
        Stats.sockets_created += 1
        self._ws, self._ws_generation = ws, generation
        handlers = {
            "open": lambda _e: self.dispatch(Opened(generation, time.time())),
            "message": lambda e: self._on_frame(generation, e.data),
            "close": lambda e: self._on_close(generation, int(e.code)),
        }
        for name, handler in handlers.items():
            proxy = new_proxy(handler)
            self._socket_proxies.append(proxy)
            setattr(ws, f"on{name}", proxy)

    def _drop_socket(self) -> None:
        """Detach and destroy the current socket's handlers (the socket itself is closed)."""
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.onopen = ws.onmessage = ws.onclose = None
            if int(ws.readyState) in (0, 1):  # CONNECTING, OPEN
                ws.close(NORMAL, "replaced")
        self._release_socket_proxies()

    def _release_socket_proxies(self) -> None:
        for proxy in self._socket_proxies:
            destroy(proxy)
        self._socket_proxies.clear()

    def _on_close(self, generation: int, code: int) -> None:
        if generation == self._ws_generation:
            self._ws = None
            self._release_socket_proxies()
        self.dispatch(Closed(generation, code, time.time()))

    def _on_frame(self, generation: int, data: Any) -> None:
        if generation != self.conn.generation or not isinstance(data, str):
            return
        now = time.time()
        self.dispatch(Received(generation, now))
        frame = parse(data)
        if isinstance(frame, WelcomeFrame):
            self.dispatch(Welcome(generation, now))
            return
        changed = self.conversation.apply(frame)
        if changed == ALL:
            self._notify(Change(all_messages=True))
        elif changed:
            self._notify(Change(messages=(changed,)))

    def _send(self, frame: str) -> None:
        if self._ws is not None and int(self._ws.readyState) == 1:
            self._ws.send(frame)

    async def _check_session(self) -> None:
        status, _data, _headers = await self.link.request("GET", SESSION_URL)
        # Only a 401/403 says the session is gone; no answer at all means we do not know.
        self.dispatch(SessionChecked(status not in (401, 403)))

    # ------------------------------------------------------------ timers and events

    def _start_timer(self, timer: Timer, delay: float, generation: int) -> None:
        self._cancel_timer(timer)

        def fire() -> None:
            if self._timers.pop(timer, None) is not None:
                Stats.live_timers -= 1
            self.dispatch(TimerFired(timer, generation, time.time()))

        scaled = delay / self.timer_scale()
        self._timers[timer] = asyncio.get_event_loop().call_later(scaled, fire)
        Stats.live_timers += 1

    def _cancel_timer(self, timer: Timer) -> None:
        handle = self._timers.pop(timer, None)
        if handle is not None:
            handle.cancel()
            Stats.live_timers -= 1

    def _on_visibility(self, _event: Any) -> None:
        if str(js.document.visibilityState) == "visible":
            self.dispatch(Visible(time.time()))

    def _notify(self, change: Change) -> None:
        for listener in list(self.listeners):
            listener(change)
