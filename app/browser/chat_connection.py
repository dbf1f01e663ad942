"""The chat's browser adapter: a socket, timers, the tab lock, the tab channel and page events
for :class:`app.chat.sharing.SharedChat`.

It turns ``onopen``/``onmessage``/``onclose``, timers, lock grants and losses, channel messages,
``online``/``offline``, ``visibilitychange`` and the page lifecycle (``freeze``, ``resume``,
``pagehide``) into the core's events and performs the effects it returns.  One exists per
signed-in page, made by the registry that :mod:`app.browser.chat` owns.  Whether this tab
leads (and holds the socket), follows, or is alone with a socket of its own is the core's
decision; this module only says whether sharing is possible here (Web Locks and
``BroadcastChannel`` exist, and the server is the real one, not preview mode's).

The current socket's proxies are destroyed as soon as it is closed or replaced, and
:meth:`stop` cancels every timer, gives the lock up and closes the channel, so nothing of a
signed-out user survives.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import js

from app.browser.http import BrowserLink, socket_url
from app.browser.proxies import COUNTS, Listeners, destroy, new_proxy
from app.browser.tab_channel import TabChannel
from app.browser.tab_lock import TabLock
from app.browser.timers import Timers
from app.chat.conversation import Accepted
from app.chat.session import (
    CancelTimer,
    Changed,
    CheckSession,
    Closed,
    CloseSocket,
    FrameReceived,
    Offline,
    Online,
    Opened,
    OpenSocket,
    Refused,
    RetryMessage,
    RetryRequested,
    RetryTurn,
    SendFrame,
    SendText,
    SessionChecked,
    SessionEnded,
    Start,
    StartTimer,
    Stop,
    StopReply,
    TimerFired,
    Visible,
)
from app.chat.sharing import (
    Broadcast,
    CancelTabTimer,
    ChannelMessage,
    Effect,
    Event,
    Frozen,
    LockGranted,
    LockLost,
    ReleaseLock,
    RequestLock,
    Resumed,
    SharedChat,
    StartTabTimer,
    TabTimerFired,
    channel_name,
)
from app.net.link import ServerLink
from app.wire.close_codes import NORMAL
from app.wire.urls import SESSION_URL

TAB_ID = uuid.uuid4().hex  # per page load: a new tab (or a reload) is a new tab
OPEN_STATES = (0, 1)  # WebSocket.CONNECTING, WebSocket.OPEN

Listener = Callable[[Changed], None]


class ChatConnection:
    def __init__(
        self,
        user: str,
        on_session_ended: Callable[[], None],
        link: ServerLink | None = None,
        timer_scale: Callable[[], float] | None = None,
    ) -> None:
        """``link`` is the server (default: the real one); ``timer_scale()`` divides every
        timer's delay (preview mode fast-forwards to slow states with it)."""
        self.user = user
        self.on_session_ended = on_session_ended
        self.link: ServerLink = link if link is not None else BrowserLink()
        # Preview mode's simulated server lives inside each page: nothing to share there.
        shared = link is None and TabLock.available() and TabChannel.available()
        self.chat = SharedChat(
            TAB_ID, random.Random(), online=bool(js.navigator.onLine), shared=shared
        )
        self._lock: TabLock | None = None
        self._channel: TabChannel | None = None
        self.listeners: list[Listener] = []
        self._ws: Any = None
        self._ws_generation = 0
        self._socket_proxies: list[Any] = []
        self._page_listeners = Listeners()
        self._timers = Timers(timer_scale)
        self._tasks: set[asyncio.Future] = set()

    @property
    def conn(self):
        return self.chat.conn

    @property
    def conversation(self):
        return self.chat.conversation

    @property
    def role(self) -> str:
        """``leader``, ``follower`` or ``alone`` (see :class:`app.chat.sharing.SharedChat`)."""
        return self.chat.role

    # ------------------------------------------------------------ ManagedSocket

    def start(self) -> None:
        listen = self._page_listeners.add
        listen(js.window, "online", lambda _e: self.dispatch(Online(time.time())))
        listen(js.window, "offline", lambda _e: self.dispatch(Offline()))
        listen(js.document, "visibilitychange", self._on_visibility)
        if self.chat.shared:
            name = channel_name(str(js.location.origin), self.user)
            self._channel = TabChannel(
                name, lambda data: self.dispatch(ChannelMessage(data, time.time()))
            )
            self._lock = TabLock(
                name,
                on_granted=lambda lock: self.dispatch(LockGranted(lock, time.time())),
                on_lost=lambda lock: self.dispatch(LockLost(lock, time.time())),
            )
            # A leader about to be frozen hands over before it stops running.
            listen(js.document, "freeze", lambda _e: self.dispatch(Frozen(time.time())))
            listen(js.document, "resume", lambda _e: self.dispatch(Resumed()))
            listen(js.window, "pagehide", self._on_pagehide)
        self.dispatch(Start(time.time()))

    def stop(self) -> None:
        self.dispatch(Stop())
        self._page_listeners.clear()
        self._timers.cancel_all()
        self._drop_socket()
        if self._lock is not None:
            self._lock.release_all()
        if self._channel is not None:
            self._channel.close()
        self.listeners.clear()

    # ------------------------------------------------------------ for the panel

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener) if listener in self.listeners else None

    def send_message(self, text: str) -> Accepted:
        effects = self.dispatch(SendText(uuid.uuid4().hex, text))
        refused = [e for e in effects if isinstance(e, Refused)]
        return refused[0].why if refused else Accepted.OK

    def retry_message(self, message_id: str) -> None:
        self.dispatch(RetryMessage(message_id))

    def retry_turn(self, reply_to: str) -> Accepted:
        """Ask the question of a failed answer again, under a new id."""
        effects = self.dispatch(RetryTurn(reply_to, uuid.uuid4().hex))
        refused = [e for e in effects if isinstance(e, Refused)]
        return refused[0].why if refused else Accepted.OK

    def stop_reply(self) -> None:
        self.dispatch(StopReply())

    def rescale_timers(self) -> None:
        """The preview's fast-forward changed: running timers follow at once."""
        self._timers.rescale()

    def retry_connection(self) -> None:
        self.dispatch(RetryRequested(time.time()))

    # ------------------------------------------------------------ effects

    def dispatch(self, event: Event) -> list[Effect]:
        effects = self.chat.handle(event)
        for effect in effects:
            self._perform(effect)
        return effects

    def _perform(self, effect: Effect) -> None:
        match effect:
            case OpenSocket(generation=g):
                self._open(g)
            case CloseSocket(generation=g, code=code, reason=reason):
                if self._ws is not None and self._ws_generation == g:
                    self._ws.close(code, reason)
                    self._drop_socket()
            case SendFrame(generation=g, text=text):
                ws = self._ws if self._ws_generation == g else None
                if ws is not None and int(ws.readyState) == 1:  # OPEN
                    ws.send(text)
            case StartTimer(timer=timer, delay=delay, generation=g):
                self._timers.start(
                    timer,
                    delay,
                    lambda: self.dispatch(TimerFired(timer, g, time.time())),
                )
            case CancelTimer(timer=timer) | CancelTabTimer(timer=timer):
                self._timers.cancel(timer)
            case StartTabTimer(timer=timer, delay=delay):
                self._timers.start(
                    timer, delay, lambda: self.dispatch(TabTimerFired(timer, time.time()))
                )
            case Broadcast(data=data):
                if self._channel is not None:
                    self._channel.post(data)
            case RequestLock(lock=lock, steal=steal):
                if self._lock is not None:
                    self._lock.request(lock, steal)
            case ReleaseLock(lock=lock):
                if self._lock is not None:
                    self._lock.release(lock)
            case CheckSession():
                task = asyncio.ensure_future(self._check_session())
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            case SessionEnded():
                self.on_session_ended()
            case Changed():
                for listener in list(self.listeners):
                    listener(effect)

    # ------------------------------------------------------------ the socket

    def _open(self, generation: int) -> None:
        self._drop_socket()
        # A leader's socket is the session's one socket; a tab alone declares per-tab mode.
        ws = self.link.open_socket(socket_url(None if self.chat.shared else TAB_ID))
        COUNTS["sockets_created"] += 1
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
        """Detach and destroy the current socket's handlers, closing it if still live."""
        ws, self._ws = self._ws, None
        if ws is not None:
            ws.onopen = ws.onmessage = ws.onclose = None
            if int(ws.readyState) in OPEN_STATES:
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
        if isinstance(data, str):  # text frames only; the server never sends binary
            self.dispatch(FrameReceived(generation, data, time.time()))

    async def _check_session(self) -> None:
        status, _data, _headers = await self.link.request("GET", SESSION_URL)
        self.dispatch(SessionChecked(status))

    def _on_pagehide(self, event: Any) -> None:
        """Closing or reloading: say bye and give the lock up now, so the next tab leads at
        once instead of when the browser has torn this page down.  A page kept for the back
        button (``persisted``) may come back: it steps down as for a freeze, and queues again."""
        self.dispatch(Frozen(time.time()) if event.persisted else Stop())

    def _on_visibility(self, _event: Any) -> None:
        if str(js.document.visibilityState) == "visible":
            self.dispatch(Visible(time.time()))
