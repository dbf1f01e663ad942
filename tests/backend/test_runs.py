"""Agent runs over a real socket: waiting their turn, limits, stop, sign-out, cut replies.

The agent here is scripted (its pace is the test's to decide); the relay to a real AG-UI server
is tested in test_agui_relay.py.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from ag_ui.core import (
    BaseEvent,
    RunErrorEvent,
    RunFinishedEvent,
    RunStartedEvent,
    TextMessageContentEvent,
    TextMessageEndEvent,
    TextMessageStartEvent,
)

from app.wire.agent_runs import failure
from app.wire.limits import WAITING_PER_USER
from backend.agent import RunFailed
from backend.keys import STORAGE
from tests.backend.wsclient import close_code, frames_until, open_socket, token_for
from tests.support import PASSWORD


class ScriptedAgent:
    """``slow`` streams "partial " and then waits for ``gate``; ``fail`` and ``crash`` break
    after "half "; ``refuse`` yields its own RUN_ERROR; anything else answers at once."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.asked: list[str] = []
        self.closed: list[str] = []  # texts whose run was cancelled before its end
        self.closed_event = asyncio.Event()

    async def run(self, conversation, context) -> AsyncIterator[BaseEvent]:
        text = conversation[-1].text
        self.asked.append(text)
        finished = False
        try:
            yield RunStartedEvent(thread_id=context.thread_id, run_id=context.run_id)
            mid = f"a-{context.run_id}"
            yield TextMessageStartEvent(message_id=mid, role="assistant")
            if text == "refuse":
                yield RunErrorEvent(message="I will not.", code="no_input")
                return
            if text in ("slow", "fail", "crash"):
                yield TextMessageContentEvent(message_id=mid, delta="partial ")
                if text == "fail":
                    raise RunFailed(failure("upstream_dropped"))
                if text == "crash":
                    raise ValueError("a bug")
                await self.gate.wait()
            yield TextMessageContentEvent(message_id=mid, delta=f"answer to {text}")
            yield TextMessageEndEvent(message_id=mid)
            yield RunFinishedEvent(thread_id=context.thread_id, run_id=context.run_id)
            finished = True
        finally:
            if not finished and text == "slow":
                self.closed.append(text)
                self.closed_event.set()


@pytest.fixture
def server_agent():
    return ScriptedAgent()


def message(mid: str, text: str) -> str:
    return json.dumps({"type": "message", "id": mid, "text": text})


def stop(mid: str) -> str:
    return json.dumps({"type": "stop", "id": mid})


def reply_to(frame: dict) -> str | None:
    return frame.get("metadata", {}).get("replyTo")


async def until(ws, predicate, timeout: float = 5.0) -> list[dict]:
    seen = []
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            seen.append(frame)
            if predicate(frame):
                return seen


def run_end_for(mid: str):
    return lambda f: f["type"] in ("RUN_FINISHED", "RUN_ERROR") and reply_to(f) == mid


def content(frames: list[dict]) -> str:
    return "".join(f["delta"] for f in frames if f["type"] == "TEXT_MESSAGE_CONTENT")


async def test_run_events_name_the_message_they_answer(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(message("m1", "hi"))
        frames = await until(ws, run_end_for("m1"))
    runs = [f for f in frames if f["type"] in ("RUN_STARTED", "RUN_FINISHED")]
    assert [(f["type"], reply_to(f)) for f in runs] == [
        ("RUN_STARTED", "m1"),
        ("RUN_FINISHED", "m1"),
    ]
    assert content(frames) == "answer to hi"


async def test_a_second_message_waits_for_the_first_reply(server, server_agent):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(message("m1", "slow"))
        await ws.send(message("m2", "quick"))
        before_release = await until(ws, lambda f: f["type"] == "TEXT_MESSAGE_CONTENT")
        await ws.send(json.dumps({"type": "ping", "id": "mark"}))
        before_release += await frames_until(ws, "pong")
        assert server_agent.asked == ["slow"]  # the second run has not started
        server_agent.gate.set()
        frames = await until(ws, run_end_for("m2"))
    started = [reply_to(f) for f in before_release + frames if f["type"] == "RUN_STARTED"]
    assert started == ["m1", "m2"]
    assert server_agent.asked == ["slow", "quick"]


async def test_stop_ends_a_streaming_run_and_keeps_what_was_shown(server, server_agent):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(message("m1", "slow"))
        shown = await until(ws, lambda f: f["type"] == "TEXT_MESSAGE_CONTENT")
        await ws.send(stop("m1"))
        ended = await until(ws, run_end_for("m1"))
        await asyncio.wait_for(server_agent.closed_event.wait(), 5)
    assert ended[-1] == {
        "type": "RUN_ERROR",
        "message": "Stopped.",
        "code": "stopped",
        "metadata": {"replyTo": "m1"},
    }
    assert server_agent.closed == ["slow"]
    reply_id = next(f["messageId"] for f in shown if f["type"] == "TEXT_MESSAGE_START")
    async with open_socket(server, token) as ws:
        history = (await frames_until(ws, "history"))[-1]["messages"]
    assert [(m["id"], m["text"], m.get("cut")) for m in history] == [
        ("m1", "slow", None),
        (reply_id, "partial ", "stopped"),
    ]


async def test_stop_takes_a_waiting_message_out_of_the_queue(server, server_agent):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(message("m1", "slow"))
        await ws.send(message("m2", "never asked"))
        await until(ws, lambda f: f["type"] == "TEXT_MESSAGE_CONTENT")
        await ws.send(stop("m2"))
        stopped = await until(ws, run_end_for("m2"))
        assert stopped[-1]["code"] == "stopped"
        server_agent.gate.set()
        await until(ws, run_end_for("m1"))
        await ws.send(message("m3", "after"))
        frames = stopped + await until(ws, run_end_for("m3"))
    assert [reply_to(f) for f in frames if f["type"] == "RUN_STARTED"] == ["m3"]
    assert server_agent.asked == ["slow", "after"]


async def test_stopping_what_is_not_running_changes_nothing(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(stop("nothing-here"))
        await ws.send(json.dumps({"type": "ping", "id": 1}))
        assert [f["type"] for f in await frames_until(ws, "pong")] == ["pong"]


async def test_too_many_waiting_messages_are_answered_with_queue_full(server, server_agent):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(message("m0", "slow"))
        await until(ws, lambda f: f["type"] == "TEXT_MESSAGE_CONTENT")
        for number in range(1, WAITING_PER_USER + 2):
            await ws.send(message(f"m{number}", f"waiting {number}"))
        last = f"m{WAITING_PER_USER + 1}"
        refused = await until(ws, run_end_for(last))
        assert refused[-1]["code"] == "queue_full"
        assert not [f for f in refused if f["type"] == "RUN_ERROR" and reply_to(f) != last]
        server_agent.gate.set()
        await until(ws, run_end_for(f"m{WAITING_PER_USER}"), timeout=10)
    assert len(server_agent.asked) == WAITING_PER_USER + 1


@pytest.mark.parametrize("settings_overrides", [{"agent_runs_per_server": 1}])
async def test_a_full_server_says_so_and_the_next_turn_works(server, server_agent, clock):
    await server.server.app[STORAGE].users.add("bob", PASSWORD)
    ada, bob = await token_for(server, "ada"), await token_for(server, "bob")
    async with open_socket(server, ada, tab="a") as first, open_socket(server, bob, tab="b") as ws:
        await frames_until(first, "history")
        await frames_until(ws, "history")
        await first.send(message("m1", "slow"))
        await until(first, lambda f: f["type"] == "TEXT_MESSAGE_CONTENT")
        await ws.send(message("b1", "hello"))
        busy = await until(ws, run_end_for("b1"))
        assert busy[-1]["code"] == "server_busy"
        assert "busy" in busy[-1]["message"]
        server_agent.gate.set()
        await until(first, run_end_for("m1"))
        await ws.send(message("b2", "hello again"))
        again = await until(ws, run_end_for("b2"))
    assert again[-1]["type"] == "RUN_FINISHED" and content(again) == "answer to hello again"


async def test_sign_out_cancels_the_run_and_keeps_what_was_shown(server, server_agent):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(message("m1", "slow"))
        await until(ws, lambda f: f["type"] == "TEXT_MESSAGE_CONTENT")
        await server.http.post(server.url + "/api/auth/logout", headers={"Origin": server.origin})
        assert await close_code(ws) == 4401
    await asyncio.wait_for(server_agent.closed_event.wait(), 5)
    rows = server.db.execute("SELECT role, text, cut FROM messages ORDER BY seq").fetchall()
    assert rows == [("user", "slow", None), ("assistant", "partial ", "stopped")]


async def test_sign_out_cancels_a_run_whose_socket_is_already_gone(server, server_agent):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(message("m1", "slow"))
        await until(ws, lambda f: f["type"] == "TEXT_MESSAGE_CONTENT")
    await server.http.post(server.url + "/api/auth/logout", headers={"Origin": server.origin})
    await asyncio.wait_for(server_agent.closed_event.wait(), 5)
    assert server_agent.closed == ["slow"]


async def test_a_replaced_socket_hands_the_reply_to_the_new_one(server, server_agent):
    token = await token_for(server)
    async with open_socket(server, token, tab="same") as old:
        await frames_until(old, "history")
        await old.send(message("m1", "slow"))
        await until(old, lambda f: f["type"] == "TEXT_MESSAGE_CONTENT")
        async with open_socket(server, token, tab="same") as new:
            assert await close_code(old) == 4409
            rest = await frames_until(new, "history")
            server_agent.gate.set()
            rest += await until(new, run_end_for("m1"))
    assert rest[-1]["type"] == "RUN_FINISHED"
    # The reply from its start (the new socket may have missed frames), then the rest.
    assert content(rest) == "partial answer to slow"
    assert server_agent.closed == []


@pytest.mark.parametrize("settings_overrides", [{"agent_run_limit": 0.3}])
async def test_a_run_past_the_total_limit_ends_in_words(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(message("m1", "slow"))
        frames = await until(ws, run_end_for("m1"))
    assert frames[-1]["code"] == "run_too_long"
    assert frames[-1]["message"] == "The answer took longer than 0.3 seconds, so it was stopped."
    rows = server.db.execute("SELECT role, text, cut FROM messages ORDER BY seq").fetchall()
    assert rows[-1] == ("assistant", "partial ", "failed")


@pytest.mark.parametrize(
    ("text", "code", "words"),
    [
        ("fail", "upstream_dropped", "broke off"),
        ("crash", "agent_error", "The assistant failed"),
        ("refuse", "no_input", "I will not."),
    ],
)
async def test_a_failing_run_ends_in_words_and_the_next_turn_works(server, text, code, words):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(message("m1", text))
        failed = await until(ws, run_end_for("m1"))
        await ws.send(message("m2", "next"))
        after = await until(ws, run_end_for("m2"))
    assert failed[-1]["type"] == "RUN_ERROR" and failed[-1]["code"] == code
    assert words in failed[-1]["message"] and reply_to(failed[-1]) == "m1"
    assert after[-1]["type"] == "RUN_FINISHED" and content(after) == "answer to next"
    rows = server.db.execute("SELECT text, cut FROM messages WHERE role = 'assistant'").fetchall()
    cut = [("partial ", "failed")] if text in ("fail", "crash") else []
    assert rows == [*cut, ("answer to next", None)]


# ------------------------------------------------------------------ sockets that join a run


async def test_a_socket_that_joins_is_told_of_every_open_turn_before_its_greeting(
    server, server_agent
):
    token = await token_for(server)
    async with open_socket(server, token, tab="same") as old:
        await frames_until(old, "history")
        await old.send(message("m1", "slow"))
        await old.send(message("m2", "quick"))  # waits its turn
        await until(old, lambda f: f["type"] == "TEXT_MESSAGE_CONTENT")
        async with open_socket(server, token, tab="same") as new:
            greeting = await frames_until(new, "history")
            assert [(f["type"], reply_to(f)) for f in greeting[:5]] == [
                ("RUN_STARTED", "m1"),
                ("TEXT_MESSAGE_START", None),  # m1's reply so far, from its start
                ("TEXT_MESSAGE_CONTENT", None),
                ("RUN_STARTED", "m2"),
                ("welcome", None),
            ]
            assert content(greeting) == "partial "
            first = next(f for f in greeting if f["type"] == "RUN_STARTED")
            assert first["runId"] and first["threadId"]
            server_agent.gate.set()
            await until(new, run_end_for("m2"))
        async with open_socket(server, token, tab="same") as after:
            assert json.loads(await after.recv())["type"] == "welcome"  # nothing open now


async def test_another_tab_that_joins_mid_reply_gets_the_rest_of_it(server, server_agent):
    token = await token_for(server)
    async with open_socket(server, token, tab="a") as asking:
        await frames_until(asking, "history")
        await asking.send(message("m1", "slow"))
        await until(asking, lambda f: f["type"] == "TEXT_MESSAGE_CONTENT")
        async with open_socket(server, token, tab="b") as joining:
            greeting = await frames_until(joining, "history")
            assert (greeting[0]["type"], reply_to(greeting[0])) == ("RUN_STARTED", "m1")
            server_agent.gate.set()
            rest = await until(joining, run_end_for("m1"))
            mine = await until(asking, run_end_for("m1"))
    assert rest[-1]["type"] == mine[-1]["type"] == "RUN_FINISHED"
    assert content(greeting) + content(rest) == "partial answer to slow"
