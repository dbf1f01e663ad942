"""What of a validated upstream event stream reaches the page, rebuilt field by field.

The protocol models keep unknown fields (``extra="allow"``) and carry ``rawEvent`` and
``metadata`` verbatim, so relaying an upstream model as it came would hand the page whatever
the upstream put there.  :class:`Projection` instead builds a fresh model per event with only
the fields the page reads (docs/protocol.md), in the small vocabulary of
:data:`app.wire.agent_runs.RELAYED_EVENTS`:

* ``*_CHUNK`` shorthands become start/content/end, as the protocol's TypeScript client expands
  them (a chunk of another id, or any other event, closes the open one);
* a text message opens on the page only when it has content: the empty start/end pair some
  servers send before a tool call never becomes an empty bubble; text in another role than
  ``assistant`` is not relayed;
* a tool result's content parts become one string; state, snapshots, activity, raw, custom,
  subagent and encrypted reasoning events are validated and dropped;
* ``RUN_FINISHED`` closes whatever is still open, so nothing is left streaming on the page.

Run boundaries are the relay's business (:mod:`backend.relay.client`): this class drops
``RUN_STARTED`` and rebuilds ``RUN_FINISHED`` with the ids the relay sent upstream.

    >>> from ag_ui.core import TextMessageChunkEvent as Chunk
    >>> p = Projection("thread", "run")
    >>> [e.type.value for e in p.accept(Chunk(message_id="m", delta="Hi"))]
    ['TEXT_MESSAGE_START', 'TEXT_MESSAGE_CONTENT']
"""

from __future__ import annotations

from ag_ui.core import (
    BaseEvent,
    ReasoningEndEvent,
    ReasoningMessageChunkEvent,
    ReasoningMessageContentEvent,
    ReasoningMessageEndEvent,
    ReasoningMessageStartEvent,
    ReasoningStartEvent,
    RunFinishedEvent,
    StepFinishedEvent,
    StepStartedEvent,
    TextMessageChunkEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
    ToolCallArgsEvent,
    ToolCallChunkEvent,
    ToolCallEndEvent,
    ToolCallResultEvent,
    ToolCallStartEvent,
)


def result_text(content: object) -> str:
    """A tool result's content as text: strings as they are, text parts joined, other parts
    (images, audio, files) named in brackets."""
    if isinstance(content, str):
        return content
    pieces = []
    for part in content if isinstance(content, list) else []:
        text = getattr(part, "text", None)
        pieces.append(text if isinstance(text, str) else f"[{getattr(part, 'type', 'part')}]")
    return "\n".join(pieces)


class Projection:
    def __init__(self, thread_id: str, run_id: str) -> None:
        self.thread_id = thread_id
        self.run_id = run_id
        self._pending: set[str] = set()  # text started upstream, not yet on the page
        self._open_text: list[str] = []  # text open on the page, in order
        self._hidden: set[str] = set()  # text in a role the page does not show
        self._open_tools: list[str] = []
        self._open_reasoning: list[str] = []
        self._chunk_text: str | None = None
        self._chunk_tool: str | None = None
        self._chunk_reasoning: str | None = None

    # ------------------------------------------------------------------ the one entry point

    def accept(self, event: BaseEvent) -> list[BaseEvent]:
        """The events the page gets for one upstream event (often one, sometimes none)."""
        out = self._close_chunks(keep=type(event))
        match event:
            case TextMessageStartEvent(message_id=mid, role=role):
                if role in (None, "assistant"):
                    self._pending.add(mid)
                else:
                    self._hidden.add(mid)
            case TextMessageContentEvent(message_id=mid, delta=delta):
                out += self._text(mid, delta)
            case TextMessageEndEvent(message_id=mid):
                out += self._end_text(mid)
            case TextMessageChunkEvent():
                out += self._text_chunk(event)
            case ToolCallStartEvent():
                out += self._start_tool(
                    event.tool_call_id, event.tool_call_name, event.parent_message_id
                )
            case ToolCallArgsEvent(tool_call_id=call, delta=delta):
                out.append(ToolCallArgsEvent(tool_call_id=call, delta=delta))
            case ToolCallEndEvent(tool_call_id=call):
                out += self._end_tool(call)
            case ToolCallChunkEvent():
                out += self._tool_chunk(event)
            case ToolCallResultEvent():
                out.append(
                    ToolCallResultEvent(
                        message_id=event.message_id,
                        tool_call_id=event.tool_call_id,
                        content=result_text(event.content),
                        role="tool",
                    )
                )
            case StepStartedEvent(step_name=name):
                out.append(StepStartedEvent(step_name=name))
            case StepFinishedEvent(step_name=name):
                out.append(StepFinishedEvent(step_name=name))
            case ReasoningStartEvent(message_id=mid):
                out.append(ReasoningStartEvent(message_id=mid))
            case ReasoningMessageStartEvent(message_id=mid):
                out += self._start_reasoning(mid)
            case ReasoningMessageContentEvent(message_id=mid, delta=delta):
                out.append(ReasoningMessageContentEvent(message_id=mid, delta=delta))
            case ReasoningMessageEndEvent(message_id=mid):
                out += self._end_reasoning(mid)
            case ReasoningMessageChunkEvent():
                out += self._reasoning_chunk(event)
            case ReasoningEndEvent(message_id=mid):
                out.append(ReasoningEndEvent(message_id=mid))
            case RunFinishedEvent():
                out += self.close_all()
                out.append(RunFinishedEvent(thread_id=self.thread_id, run_id=self.run_id))
        return out

    def close_all(self) -> list[BaseEvent]:
        """Ends for everything still open (the run finished without closing them)."""
        out = self._close_chunks(keep=None)
        out += [ToolCallEndEvent(tool_call_id=c) for c in self._open_tools]
        out += [ReasoningMessageEndEvent(message_id=m) for m in self._open_reasoning]
        out += [TextMessageEndEvent(message_id=m) for m in self._open_text]
        self._open_tools, self._open_reasoning, self._open_text = [], [], []
        self._pending.clear()
        return out

    # ------------------------------------------------------------------ text

    def _text(self, mid: str, delta: str) -> list[BaseEvent]:
        if mid in self._hidden or not delta:
            return []
        out: list[BaseEvent] = []
        if mid not in self._open_text:  # started now (or never announced: be lenient)
            self._pending.discard(mid)
            self._open_text.append(mid)
            out.append(TextMessageStartEvent(message_id=mid, role="assistant"))
        out.append(TextMessageContentEvent(message_id=mid, delta=delta))
        return out

    def _end_text(self, mid: str) -> list[BaseEvent]:
        self._pending.discard(mid)
        self._hidden.discard(mid)
        if mid in self._open_text:
            self._open_text.remove(mid)
            return [TextMessageEndEvent(message_id=mid)]
        return []

    def _text_chunk(self, chunk: TextMessageChunkEvent) -> list[BaseEvent]:
        out: list[BaseEvent] = []
        mid = chunk.message_id or self._chunk_text
        if mid is None:
            return out  # a continuation with nothing to continue
        if mid != self._chunk_text:
            if self._chunk_text is not None:
                out += self._end_text(self._chunk_text)
            self._chunk_text = mid
            if chunk.role not in (None, "assistant"):
                self._hidden.add(mid)
        return out + self._text(mid, chunk.delta or "")

    # ------------------------------------------------------------------ tool calls

    def _start_tool(self, call: str, name: str, parent: str | None) -> list[BaseEvent]:
        self._open_tools.append(call)
        start = ToolCallStartEvent(tool_call_id=call, tool_call_name=name, parent_message_id=parent)
        return [start]

    def _end_tool(self, call: str) -> list[BaseEvent]:
        if call in self._open_tools:
            self._open_tools.remove(call)
        return [ToolCallEndEvent(tool_call_id=call)]

    def _tool_chunk(self, chunk: ToolCallChunkEvent) -> list[BaseEvent]:
        out: list[BaseEvent] = []
        call = chunk.tool_call_id or self._chunk_tool
        if call is None:
            return out
        if call != self._chunk_tool:
            if self._chunk_tool is not None:
                out += self._end_tool(self._chunk_tool)
            if not chunk.tool_call_name:
                return out  # a new call must say which tool it calls
            self._chunk_tool = call
            out += self._start_tool(call, chunk.tool_call_name, chunk.parent_message_id)
        if chunk.delta:
            out.append(ToolCallArgsEvent(tool_call_id=call, delta=chunk.delta))
        return out

    # ------------------------------------------------------------------ reasoning

    def _start_reasoning(self, mid: str) -> list[BaseEvent]:
        self._open_reasoning.append(mid)
        return [ReasoningMessageStartEvent(message_id=mid)]

    def _end_reasoning(self, mid: str) -> list[BaseEvent]:
        if mid in self._open_reasoning:
            self._open_reasoning.remove(mid)
        return [ReasoningMessageEndEvent(message_id=mid)]

    def _reasoning_chunk(self, chunk: ReasoningMessageChunkEvent) -> list[BaseEvent]:
        out: list[BaseEvent] = []
        mid = chunk.message_id or self._chunk_reasoning
        if mid is None:
            return out
        if mid != self._chunk_reasoning:
            if self._chunk_reasoning is not None:
                out += self._end_reasoning(self._chunk_reasoning)
            self._chunk_reasoning = mid
            out += self._start_reasoning(mid)
        if chunk.delta:
            out.append(ReasoningMessageContentEvent(message_id=mid, delta=chunk.delta))
        return out

    # ------------------------------------------------------------------ chunk streams

    def _close_chunks(self, keep: type | None) -> list[BaseEvent]:
        """Any event but a chunk of the same kind ends the chunk stream that is open."""
        out: list[BaseEvent] = []
        if self._chunk_text is not None and keep is not TextMessageChunkEvent:
            out += self._end_text(self._chunk_text)
            self._chunk_text = None
        if self._chunk_tool is not None and keep is not ToolCallChunkEvent:
            out += self._end_tool(self._chunk_tool)
            self._chunk_tool = None
        if self._chunk_reasoning is not None and keep is not ReasoningMessageChunkEvent:
            out += self._end_reasoning(self._chunk_reasoning)
            self._chunk_reasoning = None
        return out
