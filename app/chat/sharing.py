"""One user's chat shared by every tab of the browser: the leader's side and the followers'.

The leading tab (see :mod:`app.net.leadership`) runs the :class:`~app.chat.session.ChatSession`
and its socket; everything that changes there is broadcast (:class:`Update`), so every
follower shows the same messages and the same ``data-connection``.  A follower keeps a mirror:
what the leader said, plus what its own user typed that the leader has not confirmed yet.  What
a follower's user sends is :class:`Offer`-ed to the leader, and offered again to every new
leader until it is acknowledged; the leader takes an offer once per client id, so nothing typed
is lost and nothing is shown twice when leadership moves, and the leader is asked to show it
is alive (a leader that cannot answer loses the lock, see :mod:`app.net.leadership`)::

    >>> import random
    >>> chat = SharedChat("b", random.Random(1))
    >>> effects = chat.handle(Start(now=0.0))
    >>> [type(e).__name__ for e in effects][:2], chat.role
    (['RequestLock', 'Broadcast'], 'follower')
    >>> [e.data["kind"] for e in chat.handle(SendText("m1", "hi")) if isinstance(e, Broadcast)]
    ['offer', 'probe']

Without Web Locks or ``BroadcastChannel`` (or in preview mode) a tab is ``alone``: it runs the
chat session with its own socket, which is the declared per-tab fallback.

Channel messages are plain dicts (``kind`` plus fields), so the adapter only serialises them;
anything a tab cannot read (another version of the page, say) is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.chat.conversation import Accepted, Conversation, Message
from app.chat.session import (
    Changed,
    ChatSession,
    HandOver,
    Offline,
    Online,
    Refused,
    RetryMessage,
    RetryRequested,
    RetryTurn,
    SendText,
    SessionEnded,
    Start,
    Stop,
    StopReply,
    Visible,
)
from app.chat.session import Effect as SessionEffect
from app.chat.session import Event as SessionEvent
from app.chat.view import refusal
from app.net import leadership
from app.net.backoff import RandomSource
from app.net.connection import Conn, ConnState
from app.net.leadership import (
    Alive,
    Begin,
    CancelTabTimer,
    End,
    Follow,
    Frozen,
    Heard,
    Hello,
    Lead,
    LeaderChanged,
    LeaderLeft,
    Leadership,
    LockGranted,
    LockLost,
    NeedLeader,
    Post,
    ReleaseLock,
    RequestLock,
    Resumed,
    StartTabTimer,
    TabEvent,
    TabTimerFired,
    Term,
    term_of,
)

__all__ = [
    "Broadcast",
    "CancelTabTimer",
    "ChannelMessage",
    "Frozen",
    "LockGranted",
    "LockLost",
    "ReleaseLock",
    "RequestLock",
    "Resumed",
    "SharedChat",
    "StartTabTimer",
    "TabTimerFired",
    "channel_name",
]


def channel_name(origin: str, user: str) -> str:
    """The Web Lock's and the BroadcastChannel's name: one per origin and user."""
    return f"pychat-chat {origin} {user}"


# ------------------------------------------------------------------ chat messages between tabs


@dataclass(frozen=True)
class Update:
    """Leader to followers: the connection (``conn``, when it changed), the messages that
    changed (``complete``: ``messages`` is the whole conversation) and the turns whose answer
    is running (``runs``: turn id to ``running``/``stopping``, so every tab shows Stop)."""

    term: Term
    conn: Conn | None
    messages: tuple[Message, ...]
    complete: bool
    runs: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Refusal:
    """Leader to followers: an offered message was not taken (the outbox is full)."""

    term: Term
    message_id: str
    why: Accepted


@dataclass(frozen=True)
class Ended:
    """Leader to followers: the server ended the session (4401): sign out, every tab."""

    term: Term


@dataclass(frozen=True)
class Offer:
    """Follower to leader: send this message unless you have it already (same client id)."""

    sender: str
    message_id: str
    text: str


@dataclass(frozen=True)
class RetryConnection:
    """Follower to leader: its user pressed "Retry now"."""

    sender: str


@dataclass(frozen=True)
class LookedAgain:
    """Follower to leader: its tab became visible, so check that the socket still answers."""

    sender: str


@dataclass(frozen=True)
class StopAsked:
    """Follower to leader: its user pressed Stop."""

    sender: str


@dataclass(frozen=True)
class RetryAsked:
    """Follower to leader: its user pressed Retry on the failed answer to ``reply_to``; ask
    again as ``message_id``."""

    sender: str
    reply_to: str
    message_id: str


ChatMessage = (
    Update | Refusal | Ended | Offer | RetryConnection | LookedAgain | StopAsked | RetryAsked
)

CONN_FIELDS = {
    "failures": int,
    "online": bool,
    "opened_once": bool,
    "degraded": bool,
    "retry_at": (float, int, type(None)),
    "last_code": (int, type(None)),
}
OPTIONAL_TEXT = (str, type(None))
MESSAGE_FIELDS = {"id": str, "role": str, "text": str, "status": str, "error": OPTIONAL_TEXT}
# What an agent's line carries besides: absent in a message from a tab of an older page (the
# same browser, across a deploy), which then shows it as that page did.
TURN_FIELDS = {
    "reply_to": OPTIONAL_TEXT,
    "name": str,
    "result": OPTIONAL_TEXT,
    "retried": bool,
    "lost": bool,
}
RUN_STATES = ("running", "stopping")


def _typed(data: Any, fields: dict[str, Any]) -> bool:
    return isinstance(data, dict) and all(
        isinstance(data.get(name), kind) for name, kind in fields.items()
    )


def encode_conn(conn: Conn) -> dict:
    """What a follower needs to show the same connection state (see app.chat.status)."""
    return {"state": conn.state.value, **{name: getattr(conn, name) for name in CONN_FIELDS}}


def decode_conn(data: Any) -> Conn | None:
    if not _typed(data, CONN_FIELDS) or data.get("state") not in list(ConnState):
        return None
    return Conn(state=ConnState(data["state"]), **{name: data[name] for name in CONN_FIELDS})


def encode_message(message: Message) -> dict:
    return {name: getattr(message, name) for name in (*MESSAGE_FIELDS, *TURN_FIELDS)}


def decode_message(data: Any) -> Message | None:
    if not _typed(data, MESSAGE_FIELDS):
        return None
    extra = {name: data[name] for name in TURN_FIELDS if name in data}
    if not _typed(extra, {name: TURN_FIELDS[name] for name in extra}):
        return None
    return Message(**{n: data[n] for n in MESSAGE_FIELDS}, **extra)


def encode(message: ChatMessage | leadership.TabMessage) -> dict:
    match message:
        case Update(term=term, conn=conn, messages=messages, complete=complete, runs=runs):
            return {
                "kind": "update",
                "term": [term.number, term.tab],
                "conn": encode_conn(conn) if conn is not None else None,
                "messages": [encode_message(m) for m in messages],
                "complete": complete,
                "runs": [list(run) for run in runs],
            }
        case Refusal(term=term, message_id=mid, why=why):
            return {"kind": "refusal", "term": [term.number, term.tab], "id": mid, "why": why}
        case Ended(term=term):
            return {"kind": "ended", "term": [term.number, term.tab]}
        case Offer(sender=sender, message_id=mid, text=text):
            return {"kind": "offer", "sender": sender, "id": mid, "text": text}
        case RetryConnection(sender=sender):
            return {"kind": "retry-connection", "sender": sender}
        case LookedAgain(sender=sender):
            return {"kind": "looked-again", "sender": sender}
        case StopAsked(sender=sender):
            return {"kind": "stop", "sender": sender}
        case RetryAsked(sender=sender, reply_to=turn, message_id=mid):
            return {"kind": "retry-turn", "sender": sender, "reply_to": turn, "id": mid}
    return leadership.encode(message)


def _run(item: Any) -> tuple[str, str] | None:
    if isinstance(item, list) and len(item) == 2 and isinstance(item[0], str):
        return (item[0], item[1]) if item[1] in RUN_STATES else None
    return None


def _parse_update(data: dict, term: Term) -> Update | None:
    items = data.get("messages")
    conn = decode_conn(data.get("conn")) if data.get("conn") is not None else None
    runs = data.get("runs", [])
    if not isinstance(items, list) or (data.get("conn") is not None and conn is None):
        return None
    if not isinstance(runs, list):
        return None
    messages = tuple(m for m in (decode_message(item) for item in items) if m is not None)
    turns = tuple(run for run in (_run(item) for item in runs) if run is not None)
    return Update(term, conn, messages, data.get("complete") is True, turns)


def parse(data: Any) -> ChatMessage | leadership.TabMessage | None:
    """A message from the channel; ``None`` for anything this page cannot read."""
    known = leadership.parse(data)
    if known is not None or not isinstance(data, dict):
        return known
    kind, term, sender = data.get("kind"), term_of(data.get("term")), data.get("sender")
    mid = data.get("id")
    if term is not None:
        if kind == "update":
            return _parse_update(data, term)
        if kind == "refusal" and isinstance(mid, str) and data.get("why") in list(Accepted):
            return Refusal(term, mid, Accepted(data["why"]))
        if kind == "ended":
            return Ended(term)
    elif isinstance(sender, str):
        if kind == "offer" and isinstance(mid, str) and isinstance(data.get("text"), str):
            return Offer(sender, mid, data["text"])
        if kind == "retry-connection":
            return RetryConnection(sender)
        if kind == "looked-again":
            return LookedAgain(sender)
        if kind == "stop":
            return StopAsked(sender)
        if kind == "retry-turn" and isinstance(mid, str) and isinstance(data.get("reply_to"), str):
            return RetryAsked(sender, data["reply_to"], mid)
    return None


# ------------------------------------------------------------------ events and effects


@dataclass(frozen=True)
class ChannelMessage:
    """Another tab posted ``data`` on the channel."""

    data: Any
    now: float


@dataclass(frozen=True)
class Broadcast:
    """Post ``data`` to the user's other tabs."""

    data: dict


TAB_EVENTS = (LockGranted, LockLost, TabTimerFired, Frozen, Resumed)
Event = SessionEvent | ChannelMessage | LockGranted | LockLost | TabTimerFired | Frozen | Resumed
Effect = SessionEffect | Broadcast | RequestLock | ReleaseLock | StartTabTimer | CancelTabTimer


class SharedChat:
    """The chat as this tab runs it.  ``conn``, ``conversation`` and ``role`` are for reading
    (the panel renders them); only :meth:`handle` changes them."""

    def __init__(self, me: str, rng: RandomSource, online: bool = True, shared: bool = True):
        self.rng = rng
        self.online = online
        self.shared = shared
        self.tabs = Leadership(me)
        self.session: ChatSession | None = None if shared else ChatSession(rng, online)
        self.mirror = Conversation()  # what a follower shows
        self.mirror_conn = Conn(online=online)
        self.generation = 0  # the last socket generation this tab used, across reigns

    @property
    def role(self) -> str:
        """``alone`` (a socket per tab), ``leader`` or ``follower``."""
        if not self.shared:
            return "alone"
        return "leader" if self.session is not None else "follower"

    @property
    def conn(self) -> Conn:
        return self.session.conn if self.session is not None else self.mirror_conn

    @property
    def conversation(self) -> Conversation:
        return self.session.conversation if self.session is not None else self.mirror

    @property
    def me(self) -> str:
        return self.tabs.me

    # ------------------------------------------------------------ dispatch

    def handle(self, event: Event) -> list[Effect]:
        if not self.shared:
            if isinstance(event, (ChannelMessage, *TAB_EVENTS)):
                return []  # nothing of the kind exists in a tab on its own
            return self.session.handle(event)  # type: ignore[union-attr]
        match event:
            case Online() | Offline():
                self.online = isinstance(event, Online)
                return self._leader_does(event)
            case Start(now=now):
                return self._tabs(Begin(now), now)
            case Stop():
                return self._stop()
            case (
                LockGranted(now=now) | LockLost(now=now) | TabTimerFired(now=now) | Frozen(now=now)
            ):
                return self._tabs(event, now)
            case Resumed():
                return self._tabs(event, self.tabs.last_heard)
            case ChannelMessage(data=data, now=now):
                return self._heard(data, now)
            case SendText(message_id=mid, text=text) if self.session is None:
                accepted = self.mirror.send(mid, text)
                if accepted is not Accepted.OK:
                    return [Refused(mid, accepted)]
                return self._offer_and_ask(mid, text)
            case RetryMessage(message_id=mid) if self.session is None:
                message = self.mirror.find(mid)
                if message is None or not self.mirror.retry(mid):
                    return []
                return self._offer_and_ask(mid, message.text)
            case RetryRequested() if self.session is None:
                return [Broadcast(encode(RetryConnection(self.me)))]
            case StopReply() if self.session is None:
                return [Broadcast(encode(StopAsked(self.me)))]
            case RetryTurn(reply_to=turn, message_id=mid) if self.session is None:
                return self._ask_again(turn, mid)
            case Visible() if self.session is None:
                return [
                    Broadcast(encode(LookedAgain(self.me))),
                    *self._tabs(NeedLeader(), self.tabs.last_heard),
                ]
        return self._leader_does(event)

    def _leader_does(self, event: SessionEvent) -> list[Effect]:
        """Socket, timer and page events matter only where the socket is."""
        if self.session is None:
            return []
        return self._shared(self.session.handle(event))

    def _ask_again(self, turn: str, message_id: str) -> list[Effect]:
        """A follower's Retry: shown here at once (the new message waits as pending, so a new
        leader is offered it too), carried out by the leader, whose session marks the turn."""
        accepted = self.mirror.retry_turn(turn, message_id)
        if accepted is None:
            return []
        if accepted is not Accepted.OK:
            return [Refused(message_id, accepted)]
        return [
            Broadcast(encode(RetryAsked(self.me, turn, message_id))),
            Changed(all_messages=True),
            *self._tabs(NeedLeader(), self.tabs.last_heard),
        ]

    def _offer_and_ask(self, message_id: str, text: str) -> list[Effect]:
        return [
            Broadcast(encode(Offer(self.me, message_id, text))),
            Changed(messages=(message_id,)),
            *self._tabs(NeedLeader(), self.tabs.last_heard),
        ]

    def _stop(self) -> list[Effect]:
        effects: list[Effect] = self._tabs(End(), self.tabs.last_heard)
        if self.session is not None:
            # Sign-out or the panel went away: say nothing more to the followers (a cleared
            # conversation must not wipe theirs; the Bye above already went out).
            effects += self.session.handle(Stop())
            self.generation = self.session.conn.generation
            self.session = None
        self.mirror.clear()
        self.mirror_conn = Conn(state=ConnState.CLOSED, online=self.online)
        return [*effects, Changed(connection=True, all_messages=True)]

    # ------------------------------------------------------------ leadership

    def _tabs(self, event: TabEvent, now: float) -> list[Effect]:
        self.tabs, tab_effects = leadership.transition(self.tabs, event, self.rng)
        effects: list[Effect] = []
        for effect in tab_effects:
            match effect:
                case Post(message=message):
                    effects.append(Broadcast(encode(message)))
                case Lead():
                    effects += self._lead(now)
                case Follow():
                    effects += self._follow()
                case LeaderChanged():
                    effects += [
                        Broadcast(encode(Offer(self.me, m.id, m.text)))
                        for m in self.mirror.pending()
                    ]
                case LeaderLeft():
                    self.mirror_conn = self._between_reigns(self.mirror_conn)
                    effects.append(Changed(connection=True))
                case _:
                    effects.append(effect)  # the lock and the timers: the adapter's
        return effects

    def _between_reigns(self, conn: Conn) -> Conn:
        """What a tab shows while no tab leads: connecting again."""
        opened = conn.opened_once or conn.state is ConnState.OPEN
        return Conn(online=self.online, opened_once=opened)

    def _lead(self, now: float) -> list[Effect]:
        self.session = ChatSession(
            self.rng,
            self.online,
            conversation=self.mirror,
            generation=self.generation,
            opened_once=self.mirror_conn.opened_once or self.mirror_conn.state is ConnState.OPEN,
        )
        self.mirror = Conversation()
        effects = self._shared(self.session.handle(Start(now)))
        return [*effects, self._snapshot(), Changed(connection=True)]

    def _follow(self) -> list[Effect]:
        session = self.session
        assert session is not None, "only a leader is told to follow"
        effects: list[Effect] = list(session.handle(HandOver()))
        self.generation = session.conn.generation
        self.mirror = session.conversation
        self.mirror_conn = self._between_reigns(session.conn)
        self.session = None
        return [*effects, Changed(connection=True)]

    # ------------------------------------------------------------ the leader's side

    def _term(self) -> Term:
        assert self.tabs.leader is not None, "only a leader speaks for the chat"
        return self.tabs.leader

    def _runs(self) -> tuple[tuple[str, str], ...]:
        session = self.session
        assert session is not None
        return tuple(session.conversation.runs.items())

    def _snapshot(self) -> Broadcast:
        session = self.session
        assert session is not None
        messages = tuple(session.conversation.messages)
        update = Update(self._term(), session.conn, messages, complete=True, runs=self._runs())
        return Broadcast(encode(update))

    def _shared(self, effects: list[SessionEffect]) -> list[Effect]:
        """The session's effects, with what changed told to the followers."""
        session = self.session
        assert session is not None
        out: list[Effect] = []
        for effect in effects:
            match effect:
                case Changed(all_messages=True):
                    out += [effect, self._snapshot()]
                case Changed(connection=connection, messages=ids):
                    found = (session.conversation.find(mid) for mid in ids)
                    messages = tuple(m for m in found if m is not None)
                    conn = session.conn if connection else None
                    update = Update(self._term(), conn, messages, False, self._runs())
                    out += [effect, Broadcast(encode(update))]
                case SessionEnded():
                    out += [Broadcast(encode(Ended(self._term()))), effect]
                case _:
                    out.append(effect)
        return out

    def _take(self, offer: Offer) -> list[Effect]:
        session = self.session
        assert session is not None
        known = session.conversation.find(offer.message_id)
        if known is None:
            effects = session.handle(SendText(offer.message_id, offer.text))
            refused = [e for e in effects if isinstance(e, Refused)]
            if refused:
                return [Broadcast(encode(Refusal(self._term(), offer.message_id, refused[0].why)))]
            return self._shared(effects)
        if known.role == "user" and known.status == "failed":  # the follower pressed Retry
            return self._shared(session.handle(RetryMessage(offer.message_id)))
        return []  # already taken: the client id makes it the same message

    # ------------------------------------------------------------ the channel

    def _heard(self, data: Any, now: float) -> list[Effect]:
        message = parse(data)
        if message is None:
            return []
        if isinstance(message, leadership.TabMessage):
            effects = self._tabs(Heard(message, now), now)
            if isinstance(message, Hello) and self.session is not None:
                effects.append(self._snapshot())  # a follower joined or woke up
            return effects
        if isinstance(message, Update | Refusal | Ended):
            # Any word from a leader says it lives; only the current one is believed.
            effects = self._tabs(Heard(Alive(message.term), now), now)
            if self.session is None and self.tabs.leader == message.term:
                effects += self._follower_applies(message)
            return effects
        if self.session is None:
            return []  # a follower's words are for the leader
        match message:
            case Offer():
                return self._take(message)
            case RetryConnection():
                return self._shared(self.session.handle(RetryRequested(now)))
            case StopAsked():
                return self._shared(self.session.handle(StopReply()))
            case RetryAsked(reply_to=turn, message_id=mid):
                if self.session.conversation.find(mid) is not None:
                    return []  # offered again after a change of leader: already asked
                return self._shared(self.session.handle(RetryTurn(turn, mid)))
        return self._shared(self.session.handle(Visible(now)))

    # ------------------------------------------------------------ the followers' side

    def _follower_applies(self, message: Update | Refusal | Ended) -> list[Effect]:
        match message:
            case Update(conn=conn, messages=messages, complete=True, runs=runs):
                self.mirror.runs = dict(runs)
                known = {m.id for m in messages}
                mine = [  # typed here, not confirmed by the leader yet
                    m
                    for m in self.mirror.messages
                    if m.id not in known and m.role == "user" and m.status in ("pending", "failed")
                ]
                self.mirror.messages = [*messages, *mine]
                if conn is not None:
                    self.mirror_conn = conn
                return [Changed(connection=conn is not None, all_messages=True)]
            case Update(conn=conn, messages=messages, runs=runs):
                self.mirror.runs = dict(runs)
                for message_ in messages:
                    self._upsert(message_)
                if conn is not None:
                    self.mirror_conn = conn
                return [
                    Changed(connection=conn is not None, messages=tuple(m.id for m in messages))
                ]
            case Refusal(message_id=mid, why=why):
                found = self.mirror.find(mid)
                if found is None or found.status != "pending":
                    return []
                found.status, found.error = "failed", refusal(why) or "Not sent."
                return [Changed(messages=(mid,))]
        return [SessionEnded()]

    def _upsert(self, message: Message) -> None:
        for index, current in enumerate(self.mirror.messages):
            if current.id == message.id:
                self.mirror.messages[index] = message
                return
        self.mirror.messages.append(message)
