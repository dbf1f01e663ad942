"""The relay's request and its address handling (the I/O is tested against a real AG-UI
server in tests/backend/test_agui_relay.py)."""

from __future__ import annotations

import json

import pytest
from ag_ui.core import RunAgentInput

from backend.agent import AgentContext
from backend.history import ChatMessage
from backend.relay.client import RelayConfig, check_url, run_input, shown_url
from backend.relay.headers import parse_headers

CONTEXT = AgentContext(
    user="ada",
    thread_id="user-1",
    run_id="run-1",
    session_expires_at=0.0,
    idle_timeout=0.0,
    connected_since=0.0,
    sockets_in_session=1,
)


def test_the_request_carries_the_thread_the_run_and_the_history():
    conversation = [
        ChatMessage("m1", "user", "hello", 1.0),
        ChatMessage("a1", "assistant", "hi, half", 2.0, cut="stopped"),
        ChatMessage("m2", "user", "again", 3.0),
    ]
    body = json.loads(run_input(conversation, CONTEXT).model_dump_json(by_alias=True))
    assert body["threadId"] == "user-1" and body["runId"] == "run-1"
    assert body["messages"] == [
        {"id": "m1", "role": "user", "content": "hello"},
        {"id": "a1", "role": "assistant", "content": "hi, half"},
        {"id": "m2", "role": "user", "content": "again"},
    ]
    assert body["tools"] == [] and body["context"] == [] and body["state"] == {}
    assert body["protocolVersion"] == "1.0"
    RunAgentInput.model_validate(body)  # what an AG-UI server reads it with


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://user:pw@agent.example:8443/run?key=secret#x", "https://agent.example:8443/run"),
        ("http://[::1]:9000/agent", "http://[::1]:9000/agent"),
        ("http://agent.example/", "http://agent.example/"),
    ],
)
def test_the_logged_address_has_no_credentials(url, shown):
    assert shown_url(url) == shown


@pytest.mark.parametrize(
    "url", ["ftp://agent.example/", "agent.example/run", "http:///path", "http://h:notaport/"]
)
def test_an_address_that_cannot_be_an_agent_is_refused(url):
    with pytest.raises(ValueError, match="--agent-url"):
        check_url(url)


def test_the_config_repr_hides_the_headers():
    config = RelayConfig("http://a/", parse_headers(["X-Key: secret-value"], None))
    assert "secret-value" not in repr(config)
