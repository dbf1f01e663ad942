"""A real AG-UI server for the relay's tests and benchmark: Pydantic AI's AG-UI adapter under
uvicorn, its agent on ``FunctionModel`` (deterministic: no model, no network) with one tool.

    .venv/bin/python -m uvicorn tests.agui_upstream:app --port 9000

What the agent does is chosen by the last user message, so one upstream serves every journey:

* ``weather in Paris``: calls the ``weather`` tool, then answers with its result;
* ``count slowly``: streams a number every 50 ms for 20 s (to be stopped);
* ``think first``: reasons (``REASONING_*`` events), then answers; ``think the old way`` does
  the same speaking AG-UI 0.1.10 (``THINKING_*`` events);
* anything else: ``You said: <text>.`` and a greeting, a few words at a time.

A few prompts misbehave on purpose, below the agent, the way a broken deployment would:
``please fail`` (the endpoint raises: Starlette answers 500), ``please refuse`` (401),
``please stall`` (no answer for 30 s), ``please drop`` (the connection breaks mid-stream),
``please break`` (an event that does not validate), ``please flood`` (400 KiB of text) and
``please step`` (steps, chunk events, and fields the page must not get).

``GET /observed`` tells what the server saw of each run, by run id: ``completed`` or
``disconnected`` (the client closed the request before the end), and the request's
``authorization`` and ``x-api-key`` headers.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

from ag_ui.core import RunAgentInput
from pydantic_ai import Agent
from pydantic_ai.messages import ModelMessage, ModelRequest, ToolReturnPart, UserPromptPart
from pydantic_ai.models.function import AgentInfo, DeltaThinkingPart, DeltaToolCall, FunctionModel
from pydantic_ai.ui.ag_ui import AGUIAdapter
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from tools.processes import PYTHON, ROOT, _stop, free_port, wait_for_port

OBSERVED: dict[str, dict] = {}
STALL = 30.0


def _prompt(messages: list[ModelMessage]) -> str:
    for message in reversed(messages):
        if isinstance(message, ModelRequest):
            for part in reversed(message.parts):
                if isinstance(part, UserPromptPart) and isinstance(part.content, str):
                    return part.content
    return ""


async def _words(text: str, pause: float = 0.005):
    for word in text.split(" "):
        await asyncio.sleep(pause)
        yield word + " "


async def stream(messages: list[ModelMessage], info: AgentInfo):
    """The model: deterministic replies streamed as a model's would be."""
    prompt = _prompt(messages)
    last = messages[-1]
    returned = [p for p in getattr(last, "parts", []) if isinstance(p, ToolReturnPart)]
    if returned:
        async for word in _words(f"It is {returned[0].content} today."):
            yield word
    elif prompt.startswith("weather in "):
        city = json.dumps({"city": prompt.removeprefix("weather in ").strip()})
        yield {0: DeltaToolCall(name="weather", json_args=city, tool_call_id="call-weather")}
    elif prompt == "count slowly":
        for number in range(1, 401):
            await asyncio.sleep(0.05)
            yield f"{number} "
    elif prompt.startswith("think"):
        yield {0: DeltaThinkingPart(content="The user wants me to think. ")}
        yield {0: DeltaThinkingPart(content="So I do.")}
        async for word in _words("Thought it over: yes."):
            yield word
    else:
        async for word in _words(f"You said: {prompt}. Hello from Pydantic AI."):
            yield word


agent = Agent(FunctionModel(stream_function=stream), name="upstream")


@agent.tool_plain
def weather(city: str) -> str:
    """Look up the weather in a city."""
    return f"sunny in {city}"


def _sse(*events: dict) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events)


def _misbehaviour(prompt: str, ids: dict) -> StreamingResponse | None:
    run = {"type": "RUN_STARTED", **ids}
    start = {"type": "TEXT_MESSAGE_START", "messageId": "bad-1", "role": "assistant"}

    def content(delta: str) -> dict:
        return {"type": "TEXT_MESSAGE_CONTENT", "messageId": "bad-1", "delta": delta}

    async def body(parts, then_raise: bool = False):
        for part in parts:
            await asyncio.sleep(0.01)
            yield part
        if then_raise:
            raise RuntimeError("the connection drops here, on purpose")

    if prompt == "please drop":
        parts = [_sse(run, start, content("Half of "), content("an answer"))]
        return StreamingResponse(body(parts, then_raise=True), media_type="text/event-stream")
    if prompt == "please break":
        invalid = {"type": "TEXT_MESSAGE_CONTENT", "messageId": "bad-1"}  # no delta
        parts = [
            _sse(run, start, content("Before the bad event.")),
            _sse(invalid),
            _sse(content("<b>never shown</b>")),
            _sse(
                {"type": "TEXT_MESSAGE_END", "messageId": "bad-1"}, {"type": "RUN_FINISHED", **ids}
            ),
        ]
        return StreamingResponse(body(parts), media_type="text/event-stream")
    if prompt == "please flood":
        parts = [_sse(run, start)] + [_sse(content("x" * 4096)) for _ in range(100)]
        parts.append(_sse({"type": "TEXT_MESSAGE_END", "messageId": "bad-1"}))
        return StreamingResponse(body(parts), media_type="text/event-stream")
    if prompt == "please step":
        extra = {"rawEvent": {"provider": "secret-raw"}, "internal": "secret-extra"}
        parts = [
            _sse(
                run,
                {"type": "STEP_STARTED", "stepName": "look things up", **extra},
                {"type": "TOOL_CALL_CHUNK", "toolCallId": "c1", "toolCallName": "search"},
                {"type": "TOOL_CALL_CHUNK", "delta": '{"q": "steps"}'},
                {
                    "type": "TOOL_CALL_RESULT",
                    "messageId": "r1",
                    "toolCallId": "c1",
                    "content": [{"type": "text", "text": "two results"}],
                },
                {"type": "STEP_FINISHED", "stepName": "look things up"},
                {"type": "STATE_SNAPSHOT", "snapshot": {"hidden": True}},
                {"type": "TEXT_MESSAGE_CHUNK", "messageId": "t1", "delta": "Found ", **extra},
                {"type": "TEXT_MESSAGE_CHUNK", "delta": "two."},
                {"type": "RUN_FINISHED", **ids},
            )
        ]
        return StreamingResponse(body(parts), media_type="text/event-stream")
    return None


class Watched:
    """The adapter's response, with what the server saw of its end written to OBSERVED:
    ``completed`` if every byte of the stream was sent, ``disconnected`` if the client left
    first (Starlette then stops sending, and the stream is closed unfinished)."""

    def __init__(self, response: StreamingResponse, run_id: str) -> None:
        self.response = response
        self.run_id = run_id
        self.finished = False
        response.body_iterator = self._watch(response.body_iterator)

    async def _watch(self, body):
        async for chunk in body:
            yield chunk
        self.finished = True

    async def __call__(self, scope, receive, send) -> None:
        try:
            await self.response(scope, receive, send)
        finally:
            await self.response.body_iterator.aclose()
            OBSERVED[self.run_id]["outcome"] = "completed" if self.finished else "disconnected"


async def run_agent(request: Request):
    run_input = RunAgentInput.model_validate_json(await request.body())
    OBSERVED[run_input.run_id] = {
        "outcome": "started",
        "authorization": request.headers.get("authorization"),
        "x-api-key": request.headers.get("x-api-key"),
        "messages": [m.role for m in run_input.messages],
    }
    users = [m for m in run_input.messages if m.role == "user"]
    prompt = users[-1].content if users and isinstance(users[-1].content, str) else ""
    if prompt == "please fail":
        raise RuntimeError("the agent's server fails, on purpose")
    if prompt == "please refuse":
        raise HTTPException(401, "no key, no answer")
    if prompt == "please stall":
        await asyncio.sleep(STALL)
    ids = {"threadId": run_input.thread_id, "runId": run_input.run_id}
    response = _misbehaviour(prompt, ids)
    if response is None:
        version = {"ag_ui_version": "0.1.10"} if prompt == "think the old way" else {}
        response = await AGUIAdapter.dispatch_request(request, agent=agent, **version)
    return Watched(response, run_input.run_id)


async def observed(request: Request) -> JSONResponse:
    return JSONResponse(OBSERVED)


app = Starlette(routes=[Route("/agent", run_agent, methods=["POST"]), Route("/observed", observed)])


class UpstreamProcess:
    """This app under uvicorn on a free loopback port, as its own process."""

    def __init__(self, log_path: Path) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/agent"

    @property
    def observed_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/observed"

    def start(self, timeout: float = 30.0) -> UpstreamProcess:
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "uvicorn",
                "tests.agui_upstream:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--log-level",
                "warning",
                "--timeout-graceful-shutdown",
                "1",
            ],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if not wait_for_port(self.port, timeout, self.proc):
            self.stop()
            raise RuntimeError(f"the AG-UI upstream did not start: {self.log()}")
        return self

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
