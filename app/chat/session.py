"""The chat session as a pure core: the socket's life, the conversation and the outbox.

The browser adapter (:mod:`app.browser.chat_connection`) turns socket, timer and page callbacks
into the events below and performs the effects :meth:`ChatSession.handle` returns; it decides
nothing itself.  The core does not care where frames come from: an event says which socket
``generation`` it belongs to and frames of any other generation are ignored.  When tabs share
one socket (:mod:`app.chat.sharing`), the leading tab runs this core, started with what the tab
already shows, and :class:`HandOver` closes its socket without forgetting the conversation::

    >>> import random
    >>> session = ChatSession(random.Random(1))
    >>> [type(e).__name__ for e in session.handle(Start(now=0.0))]
    ['CancelTimer', 'OpenSocket', 'StartTimer', 'Changed']
    >>> session.handle(SendText("m1", "hi"))  # not open yet: queued, not sent
    [Changed(connection=False, messages=('m1',), all_messages=False)]

What it decides: when a message goes out at once and when it waits in the outbox, which
frames belong to the current socket, what each frame changes in the conversation, when Stop
and a failed turn's Retry (or a lost turn's Regenerate) send anything, and that sign-out drops
the outbox (it must never go out under another user).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.chat.conversation import ALL, Accepted, Conversation
from app.chat.protocol import Welcome as WelcomeFrame
from app.chat.protocol import message_frame, parse, ping_frame, stop_frame
from app.net import connection as core
from app.net.backoff import RandomSource
from app.net.connection import (
    CancelTimer,
    CheckSession,
    Closed,
    CloseSocket,
    Conn,
    ConnState,
    Offline,
    Online,
    Opened,
    OpenSocket,
    RetryRequested,
    SessionEnded,
    Start,
    StartTimer,
    Stop,
    Timer,
    TimerFired,
    Visible,
)

__all__ = [
    "CancelTimer",
    "ChatSession",
    "CheckSession",
    "CloseSocket",
    "Closed",
    "Offline",
    "Online",
    "OpenSocket",
    "Opened",
    "RetryRequested",
    "SessionEnded",
    "Start",
    "StartTimer",
    "Stop",
    "Timer",
    "TimerFired",
    "Visible",
]

# ------------------------------------------------------------------------------ events
# The socket's own events are the connection core's (Start, Stop, Opened, Closed, TimerFired,
# Online, Offline, Visible, RetryRequested: re-exported above); these are added here.


@dataclass(frozen=True)
class FrameReceived:
    generation: int
    text: str
    now: float


@dataclass(frozen=True)
class SessionChecked:
    """The answer to a :class:`CheckSession`: the HTTP status, ``None`` when nothing answered."""

    status: int | None


@dataclass(frozen=True)
class SendText:
    """The user sent ``text``; ``message_id`` is its client id (made by the adapter)."""

    message_id: str
    text: str


@dataclass(frozen=True)
class RetryMessage:
    message_id: str


@dataclass(frozen=True)
class StopReply:
    """The user pressed Stop: every answer streaming now is asked to stop."""


@dataclass(frozen=True)
class RetryTurn:
    """Send the user message ``reply_to``, whose answer failed, again as ``message_id``."""

    reply_to: str
    message_id: str


@dataclass(frozen=True)
class HandOver:
    """Another tab takes the socket over: close ours, keep the conversation (and its outbox,
    which the other tab is offered)."""


Event = (
    Start
    | Stop
    | Opened
    | FrameReceived
    | Closed
    | TimerFired
    | Online
    | Offline
    | Visible
    | RetryRequested
    | SessionChecked
    | SendText
    | RetryMessage
    | StopReply
    | RetryTurn
    | HandOver
)

# ------------------------------------------------------------------------------ effects
# OpenSocket, CloseSocket, StartTimer, CancelTimer, CheckSession and SessionEnded are the
# connection core's own (re-exported above); these are added here.


@dataclass(frozen=True)
class SendFrame:
    """Send ``text`` on socket ``generation`` (only if that socket is still the open one)."""

    generation: int
    text: str


@dataclass(frozen=True)
class Changed:
    """What the panel must re-render."""

    connection: bool = False
    messages: tuple[str, ...] = ()
    all_messages: bool = False


@dataclass(frozen=True)
class Refused:
    """The message was not taken (too long, empty, outbox full); nothing was queued."""

    message_id: str
    why: Accepted


Effect = (
    OpenSocket
    | CloseSocket
    | StartTimer
    | CancelTimer
    | CheckSession
    | SessionEnded
    | SendFrame
    | Changed
    | Refused
)


class ChatSession:
    """One signed-in user's chat.  ``conn`` and ``conversation`` are for reading (the panel
    renders them); only :meth:`handle` changes them."""

    def __init__(
        self,
        rng: RandomSource,
        online: bool = True,
        conversation: Conversation | None = None,
        generation: int = 0,
        opened_once: bool = False,
    ) -> None:
        """A tab that takes the socket over starts with what it shows (``conversation``), the
        last socket ``generation`` it used and whether the chat had been open already."""
        self.rng = rng
        self.conn = Conn(online=online, generation=generation, opened_once=opened_once)
        self.conversation = conversation if conversation is not None else Conversation()
        self.pings = 0

    def handle(self, event: Event) -> list[Effect]:
        match event:
            case FrameReceived(generation=g, text=text, now=now):
                return self._frame(g, text, now)
            case SendText(message_id=mid, text=text):
                accepted = self.conversation.send(mid, text)
                if accepted is not Accepted.OK:
                    return [Refused(mid, accepted)]
                return self._send_if_open(mid)
            case RetryMessage(message_id=mid):
                if not self.conversation.retry(mid):
                    return []
                return self._send_if_open(mid)
            case RetryTurn(reply_to=turn, message_id=mid):
                accepted = self.conversation.retry_turn(turn, mid)
                if accepted is None:
                    return []
                if accepted is not Accepted.OK:
                    return [Refused(mid, accepted)]
                return [*self._send_if_open(mid), Changed(all_messages=True)]
            case StopReply():
                # A stop cannot wait in an outbox: the page cannot tell whether the answer
                # is still running once the socket is back (its next event says so).
                if self.conn.state is not ConnState.OPEN:
                    return []
                asked = self.conversation.stop()
                stops = [SendFrame(self.conn.generation, stop_frame(mid)) for mid in asked]
                return [*stops, Changed(messages=tuple(asked))] if asked else []
            case SessionChecked(status=status):
                # Only a 401/403 says the session is gone; no answer means we do not know.
                return self._connection(core.SessionChecked(status not in (401, 403)))
            case HandOver():
                return [
                    replace(e, reason="handed over to another tab")
                    if isinstance(e, CloseSocket)
                    else e
                    for e in self._connection(Stop())
                ]
            case Opened(generation=g) if g == self.conn.generation:
                # Turns are told per socket: what the last one had running may have died
                # with its server (app.chat.cut decides once this socket's history is in).
                self.conversation.new_socket()
        effects = self._connection(event)
        if isinstance(event, Stop):
            self.conversation.clear()
            effects.append(Changed(all_messages=True))
        return effects

    def _connection(self, event: core.ConnEvent) -> list[Effect]:
        before = self.conn
        self.conn, conn_effects = core.transition(before, event, self.rng)
        effects: list[Effect] = []
        for effect in conn_effects:
            match effect:
                case core.SendPing(generation=g):
                    self.pings += 1
                    effects.append(SendFrame(g, ping_frame(self.pings)))
                case core.Flush(generation=g):
                    effects += [
                        SendFrame(g, message_frame(m.id, m.text))
                        for m in self.conversation.pending()
                    ]
                case _:
                    effects.append(effect)
        if self.conn != before and not isinstance(event, core.Received):
            effects.append(Changed(connection=True))
        return effects

    def _frame(self, generation: int, text: str, now: float) -> list[Effect]:
        if generation != self.conn.generation:
            return []  # a replaced socket's late frame
        effects = self._connection(core.Received(generation, now))
        frame = parse(text)
        if isinstance(frame, WelcomeFrame):
            return effects + self._connection(core.Welcome(generation, now))
        changed = self.conversation.apply(frame)
        if changed == ALL:
            effects.append(Changed(all_messages=True))
        elif changed:
            effects.append(Changed(messages=(changed,)))
        return effects

    def _send_if_open(self, message_id: str) -> list[Effect]:
        """Send now on the open socket; otherwise the message waits in the outbox, which the
        next socket's welcome flushes."""
        effects: list[Effect] = []
        message = self.conversation.find(message_id)
        if self.conn.state is ConnState.OPEN and message is not None:
            effects.append(SendFrame(self.conn.generation, message_frame(message.id, message.text)))
        effects.append(Changed(messages=(message_id,)))
        return effects
