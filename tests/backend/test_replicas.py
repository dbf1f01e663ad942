"""Two replicas of the app sharing one real Redis: the rules hold whichever replica answers.

Each replica is the real app on its own loopback port; clients talk to them directly (the
proxy in front is tested end to end in e2e/test_cluster.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from aiohttp.test_utils import TestServer, unused_port

from app.chat.session import (
    ChatSession,
    Closed,
    Opened,
    Timer,
    TimerFired,
)
from app.wire import frames
from app.wire.agent_runs import CUT_STOPPED, REPLY_TO
from app.wire.close_codes import ABNORMAL, SERVICE_RESTART
from backend.app import create_app
from backend.auth import COOKIE_NAME
from backend.config import ROOT, Settings
from backend.keys import HUB, STORAGE
from backend.storage import OpenRun
from tests.backend.page_core import ask_long, new_page, of_type, shown
from tests.backend.page_core import frames_until as raw_frames_until
from tests.backend.wsclient import close_code, frames_until, open_socket
from tests.support import PASSWORD, RedisProcess


@dataclass
class Replica:
    url: str
    origin: str
    server: TestServer

    async def login(self, name: str = "ada", password: str = PASSWORD) -> aiohttp.ClientResponse:
        async with aiohttp.ClientSession() as http:
            return await http.post(
                self.url + "/api/auth/login",
                json={"username": name, "password": password},
                headers={"Origin": self.origin},
            )

    async def token(self, name: str = "ada") -> str:
        response = await self.login(name)
        assert response.status == 200, await response.text()
        return response.cookies[COOKIE_NAME].value

    async def get(self, path: str, token: str | None = None) -> aiohttp.ClientResponse:
        cookies = {COOKIE_NAME: token} if token else {}
        async with aiohttp.ClientSession(cookies=cookies) as http:
            response = await http.get(self.url + path)
            await response.read()
            return response

    async def logout(self, token: str) -> int:
        async with aiohttp.ClientSession(cookies={COOKIE_NAME: token}) as http:
            response = await http.post(
                self.url + "/api/auth/logout", headers={"Origin": self.origin}
            )
            return response.status


@contextlib.asynccontextmanager
async def replica(redis_url: str) -> AsyncIterator[Replica]:
    port = unused_port()
    settings = Settings(root=ROOT, port=port, storage_url=redis_url)
    server = TestServer(create_app(settings), host="127.0.0.1", port=port)
    await server.start_server()  # returns once the replica hears signals
    url = f"http://127.0.0.1:{port}"
    try:
        yield Replica(url, url, server)
    finally:
        await server.close()


@pytest.fixture
async def pair(flushed_redis):
    async with replica(flushed_redis.url) as a, replica(flushed_redis.url) as b:
        await a.server.app[STORAGE].users.add("ada", PASSWORD)
        yield a, b


async def test_a_session_made_on_one_replica_is_valid_on_the_other(pair):
    a, b = pair
    token = await a.token()
    assert (await b.get("/api/auth/session", token)).status == 200
    assert await b.logout(token) == 204
    assert (await a.get("/api/auth/session", token)).status == 401


async def test_sign_out_on_one_replica_closes_a_socket_on_the_other(pair):
    """How fast is bench/cluster_failover.py's to measure; here: it happens, with 4401."""
    a, b = pair
    token = await a.token()
    async with open_socket(b, token) as ws:
        await frames_until(ws, "history")
        assert await a.logout(token) == 204
        assert await close_code(ws) == 4401


async def test_one_socket_per_tab_across_replicas(pair):
    a, b = pair
    token = await a.token()
    async with open_socket(a, token, tab="t1") as first:
        await frames_until(first, "history")
        async with open_socket(b, token, tab="t1") as second:
            await frames_until(second, "history")
            assert await close_code(first, timeout=2.0) == 4409
            await second.send('{"type": "ping", "id": 1}')
            assert (await frames_until(second, "pong"))[-1]["id"] == 1


async def test_one_socket_per_session_across_replicas(pair):
    a, b = pair
    token = await a.token()
    async with open_socket(a, token, tab=None) as first:
        await frames_until(first, "history")
        async with open_socket(b, token, tab=None) as second:
            await frames_until(second, "history")
            assert await close_code(first, timeout=2.0) == 4409
            await second.send('{"type": "ping", "id": 1}')
            assert (await frames_until(second, "pong"))[-1]["id"] == 1


async def test_five_sockets_per_session_across_replicas(pair):
    a, b = pair
    token = await a.token()
    async with contextlib.AsyncExitStack() as stack:
        for index in range(5):
            ws = await stack.enter_async_context(
                open_socket((a, b)[index % 2], token, tab=f"t{index}")
            )
            await frames_until(ws, "history")
        async with open_socket(b, token, tab="t9") as sixth:
            assert await close_code(sixth) == 4429


async def test_throttling_counts_attempts_on_every_replica(pair):
    a, b = pair
    for replica_ in (a, b, a, b, a):
        assert (await replica_.login("ada", "wrong password")).status == 401
    response = await b.login("ada", PASSWORD)
    assert response.status == 429 and int(response.headers["Retry-After"]) > 0


async def test_history_written_through_one_replica_is_read_through_the_other(pair):
    a, b = pair
    token = await a.token()
    async with open_socket(a, token, tab="t1") as ws:
        await frames_until(ws, "history")
        await ws.send('{"type": "message", "id": "m1", "text": "kept in redis"}')
        await frames_until(ws, "RUN_FINISHED")
    async with open_socket(b, token, tab="t2") as ws:
        history = (await frames_until(ws, "history"))[-1]["messages"]
    assert [m["role"] for m in history] == ["user", "assistant"]
    assert history[0]["text"] == "kept in redis"


async def test_without_redis_sign_in_and_sockets_are_refused_and_come_back(tmp_path):
    redis_server = RedisProcess(tmp_path / "redis").start()
    try:
        async with replica(redis_server.url) as a:
            await a.server.app[STORAGE].users.add("ada", PASSWORD)
            token = await a.token()
            async with open_socket(a, token, tab="t1") as ws:
                await frames_until(ws, "history")
                await ws.send('{"type": "message", "id": "m1", "text": "before the outage"}')
                await frames_until(ws, "RUN_FINISHED")
            redis_server.stop()

            response = await a.login()
            body = await response.json()
            assert response.status == 503 and body["error"]["code"] == "storage_unavailable"
            assert response.headers["Retry-After"]
            assert (await a.get("/api/auth/session", token)).status == 503  # not a sign-out
            health = await a.get("/api/health")
            assert health.status == 200 and (await health.json())["storage"] == "unavailable"
            async with open_socket(a, token, tab="t2") as ws:
                assert await close_code(ws) == 1013
            async with aiohttp.ClientSession(cookies={COOKIE_NAME: token}) as http:
                out = await http.post(a.url + "/api/auth/logout", headers={"Origin": a.origin})
                assert out.status == 503  # not revoked, but the browser drops its cookie
                assert out.cookies[COOKIE_NAME]["max-age"] == "0"

            redis_server.start()
            async with asyncio.timeout(10):  # the client reconnects on its own
                while (await a.get("/api/auth/session", token)).status != 200:
                    await asyncio.sleep(0.1)
            assert (await a.login()).status == 200
            async with open_socket(a, token, tab="t3") as ws:
                history = (await frames_until(ws, "history"))[-1]["messages"]
            assert history[0]["text"] == "before the outage"  # nothing was lost
    finally:
        redis_server.stop()


async def test_sessions_and_history_survive_a_restart_of_every_replica(flushed_redis):
    async with replica(flushed_redis.url) as a:
        await a.server.app[STORAGE].users.add("ada", PASSWORD)
        token = await a.token()
        async with open_socket(a, token) as ws:
            await frames_until(ws, "history")
            await ws.send('{"type": "message", "id": "m1", "text": "outlives the replicas"}')
            await frames_until(ws, "RUN_FINISHED")
    # Every replica is gone; new ones start against the same Redis.
    async with replica(flushed_redis.url) as c, replica(flushed_redis.url) as d:
        assert (await c.get("/api/auth/session", token)).status == 200
        async with open_socket(d, token) as ws:
            history = (await frames_until(ws, "history"))[-1]["messages"]
        assert history[0]["text"] == "outlives the replicas"


async def test_sign_out_everywhere_on_one_replica_closes_sockets_on_the_other(pair):
    a, b = pair
    first, second = await a.token(), await b.token()
    async with open_socket(b, first, tab="t1") as one, open_socket(a, second, tab="t2") as two:
        await frames_until(one, "history")
        await frames_until(two, "history")
        async with aiohttp.ClientSession(cookies={COOKIE_NAME: second}) as http:
            response = await http.post(a.url + "/api/auth/logout-all", headers={"Origin": a.origin})
            assert response.status == 204
        assert await asyncio.gather(close_code(one), close_code(two)) == [4401, 4401]
    assert (await b.get("/api/auth/session", first)).status == 401


ASKED = " ".join(["word"] * 600)  # about 4 s of the guide's reply


async def ask_long_and_leave(replica_: Replica, token: str) -> ChatSession:
    """Ask for a long reply on ``replica_``, see it begin, then lose the socket (a line drop):
    the page, about to open its second socket."""
    page = new_page()
    async with open_socket(replica_, token, tab=None) as ws:
        await ask_long(ws, page, ASKED)
    page.handle(Closed(1, ABNORMAL, 2.0))
    page.handle(TimerFired(Timer.BACKOFF, 1, 9.0))
    page.handle(Opened(2, 9.1))
    return page


async def test_a_reply_streaming_on_one_replica_reaches_its_tab_back_on_the_other(pair):
    """The page's socket comes back through the proxy on the other replica: that replica tells
    it of the run before its greeting and passes on the rest, so the reply is neither taken
    for cut nor shown twice."""
    a, b = pair
    token = await a.token()
    page = await ask_long_and_leave(a, token)
    async with open_socket(b, token, tab=None) as ws:
        raws = await raw_frames_until(ws, of_type("RUN_FINISHED"), timeout=60)
    kinds = [json.loads(raw)["type"] for raw in raws]
    assert kinds[:3] == ["RUN_STARTED", "welcome", "history"]
    assert kinds.count("RUN_STARTED") == 1 and kinds.count("TEXT_MESSAGE_END") == 1
    shown(page, raws, 2)
    [reply] = [m for m in page.conversation.messages if m.role == "assistant"]
    assert (reply.status, reply.lost) == ("done", False)
    async with open_socket(b, token, tab="t9") as ws:
        stored = (await frames_until(ws, "history"))[-1]["messages"]
    assert [(m["role"], m["text"]) for m in stored] == [("user", ASKED), ("assistant", reply.text)]


async def test_stop_on_the_other_replica_stops_the_run_where_it_runs(pair):
    a, b = pair
    token = await a.token()
    await ask_long_and_leave(a, token)
    async with open_socket(b, token, tab=None) as ws:
        await raw_frames_until(ws, of_type("TEXT_MESSAGE_CONTENT"))
        await ws.send(json.dumps(frames.stop("m1")))
        [*_, ended] = [
            json.loads(raw) for raw in await raw_frames_until(ws, of_type("RUN_ERROR"), timeout=60)
        ]
    assert ended["code"] == "stopped" and ended["metadata"] == {REPLY_TO: "m1"}
    async with open_socket(b, token, tab="t9") as ws:
        stored = (await frames_until(ws, "history"))[-1]["messages"]
    assert stored[-1]["role"] == "assistant" and stored[-1]["cut"] == CUT_STOPPED


async def test_a_run_that_ended_before_it_was_asked_for_resyncs_the_socket(pair):
    """The board still lists a run its replica has just finished (or no longer has): asked
    for it, that replica says so, and the socket is closed with 1012 to read history again."""
    a, b = pair
    token = await a.token()
    user = await a.server.app[STORAGE].users.by_name("ada")
    ended = OpenRun("m7", "run-7", a.server.app[HUB].replica, 1.0)
    await a.server.app[STORAGE].runs.open(user.id, ended)
    async with open_socket(b, token, tab=None) as ws:
        told = json.loads(await ws.recv())
        assert (told["type"], told["metadata"]) == ("RUN_STARTED", {REPLY_TO: "m7"})
        assert await close_code(ws) == SERVICE_RESTART


async def test_a_run_that_ended_a_moment_before_it_was_asked_for_is_told_whole(pair):
    """The board still listed a run its replica had just finished (short runs end between the
    board's answer and the ask): that replica tells the socket all of it, its reply and its
    end, so the page shows the answer once and nothing as still running."""
    a, b = pair
    token = await a.token()
    async with open_socket(a, token, tab=None) as ws:
        await frames_until(ws, "history")
        await ws.send(json.dumps(frames.message("m1", "short")))
        seen = await frames_until(ws, "RUN_FINISHED")
    [started] = [f for f in seen if f["type"] == "RUN_STARTED"]
    user = await a.server.app[STORAGE].users.by_name("ada")
    listed_a_moment_ago = OpenRun("m1", started["runId"], a.server.app[HUB].replica, 1.0)
    await a.server.app[STORAGE].runs.open(user.id, listed_a_moment_ago)
    page = new_page()
    async with open_socket(b, token, tab=None) as ws:
        raws = await raw_frames_until(ws, of_type("RUN_FINISHED"))
        await ws.send(json.dumps(frames.ping("still open")))
        assert json.loads((await raw_frames_until(ws, of_type("pong")))[-1])["id"] == "still open"
    kinds = [json.loads(raw)["type"] for raw in raws]
    assert kinds[:3] == ["RUN_STARTED", "welcome", "history"] and kinds.count("history") == 1
    assert kinds[3:] == [
        "TEXT_MESSAGE_START",
        "TEXT_MESSAGE_CONTENT",
        "TEXT_MESSAGE_END",
        "RUN_FINISHED",
    ]
    shown(page, raws, 1)
    [question, reply] = page.conversation.messages
    assert (question.id, reply.role, reply.status, reply.lost) == ("m1", "assistant", "done", False)
    assert page.conversation.answering() == []
