"""``--agent-url`` against a real AG-UI server nobody here wrote: Pydantic AI's AG-UI adapter
under uvicorn (tests/agui_upstream.py), its agent on ``FunctionModel`` with one tool, and a
real ``server.py`` relaying to it, driven over real sockets with the ``websockets`` client."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import urllib.request
from dataclasses import dataclass

import aiohttp
import pytest

from backend.auth import COOKIE_NAME
from backend.relay.client import AguiRelay, RelayConfig
from backend.relay.headers import ENVIRONMENT
from backend.sqlite_storage import SqliteUsers, connect
from backend.users import Users
from tests.agui_upstream import UpstreamProcess
from tests.backend.wsclient import close_code, frames_until, open_socket, token_for
from tests.support import PASSWORD, ServerProcess, free_port

FLAG_SECRET = "Bearer flag-secret-7731"
ENV_SECRET = "env-secret-5519"
USERS = [f"user{n}" for n in range(1, 25)]
# Fields the relay never passes on, whatever the upstream sends.
NEVER_RELAYED = ("timestamp", "rawEvent", "secret-raw", "secret-extra", "protocolVersion")


@dataclass
class Target:
    url: str
    origin: str


@pytest.fixture(scope="module")
def upstream(tmp_path_factory):
    process = UpstreamProcess(tmp_path_factory.mktemp("upstream") / "uvicorn.log").start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def relay(tmp_path_factory, upstream):
    db = tmp_path_factory.mktemp("relay") / "relay.db"

    async def add_users() -> None:
        store = Users(SqliteUsers(connect(db)), time.time)
        for name in USERS:
            await store.add(name, PASSWORD)

    asyncio.run(add_users())
    server = ServerProcess(
        db,
        "--agent-url",
        upstream.url,
        "--agent-header",
        f"Authorization: {FLAG_SECRET}",
        "--agent-timeout",
        "1",
        "--agent-run-limit",
        "4",
        "--agent-max-bytes",
        "65536",
        env={ENVIRONMENT: f"X-Api-Key: {ENV_SECRET}"},
    ).start()
    yield server
    server.stop()


_names = itertools.count()


@pytest.fixture
async def chat(relay):
    """A signed-in socket of a user of its own (runs of one user wait for each other)."""
    target = Target(relay.url, relay.url)
    name = USERS[next(_names)]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        response = await http.post(
            relay.url + "/api/auth/login",
            json={"username": name, "password": PASSWORD},
            headers={"Origin": relay.url},
        )
        assert response.status == 200
        token = response.cookies[COOKIE_NAME].value
        async with open_socket(target, token) as ws:
            await frames_until(ws, "history")
            yield Chat(ws, target, token, http)


@dataclass
class Chat:
    ws: object
    target: Target
    token: str
    http: aiohttp.ClientSession
    sent: int = 0

    async def say(self, text: str) -> str:
        self.sent += 1
        mid = f"m{self.sent}"
        await self.ws.send(json.dumps({"type": "message", "id": mid, "text": text}))
        return mid

    async def until(self, predicate, timeout: float = 10.0) -> list[dict]:
        seen = []
        async with asyncio.timeout(timeout):
            while True:
                raw = await self.ws.recv()
                for never in NEVER_RELAYED:
                    assert never not in raw
                frame = json.loads(raw)
                seen.append(frame)
                if predicate(frame):
                    return seen

    async def turn(self, text: str) -> list[dict]:
        mid = await self.say(text)
        return await self.until(ended(mid))

    async def history(self) -> list[dict]:
        async with open_socket(self.target, self.token, tab="reader") as reader:
            return (await frames_until(reader, "history"))[-1]["messages"]


def ended(mid: str):
    def check(frame: dict) -> bool:
        return (
            frame["type"] in ("RUN_FINISHED", "RUN_ERROR")
            and frame.get("metadata", {}).get("replyTo") == mid
        )

    return check


def text_of(frames: list[dict]) -> str:
    return "".join(f["delta"] for f in frames if f["type"] == "TEXT_MESSAGE_CONTENT")


def kinds(frames: list[dict]) -> list[str]:
    return [f["type"] for f in frames]


def observed(upstream: UpstreamProcess) -> dict:
    with urllib.request.urlopen(upstream.observed_url, timeout=5) as response:
        return json.loads(response.read())


async def upstream_outcome(upstream, run_id: str, want: str, timeout: float = 5.0) -> str:
    """Wait until the upstream reports ``want`` for the run (or time runs out)."""
    outcome = None
    async with asyncio.timeout(timeout):
        while outcome != want:
            outcome = (await asyncio.to_thread(observed, upstream)).get(run_id, {}).get("outcome")
            if outcome != want:
                await asyncio.sleep(0.05)
    return outcome


def run_id_of(frames: list[dict]) -> str:
    return next(f["runId"] for f in frames if f["type"] == "RUN_STARTED")


# ------------------------------------------------------------------------------ journeys


async def test_a_streamed_reply_arrives(chat, upstream):
    frames = await chat.turn("hello relay")
    assert frames[0] == {"type": "ack", "id": "m1", "duplicate": False}
    assert kinds(frames)[1:3] == ["RUN_STARTED", "TEXT_MESSAGE_START"]
    assert kinds(frames)[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    deltas = [f for f in frames if f["type"] == "TEXT_MESSAGE_CONTENT"]
    assert len(deltas) > 3  # streamed, not in one piece
    assert text_of(frames) == "You said: hello relay. Hello from Pydantic AI. "
    run_id = run_id_of(frames)
    assert frames[-1] == {
        "type": "RUN_FINISHED",
        "threadId": frames[1]["threadId"],
        "runId": run_id,
        "metadata": {"replyTo": "m1"},
    }
    seen = observed(upstream)[run_id]
    assert seen["outcome"] == "completed" and seen["messages"] == ["user"]
    assert seen["authorization"] == FLAG_SECRET and seen["x-api-key"] == ENV_SECRET
    history = await chat.history()
    reply_id = frames[2]["messageId"]
    assert [(m["id"], m["role"], m["text"]) for m in history] == [
        ("m1", "user", "hello relay"),
        (reply_id, "assistant", text_of(frames)),
    ]


async def test_the_next_turn_sends_the_conversation_so_far(chat, upstream):
    await chat.turn("first")
    frames = await chat.turn("second")
    assert text_of(frames) == "You said: second. Hello from Pydantic AI. "
    assert observed(upstream)[run_id_of(frames)]["messages"] == ["user", "assistant", "user"]


async def test_a_tool_call_shows_as_a_step_and_then_the_answer(chat):
    frames = await chat.turn("weather in Paris")
    tools = [f for f in frames if f["type"].startswith("TOOL_CALL")]
    assert kinds(tools) == [
        "TOOL_CALL_START",
        "TOOL_CALL_ARGS",
        "TOOL_CALL_END",
        "TOOL_CALL_RESULT",
    ]
    assert tools[0]["toolCallName"] == "weather"
    assert json.loads(tools[1]["delta"]) == {"city": "Paris"}
    assert tools[3]["content"] == "sunny in Paris" and tools[3]["role"] == "tool"
    assert len({t["toolCallId"] for t in tools}) == 1
    order = kinds(frames)
    # The empty text message Pydantic AI opens before a tool call does not reach the page.
    assert order.index("TOOL_CALL_RESULT") < order.index("TEXT_MESSAGE_START")
    assert text_of(frames) == "It is sunny in Paris today. "


async def test_reasoning_is_relayed_and_the_0_10_thinking_events_become_reasoning(chat):
    for prompt in ("think first", "think the old way"):
        frames = await chat.turn(prompt)
        reasoning = [f for f in frames if f["type"].startswith("REASONING")]
        assert kinds(reasoning) == [
            "REASONING_START",
            "REASONING_MESSAGE_START",
            "REASONING_MESSAGE_CONTENT",
            "REASONING_MESSAGE_CONTENT",
            "REASONING_MESSAGE_END",
            "REASONING_END",
        ]
        thought = "".join(f["delta"] for f in reasoning if "delta" in f)
        assert thought == "The user wants me to think. So I do."
        assert text_of(frames) == "Thought it over: yes. "


async def test_steps_and_chunks_arrive_as_the_page_reads_them(chat):
    frames = await chat.turn("please step")
    shown = [f for f in frames if f["type"] not in ("ack", "RUN_STARTED", "RUN_FINISHED")]
    assert shown == [
        {"type": "STEP_STARTED", "stepName": "look things up"},
        {"type": "TOOL_CALL_START", "toolCallId": "c1", "toolCallName": "search"},
        {"type": "TOOL_CALL_ARGS", "toolCallId": "c1", "delta": '{"q": "steps"}'},
        {"type": "TOOL_CALL_END", "toolCallId": "c1"},
        {
            "type": "TOOL_CALL_RESULT",
            "messageId": "r1",
            "toolCallId": "c1",
            "content": "two results",
            "role": "tool",
        },
        {"type": "STEP_FINISHED", "stepName": "look things up"},
        {"type": "TEXT_MESSAGE_START", "messageId": "t1", "role": "assistant"},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "t1", "delta": "Found "},
        {"type": "TEXT_MESSAGE_CONTENT", "messageId": "t1", "delta": "two."},
        {"type": "TEXT_MESSAGE_END", "messageId": "t1"},
    ]


async def test_stop_mid_stream_ends_the_upstream_request(chat, upstream):
    mid = await chat.say("count slowly")
    started = await chat.until(lambda f: f["type"] == "TEXT_MESSAGE_CONTENT" and f["delta"] == "3 ")
    await chat.ws.send(json.dumps({"type": "stop", "id": mid}))
    rest = await chat.until(ended(mid))
    assert rest[-1]["type"] == "RUN_ERROR" and rest[-1]["code"] == "stopped"
    # Sooner than the run limit (4 s) would have ended it.
    assert await upstream_outcome(upstream, run_id_of(started), "disconnected", 2.0)
    shown = text_of(started + rest)
    history = await chat.history()
    assert history[-1]["text"] == shown and history[-1]["cut"] == "stopped"
    assert shown.startswith("1 2 3 ") and len(shown.split()) < 400


async def test_sign_out_during_a_run_cancels_it(chat, upstream):
    await chat.say("count slowly")
    started = await chat.until(lambda f: f["type"] == "TEXT_MESSAGE_CONTENT")
    response = await chat.http.post(
        chat.target.url + "/api/auth/logout", headers={"Origin": chat.target.origin}
    )
    assert response.status == 204
    assert await close_code(chat.ws) == 4401
    # Sooner than the run limit (4 s) would have ended it.
    assert await upstream_outcome(upstream, run_id_of(started), "disconnected", 2.0)


# ------------------------------------------------------------------------------ failures


@pytest.mark.parametrize(
    ("prompt", "code", "words"),
    [
        ("please fail", "upstream_failed", "The assistant service failed (HTTP 500)."),
        ("please refuse", "upstream_refused", "refused the request (HTTP 401)"),
        ("please stall", "upstream_timeout", "did not start answering within 1 second."),
    ],
)
async def test_an_upstream_that_fails_before_answering_gets_clear_words(chat, prompt, code, words):
    failed = await chat.turn(prompt)
    assert kinds(failed)[1:] == ["RUN_STARTED", "RUN_ERROR"]
    assert failed[-1]["code"] == code and words in failed[-1]["message"]
    after = await chat.turn("are you back")
    assert after[-1]["type"] == "RUN_FINISHED", after[-1]
    assert text_of(after) == "You said: are you back. Hello from Pydantic AI. "


@pytest.mark.parametrize(
    ("prompt", "code", "shown"),
    [
        ("please drop", "upstream_dropped", "Half of an answer"),
        ("please break", "upstream_invalid", "Before the bad event."),
        ("please flood", "too_big", None),
    ],
)
async def test_a_reply_cut_mid_stream_ends_in_words_and_history_keeps_the_part(
    chat, prompt, code, shown
):
    frames = await chat.turn(prompt)
    assert frames[-1]["type"] == "RUN_ERROR" and frames[-1]["code"] == code
    assert "never shown" not in json.dumps(frames)
    part = text_of(frames)
    if shown is not None:
        assert part == shown
    else:  # as much of the flood as fitted under the byte cap, no more
        assert 0 < len(part) <= 65536
    history = await chat.history()
    assert history[-1]["text"] == part and history[-1]["cut"] == "failed"
    after = await chat.turn("next")
    assert after[-1]["type"] == "RUN_FINISHED"


async def test_a_run_past_the_total_limit_is_stopped_upstream_too(chat, upstream):
    frames = await chat.turn("count slowly")
    assert frames[-1]["code"] == "run_too_long"
    assert frames[-1]["message"] == "The answer took longer than 4 seconds, so it was stopped."
    assert await upstream_outcome(upstream, run_id_of(frames), "disconnected")


async def test_upstream_headers_are_never_logged(chat, relay):
    await chat.turn("please fail")  # a failure is when a careless relay would log the request
    log = relay.log()
    assert "relaying chat turns to" in log and "(2 configured headers)" in log
    assert "upstream_failed" in log
    assert FLAG_SECRET.split()[-1] not in log and ENV_SECRET not in log


# ------------------------------------------------------------------------------ in-process


@pytest.fixture
def server_agent():
    """The relay to an address where nothing listens (the in-process ``server`` fixture)."""
    return AguiRelay(RelayConfig(f"http://127.0.0.1:{free_port()}/agent", first_byte_timeout=2))


async def test_an_unreachable_upstream_gets_clear_words(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(json.dumps({"type": "message", "id": "m1", "text": "anyone?"}))
        frames = await frames_until(ws, "RUN_ERROR")
    assert frames[-1]["code"] == "upstream_unreachable"
    assert (
        frames[-1]["message"] == "The assistant service cannot be reached. Try again in a moment."
    )
