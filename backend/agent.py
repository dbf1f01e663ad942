"""Agents: given the conversation, an async stream of AG-UI events.

The run manager (:mod:`backend.runs`) only knows :class:`Agent`: the built-in
:class:`GuideAgent`, or :class:`backend.relay.client.AguiRelay` for a real agent behind
``--agent-url``, or any other class with the same ``run`` method (and, if it holds a client,
a ``lifespan`` cleanup context).  Events are the ``ag-ui-protocol`` package's models,
serialised with their camelCase aliases; an agent ends its run early by raising
:class:`RunFailed`.

    agent = GuideAgent()
    async for event in agent.run(conversation, context):
        await send(event)
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
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

from app.wire import guide
from app.wire.agent_runs import RunFailure
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


class RunFailed(Exception):
    """Raised by an agent to end its run early with words a person understands; the run
    manager sends them as ``RUN_ERROR`` and keeps what was shown.  ``detail`` is for the log."""

    def __init__(self, failure: RunFailure, detail: str | None = None) -> None:
        super().__init__(failure.code)
        self.failure = failure
        self.detail = detail


class Agent(Protocol):
    def run(
        self, conversation: Sequence[ChatMessage], context: AgentContext
    ) -> AsyncIterator[BaseEvent]: ...


def event_frame(event: BaseEvent) -> dict:
    return event.model_dump(mode="json", by_alias=True, exclude_none=True)


class GuideAgent:
    """Useful without a model: answers /help and /status and echoes everything else.

    Replies stream in chunks of a few words, ``delay`` seconds apart, the way a model's would.
    """

    def __init__(self, delay: float = 0.02, words_per_chunk: int = 3) -> None:
        self.delay = delay
        self.words_per_chunk = words_per_chunk

    def reply_to(self, text: str, context: AgentContext) -> str:
        return guide.reply(
            text,
            guide.Facts(
                context.user,
                context.session_expires_at,
                context.idle_timeout,
                context.connected_since,
                context.sockets_in_session,
            ),
        )

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
        for chunk in guide.chunks(self.reply_to(last.text, context), self.words_per_chunk):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield TextMessageContentEvent(message_id=message_id, delta=chunk)
        yield TextMessageEndEvent(message_id=message_id)
        yield RunFinishedEvent(thread_id=context.thread_id, run_id=context.run_id)


class SilentAgent:
    """Answers nothing (a run that starts and finishes): for load tests that measure the socket
    and storage path without the cost of a reply, and for deployments that only relay."""

    async def run(
        self, conversation: Sequence[ChatMessage], context: AgentContext
    ) -> AsyncIterator[BaseEvent]:
        yield RunStartedEvent(thread_id=context.thread_id, run_id=context.run_id)
        yield RunFinishedEvent(thread_id=context.thread_id, run_id=context.run_id)


AGENTS = {"guide": GuideAgent, "silent": SilentAgent}
