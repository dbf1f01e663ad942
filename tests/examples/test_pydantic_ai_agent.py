"""The example agent runs as documented, on Pydantic AI's offline ``test`` model (no network,
no key): it refuses a caller without the shared secret and streams AG-UI events to one with
it, which the relay's own validation reads."""

from __future__ import annotations

import importlib
import json
import sys

from backend.relay.events import parse_event
from backend.relay.sse import SSEDecoder


async def call(app, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """One HTTP request through an ASGI app, the way uvicorn hands it over."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/agent",
        "raw_path": b"/agent",
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 9000),
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    status, chunks = 0, []

    async def receive():
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message):
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


async def test_the_example_streams_ag_ui_events_to_the_chat_server_only(monkeypatch):
    monkeypatch.setenv("PYCHAT_MODEL", "test")
    monkeypatch.setenv("AGENT_SECRET", "shared-secret")
    sys.modules.pop("examples.pydantic_ai_agent", None)
    example = importlib.import_module("examples.pydantic_ai_agent")
    body = json.dumps(
        {
            "threadId": "user-1",
            "runId": "run-1",
            "messages": [{"id": "m1", "role": "user", "content": "count these words"}],
            "tools": [],
            "context": [],
            "state": {},
            "forwardedProps": {},
            "protocolVersion": "1.0",
        }
    ).encode()
    json_headers = {"content-type": "application/json", "accept": "text/event-stream"}
    refused, _ = await call(example.app, body, json_headers)
    assert refused == 401
    status, stream = await call(
        example.app, body, {**json_headers, "authorization": "Bearer shared-secret"}
    )
    assert status == 200
    events = [parse_event(e.data) for e in SSEDecoder().feed(stream)]
    kinds = [e.type.value for e in events]
    assert kinds[0] == "RUN_STARTED" and kinds[-1] == "RUN_FINISHED"
    assert "TOOL_CALL_START" in kinds  # the offline model calls the example's tool
    assert any(getattr(e, "tool_call_name", None) == "word_count" for e in events)
