"""The relay agent: each turn is one POST of a ``RunAgentInput`` to an AG-UI endpoint, whose
``text/event-stream`` answer comes back as validated, rebuilt AG-UI events.

    agent = AguiRelay(RelayConfig("http://127.0.0.1:9000/agent", parse_headers([], env)))
    app.cleanup_ctx.append(agent.lifespan)      # one aiohttp client session per server
    async for event in agent.run(conversation, context):
        ...                                     # RUN_STARTED first, then the upstream's events

Everything that can go wrong upstream ends the run with :class:`~backend.agent.RunFailed`
carrying words for a person (:mod:`app.wire.agent_runs`): a refusal (HTTP 4xx/5xx, a redirect,
something other than an event stream), no first byte within ``first_byte_timeout`` (connecting
included), a connection that drops before ``RUN_FINISHED``, more than ``max_bytes`` of answer,
an event that does not validate, or the upstream's own ``RUN_ERROR``.  A kept-alive connection
that the upstream closed in the meantime is retried once on a new connection (the request
never reached it; aiohttp retries only idempotent methods itself).  The total time of a run
is bounded by its caller (:mod:`backend.runs`), which cancels this generator; cancelling it
closes the upstream connection, which is how the upstream learns that nobody listens any more.
Header values are never logged; the address is logged without user info or query string.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from ag_ui.core import (
    AssistantMessage,
    BaseEvent,
    RunAgentInput,
    RunErrorEvent,
    RunFinishedEvent,
    RunStartedEvent,
    UserMessage,
)

from app.wire.agent_runs import MAX_DETAIL, duration, failure
from app.wire.limits import AGENT_TIMEOUT, MAX_RUN_BYTES
from backend.agent import AgentContext, RunFailed
from backend.history import ChatMessage
from backend.relay.events import InvalidEvent, LegacyThinking, parse_event
from backend.relay.headers import UpstreamHeaders
from backend.relay.projection import Projection
from backend.relay.sse import SSEDecoder, SSEError

log = logging.getLogger("pychat.relay")

PROTOCOL_VERSION = "1.0"  # what our validation speaks (ag-ui-protocol 1.0.0)
BUSY = frozenset({429, 503})


def shown_url(url: str) -> str:
    """The address as it may appear in a log: no user info, no query string, no fragment."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def check_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is not a number)
    except ValueError:
        raise ValueError("--agent-url is not a valid address") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("--agent-url must be an http:// or https:// address with a host")
    return url


@dataclass(frozen=True)
class RelayConfig:
    url: str
    headers: UpstreamHeaders = field(default_factory=UpstreamHeaders, repr=False)
    first_byte_timeout: float = AGENT_TIMEOUT
    max_bytes: int = MAX_RUN_BYTES


def run_input(conversation: Sequence[ChatMessage], context: AgentContext) -> RunAgentInput:
    """The AG-UI request for one turn: the user's thread, this run, the history as messages,
    no tools and an empty state (the upstream owns both)."""
    messages: list[UserMessage | AssistantMessage] = [
        UserMessage(id=m.id, content=m.text)
        if m.role == "user"
        else AssistantMessage(id=m.id, content=m.text)
        for m in conversation
    ]
    return RunAgentInput(
        thread_id=context.thread_id,
        run_id=context.run_id,
        protocol_version=PROTOCOL_VERSION,
        state={},
        messages=messages,
        tools=[],
        context=[],
        forwarded_props={},
    )


def _refusal(status: int) -> RunFailed:
    if status in BUSY:
        return RunFailed(failure("upstream_busy", status=status))
    if status >= 500:
        return RunFailed(failure("upstream_failed", status=status))
    return RunFailed(failure("upstream_refused", status=status))


class AguiRelay:
    def __init__(self, config: RelayConfig) -> None:
        self.config = config
        self._session: aiohttp.ClientSession | None = None
        self._fresh: aiohttp.ClientSession | None = None  # never reuses a connection

    async def lifespan(self, app: object) -> AsyncIterator[None]:
        """aiohttp cleanup context: the client sessions live as long as the server."""
        # Deadlines are ours (first byte, whole run); aiohttp's default 5 min total is not.
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.config.first_byte_timeout)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),  # runs are bounded by backend.runs
            timeout=timeout,
            trust_env=False,
        )
        self._fresh = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, force_close=True),
            timeout=timeout,
            trust_env=False,
        )
        log.info(
            "relaying chat turns to %s (%d configured headers)",
            shown_url(self.config.url),
            len(self.config.headers),
        )
        try:
            yield
        finally:
            await self._session.close()
            await self._fresh.close()
            self._session = self._fresh = None

    async def run(
        self, conversation: Sequence[ChatMessage], context: AgentContext
    ) -> AsyncIterator[BaseEvent]:
        yield RunStartedEvent(thread_id=context.thread_id, run_id=context.run_id)
        body = run_input(conversation, context).model_dump_json(by_alias=True, exclude_none=True)
        try:
            async for event in self._stream(body, context):
                yield event
        except RunFailed as failed:
            log.warning(
                "agent run %s ended: %s%s",
                context.run_id,
                failed.failure.code,
                f" ({failed.detail})" if failed.detail else "",
            )
            raise

    async def _stream(self, body: str, context: AgentContext) -> AsyncIterator[BaseEvent]:
        if self._session is None or self._fresh is None:
            raise RuntimeError("AguiRelay.lifespan has not started")
        config = self.config
        loop = asyncio.get_running_loop()
        first_byte_by = loop.time() + config.first_byte_timeout
        timed_out = RunFailed(
            failure("upstream_timeout", duration=duration(config.first_byte_timeout))
        )
        headers = {
            **config.headers.as_dict(),
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            "Accept-Encoding": "identity",  # compressed streams arrive in bursts, not tokens
        }
        response = None
        for session in (self._session, self._fresh):
            try:
                async with asyncio.timeout_at(first_byte_by):
                    response = await session.post(
                        config.url, data=body.encode(), headers=headers, allow_redirects=False
                    )
                break
            except TimeoutError:
                raise timed_out from None
            except (aiohttp.ClientConnectorError, aiohttp.InvalidURL) as exc:
                raise RunFailed(failure("upstream_unreachable"), type(exc).__name__) from None
            except (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError) as exc:
                # A kept-alive connection the upstream had closed meanwhile (after an error
                # answer, say): the request never reached it, so once more on a new one.
                if session is self._fresh:
                    raise RunFailed(failure("upstream_unreachable"), type(exc).__name__) from None
            except aiohttp.ClientError as exc:
                raise RunFailed(failure("upstream_unreachable"), type(exc).__name__) from None
        assert response is not None
        try:
            if response.status != 200:
                raise _refusal(response.status)
            if response.content_type != "text/event-stream":
                raise RunFailed(failure("upstream_invalid"), "not an event stream")
            async for event in self._events(response, first_byte_by, timed_out, context):
                yield event
        finally:
            response.close()  # also when cancelled: the upstream sees the connection end

    async def _events(
        self,
        response: aiohttp.ClientResponse,
        first_byte_by: float,
        timed_out: RunFailed,
        context: AgentContext,
    ) -> AsyncIterator[BaseEvent]:
        config = self.config
        decoder = SSEDecoder()
        legacy = LegacyThinking()
        projection = Projection(context.thread_id, context.run_id)
        received = 0
        while True:
            try:
                if received == 0:
                    async with asyncio.timeout_at(first_byte_by):
                        chunk = await response.content.readany()
                else:
                    chunk = await response.content.readany()
            except TimeoutError:
                raise timed_out from None
            except aiohttp.ClientError as exc:
                raise RunFailed(failure("upstream_dropped"), type(exc).__name__) from None
            if not chunk:
                raise RunFailed(failure("upstream_dropped"), "ended before RUN_FINISHED")
            received += len(chunk)
            if received > config.max_bytes:
                raise RunFailed(failure("too_big", kib=config.max_bytes // 1024))
            try:
                sent = decoder.feed(chunk)
            except SSEError as exc:
                raise RunFailed(failure("upstream_invalid"), str(exc)) from None
            for server_sent in sent:
                if not server_sent.data.strip():
                    continue  # an empty event: a keep-alive, like a comment
                try:
                    upstream = parse_event(server_sent.data)
                except InvalidEvent as exc:
                    raise RunFailed(failure("upstream_invalid"), str(exc)) from None
                for event in legacy.translate(upstream):
                    if isinstance(event, RunErrorEvent):
                        detail = event.message.strip()[:MAX_DETAIL] or "no details"
                        raise RunFailed(failure("upstream_error", detail=detail))
                    for relayed in projection.accept(event):
                        yield relayed
                    if isinstance(event, RunFinishedEvent):
                        return
