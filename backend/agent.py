"""Agents: given the conversation, an async stream of AG-UI events.

The socket code only knows :class:`Agent`; swapping the built-in :class:`GuideAgent` for a real
model means writing another class with the same ``run`` method.  Events are the
``ag-ui-protocol`` package's models, serialised with their camelCase aliases.

    agent = GuideAgent()
    async for event in agent.run(conversation, context):
        await send(event)
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from ag_ui.core import (
    BaseEvent,
    RunErrorEvent,
    RunFinishedEvent,
    RunStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
)

from backend.history import ChatMessage


@dataclass(frozen=True)
class AgentContext:
    """What an agent may know about who it talks to and how they are connected."""

    user: str
    thread_id: str
    run_id: str
    session_expires_at: float
    idle_timeout: float
    connected_since: float
    sockets_in_session: int


class Agent(Protocol):
    def run(
        self, conversation: Sequence[ChatMessage], context: AgentContext
    ) -> AsyncIterator[BaseEvent]: ...


def event_frame(event: BaseEvent) -> dict:
    return event.model_dump(mode="json", by_alias=True, exclude_none=True)


HELP = """Here is what I can do:
- **/help**: this list.
- **/status**: your session and this tab's connection.
- anything else: I echo it back, formatted, so you can check the round trip.

Messages you type while offline wait in the outbox and go out when the connection returns."""


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%H:%M UTC on %Y-%m-%d")


class GuideAgent:
    """Useful without a model: answers /help and /status and echoes everything else.

    Replies stream in chunks of a few words, ``delay`` seconds apart, the way a model's would.
    """

    def __init__(self, delay: float = 0.02, words_per_chunk: int = 3) -> None:
        self.delay = delay
        self.words_per_chunk = words_per_chunk

    def reply_to(self, text: str, context: AgentContext) -> str:
        command = text.strip().split(maxsplit=1)[0].lower() if text.strip() else ""
        if command == "/help":
            return HELP
        if command == "/status":
            sockets = context.sockets_in_session
            return (
                f"You are signed in as **{context.user}**. Your session ends by "
                f"{_when(context.session_expires_at)}, or after "
                f"{int(context.idle_timeout // 60)} minutes without activity.\n"
                f"This tab has been connected since {_when(context.connected_since)}; "
                f"your session has {sockets} open connection{'s' if sockets != 1 else ''}."
            )
        quoted = "\n".join(f"> {line}" for line in text.splitlines())
        return f"You said:\n\n{quoted}\n\n({len(text)} characters. Type /help for more.)"

    async def run(
        self, conversation: Sequence[ChatMessage], context: AgentContext
    ) -> AsyncIterator[BaseEvent]:
        yield RunStartedEvent(thread_id=context.thread_id, run_id=context.run_id)
        last = conversation[-1] if conversation else None
        if last is None or last.role != "user":
            yield RunErrorEvent(message="There is no message to answer.", code="no_input")
            return
        message_id = f"a-{uuid.uuid4().hex}"
        yield TextMessageStartEvent(message_id=message_id, role="assistant")
        for chunk in _chunks(self.reply_to(last.text, context), self.words_per_chunk):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield TextMessageContentEvent(message_id=message_id, delta=chunk)
        yield TextMessageEndEvent(message_id=message_id)
        yield RunFinishedEvent(thread_id=context.thread_id, run_id=context.run_id)


def _chunks(text: str, words: int) -> list[str]:
    pieces = re.findall(r"\S+\s*|\s+", text)
    return ["".join(pieces[i : i + words]) for i in range(0, len(pieces), words)] or [text]


class SilentAgent:
    """Answers nothing (a run that starts and finishes): for load tests that measure the socket
    and storage path without the cost of a reply, and for deployments that only relay."""

    async def run(
        self, conversation: Sequence[ChatMessage], context: AgentContext
    ) -> AsyncIterator[BaseEvent]:
        yield RunStartedEvent(thread_id=context.thread_id, run_id=context.run_id)
        yield RunFinishedEvent(thread_id=context.thread_id, run_id=context.run_id)


AGENTS = {"guide": GuideAgent, "silent": SilentAgent}
