"""The conversation as the page shows it, and the outbox inside it.

One ordered list of messages, each with a status.  What the user typed is ``pending`` until the
server acknowledges its id (``sent``), or ``failed`` when the server refuses it; pending
messages are exactly the outbox, resent in order after every reconnect (the server de-duplicates
by id).  History from the server is merged by id, so nothing appears twice and nothing local is
lost::

    >>> c = Conversation()
    >>> c.send("m1", "hello")
    <Accepted.OK: 'ok'>
    >>> c.apply(Ack("m1")), [(m.id, m.status) for m in c.messages]
    ('m1', [('m1', 'sent')])

The agent's answer to a message is a *turn*: from ``RUN_STARTED`` to ``RUN_FINISHED`` or
``RUN_ERROR``, each naming the user message it answers (``replyTo``).  Everything the turn
shows (its text, tool calls, steps, reasoning) is a message of its own in the same list,
marked with that ``reply_to``, so a stop or a failure closes exactly what it should, and a
failed turn can be sent again::

    >>> c.apply(RunStarted("m1")), c.answering()
    ('m1', ['m1'])
    >>> _ = c.apply(ToolCallStart("call-1", "weather"))
    >>> _ = c.apply(RunError("The assistant service failed (HTTP 500).", "upstream_failed", "m1"))
    >>> [(m.role, m.status) for m in c.messages], c.answering()
    ([('user', 'sent'), ('tool', 'failed'), ('assistant', 'failed')], [])
    >>> c.retry_turn("m1", "m2"), c.messages[-1].text
    (<Accepted.OK: 'ok'>, 'hello')

A turn whose server went away is found when the next socket's history arrives
(:mod:`app.chat.cut`): what it had shown ends ``failed`` and ``lost``, and it can be
regenerated the same way.  Anything more of that turn (a server that answers on without having
said so) takes the mark back.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from enum import StrEnum

from app.chat.cut import LOST, unanswered
from app.chat.protocol import (
    MAX_TEXT,
    Ack,
    History,
    HistoryItem,
    ReasoningContent,
    ReasoningEnd,
    ReasoningStart,
    RunError,
    RunFinished,
    RunStarted,
    ServerError,
    ServerFrame,
    StepFinished,
    StepStarted,
    TextContent,
    TextEnd,
    TextStart,
    ToolCallArgs,
    ToolCallResult,
    ToolCallStart,
)
from app.wire.agent_runs import CUT_FAILED, CUT_STOPPED, SERVER_GONE, STOPPED

ALL = "*"  # apply() result: everything may have changed
MAX_QUEUED = 100
MAX_QUEUED_BYTES = 256 * 1024

# What a turn shows besides the user's message; only "assistant" is stored in history.
AGENT_ROLES = ("assistant", "tool", "step", "reasoning")
OPEN = ("streaming", "running")  # statuses of something the agent is still writing
RUNNING, STOPPING = "running", "stopping"  # a turn's state while its run is open


class Accepted(StrEnum):
    OK = "ok"
    EMPTY = "empty"
    TOO_LONG = "too_long"
    QUEUE_FULL = "queue_full"


@dataclass
class Message:
    """One line of the log.

    ``role``: ``user``, ``assistant`` (text), ``tool`` (a tool call), ``step`` or
    ``reasoning``.  ``status``: for the user's messages ``pending``/``sent``/``failed``; for
    text and reasoning ``streaming``/``done``; for tool calls and steps ``running``/``done``;
    any of the agent's may end ``stopped`` or ``failed`` instead (a turn that ended early).
    """

    id: str
    role: str
    text: str  # a tool call's arguments; a step's name
    status: str
    error: str | None = None  # why it is not sent / why its turn ended early
    reply_to: str | None = None  # the user message this answers (the agent's messages)
    name: str = ""  # the tool a tool call calls
    result: str | None = None  # what the tool returned
    retried: bool = False  # its failed turn has been sent again
    lost: bool = False  # ended by the page: the server that streamed it went away


@dataclass
class Conversation:
    messages: list[Message] = field(default_factory=list)
    # Turns whose run is open (RUN_STARTED seen, no end yet), in the order they started.
    runs: dict[str, str] = field(default_factory=dict)
    _serial: itertools.count = field(default_factory=itertools.count, repr=False)

    def find(self, message_id: str) -> Message | None:
        for message in self.messages:
            if message.id == message_id:
                return message
        return None

    def pending(self) -> list[Message]:
        """The outbox: what must (still) go out, in the order it was typed."""
        return [m for m in self.messages if m.role == "user" and m.status == "pending"]

    def answering(self) -> list[str]:
        """The user messages whose answer is streaming now (the Stop button's business)."""
        return list(self.runs)

    def stopping(self) -> bool:
        """Every open turn has been asked to stop and has not said it did yet."""
        return bool(self.runs) and all(state == STOPPING for state in self.runs.values())

    def send(self, message_id: str, text: str) -> Accepted:
        if not text.strip():
            return Accepted.EMPTY
        if len(text) > MAX_TEXT:
            return Accepted.TOO_LONG
        queued = self.pending()
        size = sum(len(m.text.encode("utf-8")) for m in queued) + len(text.encode("utf-8"))
        if len(queued) >= MAX_QUEUED or size > MAX_QUEUED_BYTES:
            return Accepted.QUEUE_FULL
        self.messages.append(Message(message_id, "user", text, "pending"))
        return Accepted.OK

    def retry(self, message_id: str) -> bool:
        """Send a message the server refused again, under its own id (it was not stored)."""
        message = self.find(message_id)
        if message is None or message.status != "failed" or message.role != "user":
            return False
        message.status, message.error = "pending", None
        return True

    def stop(self) -> list[str]:
        """The user pressed Stop: the turns to send a stop frame for (each once)."""
        asked = [turn for turn, state in self.runs.items() if state == RUNNING]
        for turn in asked:
            self.runs[turn] = STOPPING
        return asked

    def retry_turn(self, reply_to: str, message_id: str) -> Accepted | None:
        """Send the text of a turn that failed again, as a new message ``message_id`` (the
        server stored the first one and would answer its id as a duplicate).  ``None`` when
        that turn has no failure left to retry."""
        turn = self.find(reply_to)
        failed = [m for m in self.messages if m.reply_to == reply_to and _retryable(m)]
        if turn is None or turn.role != "user" or not failed:
            return None
        accepted = self.send(message_id, turn.text)
        if accepted is Accepted.OK:
            for message in failed:
                message.retried = True
        return accepted

    def clear(self) -> None:
        self.messages.clear()
        self.runs.clear()

    def new_socket(self) -> None:
        """A socket opened: no turn is open on it until the server says so.  A server names
        the turns it is answering as the socket joins (before its ``history``), so what history
        leaves unanswered and unnamed is lost."""
        self.runs.clear()

    def apply(self, frame: ServerFrame) -> str | None:
        """Fold one server frame in.  Returns the id of the message that changed, :data:`ALL`
        when the whole list may have, or ``None`` when nothing visible changed."""
        match frame:
            case History(messages=items):
                self._merge_history(items)
                return ALL
            case Ack(id=mid):
                message = self.find(mid)
                if message is not None and message.status != "sent":
                    message.status, message.error = "sent", None
                    return mid
            case ServerError(id=str() as mid, message=text):
                message = self.find(mid)
                if message is not None and message.role == "user":
                    message.status, message.error = "failed", text or "Not sent."
                    return mid
            case RunStarted(reply_to=str() as turn):
                revived = self._revive(turn)
                self.runs.setdefault(turn, RUNNING)
                return ALL if revived else turn
            case RunFinished(reply_to=turn):
                self._end_turn(turn, "done")
                return ALL
            case RunError(code=code, reply_to=str() as turn) if code == SERVER_GONE:
                self.runs.pop(turn, None)  # cut, as a dead server's turn found in history
                self._lose(turn)
                return ALL
            case RunError(message=text, code=code, reply_to=turn):
                self._end_turn(turn, "stopped" if code == STOPPED else "failed", text)
                return ALL
            case TextStart(message_id=mid) | ReasoningStart(message_id=mid):
                message = self.find(mid)
                if message is None:
                    role = "assistant" if isinstance(frame, TextStart) else "reasoning"
                    return self._add(Message(mid, role, "", "streaming"))
                if message.role == "assistant" and (
                    message.lost or (message.status == "streaming" and message.text)
                ):
                    # A socket that joins mid-reply is told the reply so far, from its start:
                    # it replaces ours, which lacks what was sent while no socket was there.
                    revived = message.lost and self._revive(message.reply_to)
                    message.text = ""
                    return ALL if revived else mid
            case (
                TextContent(message_id=mid, delta=delta)
                | ReasoningContent(message_id=mid, delta=delta)
            ):
                message = self.find(mid)
                if message is None:  # joined mid-stream (after a reconnect)
                    role = "assistant" if isinstance(frame, TextContent) else "reasoning"
                    message = Message(mid, role, "", "streaming")
                    self._add(message)
                revived = message.lost and self._revive(message.reply_to)
                if message.status == "streaming":
                    message.text += delta
                    self._still_open(message)
                    return ALL if revived else mid
            case TextEnd(message_id=mid):
                return self._close(self.find(mid))
            case ReasoningEnd(message_id=mid):
                message = self.find(mid)
                if message is not None:
                    return self._close(message)
                for message in self.messages:  # the end of a whole block of reasoning
                    if message.role == "reasoning" and message.status == "streaming":
                        message.status = "done"
                return ALL
            case ToolCallStart(call_id=call, name=name):
                if self.find(call) is None:
                    return self._add(Message(call, "tool", "", "running", name=name))
            case ToolCallArgs(call_id=call, delta=delta):
                message = self.find(call)
                if message is not None and message.status == "running":
                    message.text += delta
                    self._still_open(message)
                    return call
            case ToolCallResult(call_id=call, content=content):
                message = self.find(call)
                if message is not None and message.role == "tool":
                    message.result = content
                    if message.status == "running":
                        message.status = "done"
                    return call
            case StepStarted(name=name):
                step = Message(f"step-{next(self._serial)}", "step", name, "running")
                return self._add(step)
            case StepFinished(name=name):
                for message in reversed(self.messages):
                    if message.role == "step" and message.text == name:
                        return self._close(message)
        return None

    # ------------------------------------------------------------------ turns

    def _turn(self) -> str | None:
        """The turn the agent's next message belongs to: the latest one still open."""
        return next(reversed(self.runs), None)

    def _add(self, message: Message) -> str:
        message.reply_to = self._turn()
        self.messages.append(message)
        return message.id

    def _still_open(self, message: Message) -> None:
        """More of a turn arrived: it is open even if this page had lost track of it (after a
        reconnect the rest of a reply streams on the new socket)."""
        if message.reply_to is not None:
            self.runs.setdefault(message.reply_to, RUNNING)

    def _close(self, message: Message | None) -> str | None:
        if message is None or message.status not in OPEN:
            return None
        message.status = "done"
        return message.id

    def _end_turn(self, turn: str | None, status: str, error: str | None = None) -> None:
        """Close what the turn still has open, with ``status``; a turn that ended early says
        why on its text (or on a line of its own when it had shown no text)."""
        if turn is not None:
            self.runs.pop(turn, None)
        else:  # a server that does not name the turn: whatever is open is its
            self.runs.clear()
        open_items = [
            m
            for m in self.messages
            if m.role in AGENT_ROLES and m.status in OPEN and (turn is None or m.reply_to == turn)
        ]
        for message in open_items:
            message.status = status
        if error is None:
            return
        texts = [m for m in open_items if m.role == "assistant"]
        if texts:
            texts[-1].error = error
        else:
            ended = Message(f"end-{next(self._serial)}", "assistant", "", status, error, turn)
            self.messages.append(ended)

    # ------------------------------------------------------------------ history

    def _merge_history(self, items: tuple[HistoryItem, ...]) -> None:
        """The server's list, plus what only this page has: the outbox and refused messages
        (after it: they go out after everything the server has), and the agent's lines it
        does not store (tool calls, steps, reasoning, a reply still streaming, a turn's
        failure), each kept after the message it followed.  A new socket starts without open
        turns: one still streaming says so with its next event."""
        ours = {m.id: m for m in self.messages}
        merged = [_keep_words(ours.get(item.id), _from_history(item)) for item in items]
        known = {m.id for m in merged}
        after: dict[str, list[Message]] = {}
        outbox: list[Message] = []
        anchor: str | None = None
        for message in self.messages:
            if message.id in known:
                anchor = message.id
            elif message.role == "user" and message.status in ("pending", "failed"):
                outbox.append(message)
            elif anchor is not None and _live_only(message):
                after.setdefault(anchor, []).append(message)
        self.messages = []
        for message in merged:
            self.messages.append(message)
            self.messages += after.get(message.id, [])
        # Lines before every message the server still sends belong to turns it no longer
        # does (older than its window): they go with them.
        self.messages += outbox
        for turn in unanswered(items, self.runs):
            self._lose(turn)

    # ------------------------------------------------------------------ lost turns

    def _lose(self, turn: str) -> None:
        """Nobody answers ``turn`` any more: close what it shows as failed, and say so on its
        last text (or on a line of its own after it).  A turn this page saw end keeps its own
        words."""
        lines = [m for m in self.messages if m.reply_to == turn and m.role in AGENT_ROLES]
        open_items = [m for m in lines if m.status in OPEN]
        if lines and not open_items:
            return
        for message in open_items:
            message.status, message.lost = "failed", True
        texts = [m for m in open_items if m.role == "assistant"]
        if texts:
            texts[-1].error = LOST
            return
        ids = {turn, *(m.id for m in lines)}
        last = max(i for i, m in enumerate(self.messages) if m.id in ids)
        line = Message(f"lost-{turn}", "assistant", "", "failed", LOST, turn, lost=True)
        self.messages.insert(last + 1, line)

    def _revive(self, turn: str | None) -> bool:
        """More of a turn marked lost arrived, so it was not: what it shows opens again, and
        its line of its own goes."""
        lost = [m for m in self.messages if m.lost and m.reply_to == turn]
        self.messages = [m for m in self.messages if m.id != f"lost-{turn}"]
        for message in lost:
            message.lost, message.error = False, None
            message.status = (
                "streaming" if message.role in ("assistant", "reasoning") else "running"
            )
        return bool(lost)


def _from_history(item: HistoryItem) -> Message:
    if item.role == "user":
        return Message(item.id, "user", item.text, "sent")
    status = {CUT_STOPPED: "stopped", CUT_FAILED: "failed"}.get(item.cut or "", "done")
    return Message(item.id, item.role, item.text, status)


def _keep_words(ours: Message | None, stored: Message) -> Message:
    """A reply cut short here is stored cut: this page's copy also knows why (and can retry)."""
    if ours is not None and ours.role == stored.role and ours.status == stored.status:
        return ours
    return stored


def _live_only(message: Message) -> bool:
    """The agent's lines history does not hold: all but a reply that was stored whole."""
    return message.role != "user" and not (message.role == "assistant" and message.status == "done")


def _retryable(message: Message) -> bool:
    """A line saying its turn failed, whose Retry has not been used."""
    return (
        message.role == "assistant"
        and message.status == "failed"
        and message.error is not None
        and not message.retried
    )
