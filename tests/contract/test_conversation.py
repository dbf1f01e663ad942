"""One conversation contract, written once, run against both servers (see conftest.py).

The page cannot tell the preview's simulated server from ``server.py``: the same sign-in and
validation answers, the same frames in the same order, the same acks, history, refusals and
close codes.  What each scenario reads, it reads with the page's own parsers.
"""

from __future__ import annotations

import json

from app.auth import api
from app.auth.model import Reason, SignInFailed, SignInSucceeded, ValidationSucceeded
from app.chat.conversation import Conversation
from app.chat.protocol import parse
from app.wire import frames, guide
from app.wire.close_codes import REPLACED, UNAUTHORIZED
from app.wire.urls import LOGIN_URL, LOGOUT_URL, SESSION_URL
from tests.contract.conftest import Client, Socket


async def sign_in(client: Client) -> dict:
    status, body, _headers = await client.request(
        "POST", LOGIN_URL, {"username": client.name, "password": client.password}
    )
    assert status == 200, body
    return body


async def greeted(client: Client, tab: str | None = "tab-1") -> tuple[Socket, dict, dict]:
    """A per-tab socket of ``tab``, or with ``None`` the session's one socket, greeted."""
    socket = await client.socket(tab)
    return socket, await socket.frame(), await socket.frame()


async def until(socket: Socket, kind: str) -> list[dict]:
    """Frames up to and including the first of type ``kind``: what comes before a later frame
    is everything that came (nothing is waited for by the clock)."""
    seen = [await socket.frame()]
    while seen[-1]["type"] != kind:
        seen.append(await socket.frame())
    return seen


async def test_sign_in_answers_a_session_body_that_validation_repeats(client):
    body = await sign_in(client)
    assert set(body) == {"user", "expires_at"} and body["expires_at"].endswith("Z")
    assert api.login_event(200, body, 1) == SignInSucceeded(api.session_user(body), 1)
    status, again, _ = await client.request("GET", SESSION_URL)
    event = api.validation_event(status, again, 1)
    assert isinstance(event, ValidationSucceeded) and event.user.name == client.name


async def test_without_a_session_validation_is_a_401_error_body(client):
    status, body, _ = await client.request("GET", SESSION_URL)
    assert status == 401 and body["error"]["code"] == "not_signed_in"
    assert set(body["error"]) == {"code", "message"}


async def test_an_empty_user_name_is_refused_as_bad_input(client):
    status, body, _ = await client.request(
        "POST", LOGIN_URL, {"username": "", "password": client.password}
    )
    assert status == 422 and body["error"]["code"] == "bad_request"
    assert api.login_event(status, body, 1) == SignInFailed(1, Reason.BAD_INPUT)


async def test_a_socket_without_a_session_is_accepted_then_closed_4401(client):
    socket = await client.socket("tab-1")
    assert await socket.closed() == UNAUTHORIZED


async def test_a_socket_is_greeted_with_welcome_then_history(client):
    await sign_in(client)
    socket, welcome, history = await greeted(client, "tab-7")
    assert welcome["type"] == "welcome" and welcome["user"] == {"name": client.name}
    assert welcome["tab"] == "tab-7" and welcome["expires_at"].endswith("Z")
    assert history == frames.history([])
    await socket.close()


async def test_a_message_is_acknowledged_then_answered_in_ag_ui_events(client):
    await sign_in(client)
    socket, _, _ = await greeted(client)
    await socket.send(json.dumps(frames.message("m1", "hello there")))
    streamed = await until(socket, "RUN_FINISHED")
    kinds = [f["type"] for f in streamed]
    assert streamed[0] == frames.ack("m1", duplicate=False)
    assert kinds[1:3] == ["RUN_STARTED", "TEXT_MESSAGE_START"]
    assert kinds[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    assert set(kinds[3:-2]) == {"TEXT_MESSAGE_CONTENT"} and len(kinds[3:-2]) > 1
    start = streamed[2]
    assert start == frames.text_start(start["messageId"])
    assert set(streamed[1]) == set(frames.run_started("t", "r", "m1"))
    assert streamed[1]["metadata"] == {"replyTo": "m1"} == streamed[-1]["metadata"]
    conversation = Conversation()
    conversation.send("m1", "hello there")
    for frame in streamed:
        conversation.apply(parse(json.dumps(frame)))
    mine, reply = conversation.messages
    assert mine.status == "sent" and (reply.role, reply.status) == ("assistant", "done")
    assert reply.text == guide.reply("hello there", guide.Facts("", 0, 0, 0, 1))
    await socket.close()


async def test_stop_ends_the_reply_and_history_keeps_what_was_shown_as_stopped(client):
    await sign_in(client)
    socket, _, _ = await greeted(client)
    question = " ".join(f"w{n}" for n in range(600))  # its echo streams in 200 pieces
    await socket.send(json.dumps(frames.message("m1", question)))
    streamed = await until(socket, "TEXT_MESSAGE_CONTENT")
    await socket.send(json.dumps(frames.stop("m1")))
    streamed += await until(socket, "RUN_ERROR")
    assert streamed[-1] == frames.run_error("Stopped.", "stopped", "m1")
    kinds = [f["type"] for f in streamed]
    assert "TEXT_MESSAGE_END" not in kinds and "RUN_FINISHED" not in kinds
    shown = "".join(f["delta"] for f in streamed if f["type"] == "TEXT_MESSAGE_CONTENT")
    assert 0 < len(shown) < len(guide.reply(question, guide.Facts("", 0, 0, 0, 1)))
    conversation = Conversation()
    conversation.send("m1", question)
    for frame in streamed:
        conversation.apply(parse(json.dumps(frame)))
    reply = conversation.messages[-1]
    assert (reply.status, reply.text, reply.error) == ("stopped", shown, "Stopped.")
    await socket.send(json.dumps(frames.stop("m1")))  # nothing runs: nothing to say
    await socket.send(json.dumps(frames.ping("after")))
    assert await socket.frame() == frames.pong("after")
    again, _, history = await greeted(client, "tab-2")
    stored = history["messages"][-1]
    assert (stored["role"], stored["text"], stored["cut"]) == ("assistant", shown, "stopped")
    await again.close()
    await socket.close()


async def test_a_resent_message_is_acknowledged_as_a_duplicate_and_answered_once(client):
    await sign_in(client)
    socket, _, _ = await greeted(client)
    message = json.dumps(frames.message("once", "hello"))
    await socket.send(message)
    await until(socket, "RUN_FINISHED")
    await socket.send(message)
    await socket.send(json.dumps(frames.ping("after")))
    after = await until(socket, "pong")
    assert after == [frames.ack("once", duplicate=True), frames.pong("after")]
    await socket.close()


async def test_refused_frames_get_an_error_and_the_socket_stays(client):
    await sign_in(client)
    socket, _, _ = await greeted(client)
    for raw, code in [
        ("{not json", "invalid_json"),
        ('{"type": "launch"}', "unknown_type"),
        (json.dumps(frames.message("m2", "   ")), "invalid_message"),
        (json.dumps(frames.message("m3", "x" * 8001)), "message_too_long"),
    ]:
        await socket.send(raw)
        error = await socket.frame()
        assert error["type"] == "error" and error["code"] == code, raw
    assert error["id"] == "m3"  # a refused message is named, so the page marks it failed
    await socket.send(json.dumps(frames.ping(7)))
    assert await socket.frame() == frames.pong(7)
    await socket.close()


async def test_history_after_a_reconnect_has_everything_once_in_order(client):
    await sign_in(client)
    socket, _, _ = await greeted(client)
    await socket.send(json.dumps(frames.message("h1", "first")))
    streamed = await until(socket, "RUN_FINISHED")
    await socket.close()
    reply_id = streamed[2]["messageId"]
    again, _, history = await greeted(client, "tab-2")
    rows = history["messages"]
    assert [(m["id"], m["role"]) for m in rows] == [("h1", "user"), (reply_id, "assistant")]
    assert rows[0]["text"] == "first" and set(rows[0]) == {"id", "role", "text", "created_at"}
    await again.close()


async def test_a_second_socket_of_the_same_tab_replaces_the_first(client):
    await sign_in(client)
    first, _, _ = await greeted(client, "same")
    second, _, _ = await greeted(client, "same")
    assert await first.closed() == REPLACED
    await second.send(json.dumps(frames.ping(1)))
    assert await second.frame() == frames.pong(1)
    await second.close()


async def test_the_sessions_one_socket_is_replaced_by_a_newer_one(client):
    await sign_in(client)
    first, welcome, _ = await greeted(client, None)
    assert welcome["tab"] is None
    second, _, _ = await greeted(client, None)
    assert await first.closed() == REPLACED
    per_tab, _, _ = await greeted(client, "own")  # a per-tab socket lives beside it
    await second.send(json.dumps(frames.ping(2)))
    assert await second.frame() == frames.pong(2)
    await per_tab.close()
    await second.close()


async def test_sign_out_closes_the_sessions_sockets_with_4401_and_ends_the_session(client):
    await sign_in(client)
    socket, _, _ = await greeted(client)
    status, _body, _ = await client.request("POST", LOGOUT_URL)
    assert status == 204
    assert await socket.closed() == UNAUTHORIZED
    assert (await client.request("GET", SESSION_URL))[0] == 401
