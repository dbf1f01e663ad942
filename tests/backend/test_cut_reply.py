"""A real server.py killed (SIGKILL) mid-reply: after it starts again on the same database, a
page that reconnects is told nothing is answering its question, so it shows the reply cut off
and can regenerate it, once.  With replicas, the same holds for a page whose socket is on a
replica that was relaying the killed one's run.

What the socket carries is fed to the page's own core (:class:`app.chat.session.ChatSession`)
so the test asserts what the user would see, not only the frames.
"""

from __future__ import annotations

import asyncio
import json
import signal

from websockets.asyncio.client import connect

from app.chat.cut import LOST, REGENERATE
from app.chat.session import (
    Closed,
    Opened,
    OpenSocket,
    RetryTurn,
    SendFrame,
    Timer,
    TimerFired,
)
from app.chat.view import message_view
from app.wire import frames
from app.wire.agent_runs import SERVER_GONE
from app.wire.close_codes import ABNORMAL
from app.wire.urls import socket_query
from backend.auth import COOKIE_NAME
from backend.cli import open_users
from backend.redis_storage import RUN_STALE_AFTER
from tests.backend.page_core import LONG, ask_long, frames_until, new_page, of_type, shown
from tests.support import PASSWORD, ServerProcess, add_user, session_token


def socket_to(server: ServerProcess, token: str):
    return connect(
        server.url.replace("http://", "ws://") + "/api/ws" + socket_query(None),
        origin=server.url,
        additional_headers={"Cookie": f"{COOKIE_NAME}={token}"},
        compression=None,
        max_size=None,
        open_timeout=10,
    )


def sent_messages(effects) -> list[dict]:
    texts = [json.loads(e.text) for e in effects if isinstance(e, SendFrame)]
    return [t for t in texts if t["type"] == "message"]


async def test_a_reply_cut_by_sigkill_shows_cut_after_the_restart_and_regenerates_once(tmp_path):
    db = tmp_path / "app.db"
    add_user(db, "ada", PASSWORD)
    server = ServerProcess(db).start()
    restarted: ServerProcess | None = None
    page = new_page()
    try:
        token = session_token(server)
        async with socket_to(server, token) as ws:
            await ask_long(ws, page)
            assert page.conversation.answering() == ["m1"]
            server.proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(server.proc.wait, 10)
        page.handle(Closed(1, ABNORMAL, 2.0))
        [reopen] = [
            e for e in page.handle(TimerFired(Timer.BACKOFF, 1, 9.0)) if isinstance(e, OpenSocket)
        ]
        assert reopen.generation == 2

        restarted = ServerProcess(db, port=server.port).start()
        async with socket_to(restarted, token) as ws:
            page.handle(Opened(2, 9.1))
            greeting = await frames_until(ws, of_type("history"))
            await ws.send(json.dumps(frames.ping("mark")))
            until_pong = greeting + await frames_until(ws, of_type("pong"))
            kinds = [json.loads(raw)["type"] for raw in until_pong]
            assert kinds == ["welcome", "history", "pong"]  # nobody answers m1 any more
            history = json.loads(greeting[-1])["messages"]
            assert [(m["id"], m["role"]) for m in history] == [("m1", "user")]
            shown(page, until_pong, 2)

            reply = next(m for m in page.conversation.messages if m.role == "assistant")
            assert (reply.status, reply.error, reply.lost) == ("failed", LOST, True)
            assert reply.text.startswith("You said:")  # what it had shown stays shown
            view = message_view(reply)
            assert (view.retry_turn, view.turn_button) == ("m1", REGENERATE)

            regenerate = page.handle(RetryTurn("m1", "m2"))
            assert page.handle(RetryTurn("m1", "m3")) == []  # a second press sends nothing
            [asked] = sent_messages(regenerate)
            assert (asked["id"], asked["text"]) == ("m2", LONG)
            await ws.send(json.dumps(asked))
            answered = await frames_until(ws, of_type("RUN_FINISHED"), timeout=60)
            await ws.send(json.dumps(asked))  # resent after a lost ack: the same message
            await ws.send(json.dumps(frames.ping("again")))
            duplicate = await frames_until(ws, of_type("pong"))
        acks = [json.loads(raw) for raw in answered + duplicate if '"ack"' in raw]
        assert [(a["id"], a["duplicate"]) for a in acks] == [("m2", False), ("m2", True)]
        assert not any('"RUN_STARTED"' in raw for raw in duplicate)  # answered once
    finally:
        server.stop()
        if restarted is not None:
            restarted.stop()


async def test_a_reply_cut_by_sigkill_of_its_replica_while_shown_on_another_shows_cut(
    tmp_path, flushed_redis
):
    """Two replicas on one Redis.  The page asked on A, its socket came back on B (which
    relays A's run), then A is killed: once A's run has left the board, B ends it on the
    socket as cut, and the page shows it so, with Regenerate, without reconnecting."""
    users, close = open_users(flushed_redis.url)
    await users.add("ada", PASSWORD)
    await close()
    shared = ("--redis-url", flushed_redis.url)
    a = ServerProcess(tmp_path / "a.db", *shared).start()
    b = ServerProcess(tmp_path / "b.db", *shared).start()
    page = new_page()
    try:
        token = session_token(a)
        async with socket_to(a, token) as ws:
            await ask_long(ws, page)
        page.handle(Closed(1, ABNORMAL, 2.0))
        page.handle(TimerFired(Timer.BACKOFF, 1, 9.0))
        async with socket_to(b, token) as ws:
            page.handle(Opened(2, 9.1))
            relayed = await frames_until(ws, of_type("TEXT_MESSAGE_CONTENT"))
            assert json.loads(relayed[0])["type"] == "RUN_STARTED"  # told before its greeting
            shown(page, relayed, 2)
            a.proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(a.proc.wait, 10)
            ended = await frames_until(ws, of_type("RUN_ERROR"), timeout=RUN_STALE_AFTER + 20)
            assert json.loads(ended[-1])["code"] == SERVER_GONE
            shown(page, ended, 2)
            await ws.send(json.dumps(frames.ping("mark")))
            await frames_until(ws, of_type("pong"))  # the socket stays open
        reply = next(m for m in page.conversation.messages if m.role == "assistant")
        assert (reply.status, reply.error, reply.lost) == ("failed", LOST, True)
        assert reply.text.startswith("You said:")  # what it had shown stays shown
        assert message_view(reply).turn_button == REGENERATE
        assert page.conversation.answering() == []
    finally:
        a.stop()
        b.stop()
