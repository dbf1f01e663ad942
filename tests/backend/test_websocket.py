"""/api/ws over a real socket with the ``websockets`` client."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.chat.protocol import message_frame
from app.wire.limits import MAX_TEXT
from backend.keys import HUB, STORAGE
from backend.websocket import KEY_BURST
from tests.backend.wsclient import close_code, frames_until, open_socket, token_for
from tests.support import PASSWORD


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "null", "http://127.0.0.1.evil.example", "SUFFIX", None]
)
async def test_foreign_null_suffix_and_missing_origins_get_403_before_the_upgrade(server, origin):
    token = await token_for(server)
    if origin == "SUFFIX":
        origin = server.origin + "1"
    with pytest.raises(InvalidStatus) as refused:
        async with open_socket(server, token, origin=origin) as ws:
            await ws.recv()
    assert refused.value.response.status_code == 403


async def test_welcome_then_history(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        welcome = json.loads(await ws.recv())
        history = json.loads(await ws.recv())
    assert welcome["type"] == "welcome" and welcome["user"] == {"name": "ada"}
    assert welcome["tab"] == "tab-1"
    assert history == {"type": "history", "messages": []}


async def test_no_cookie_is_accepted_then_closed_with_4401(server):
    async with open_socket(server, None) as ws:
        assert await close_code(ws) == 4401


async def test_token_in_the_query_string_is_not_accepted(server):
    token = await token_for(server)
    from websockets.asyncio.client import connect

    url = server.url.replace("http", "ws") + f"/api/ws?token={token}&session={token}"
    async with connect(url, origin=server.origin) as ws:
        assert await close_code(ws) == 4401


async def test_bearer_header_for_non_browser_clients(server):
    token = await token_for(server)
    async with open_socket(server, None, headers={"Authorization": f"Bearer {token}"}) as ws:
        assert json.loads(await ws.recv())["type"] == "welcome"


async def test_expired_session_is_closed_with_4401(server):
    token = await token_for(server)
    server.clock.advance(31 * 60)
    async with open_socket(server, token) as ws:
        assert await close_code(ws) == 4401


async def test_revoked_session_is_closed_with_4401(server):
    token = await token_for(server)
    await server.http.post(server.url + "/api/auth/logout", headers={"Origin": server.origin})
    async with open_socket(server, token) as ws:
        assert await close_code(ws) == 4401


async def test_sign_out_closes_every_live_socket_of_the_session(server):
    token = await token_for(server)
    async with (
        open_socket(server, token, tab="t1") as one,
        open_socket(server, token, tab="t2") as two,
    ):
        await frames_until(one, "history")
        await frames_until(two, "history")
        await server.http.post(server.url + "/api/auth/logout", headers={"Origin": server.origin})
        codes = await asyncio.gather(close_code(one, 1.0), close_code(two, 1.0))
    assert codes == [4401, 4401]


async def test_session_expiry_closes_live_sockets(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        server.clock.advance(30 * 60 + 1)  # idle expiry passes; the sweep notices
        assert await close_code(ws, 2.0) == 4401


async def test_a_new_socket_from_the_same_tab_replaces_the_old_one(server):
    token = await token_for(server)
    async with open_socket(server, token, tab="same") as old:
        await frames_until(old, "history")
        async with open_socket(server, token, tab="same") as new:
            assert await close_code(old) == 4409
            await new.send(json.dumps({"type": "ping", "id": 1}))
            assert (await frames_until(new, "pong"))[-1] == {"type": "pong", "id": 1}


async def test_the_sessions_one_socket_is_replaced_by_a_newer_one_with_4409(server):
    token = await token_for(server)
    async with open_socket(server, token, tab=None) as old:
        welcome = (await frames_until(old, "history"))[0]
        assert welcome["tab"] is None
        async with open_socket(server, token, tab=None) as new:
            assert await close_code(old) == 4409
            await new.send(json.dumps({"type": "ping", "id": 1}))
            assert (await frames_until(new, "pong"))[-1] == {"type": "pong", "id": 1}
            assert server.server.app[HUB].count() == 1


async def test_a_tab_id_without_per_tab_mode_is_still_the_sessions_one_socket(server):
    token = await token_for(server)
    url = server.url.replace("http://", "ws://") + "/api/ws?tab=mine"
    headers = {"Cookie": f"pychat_sid={token}"}
    async with connect(url, origin=server.origin, additional_headers=headers) as first:
        assert json.loads(await first.recv())["tab"] is None
        async with open_socket(server, token, tab=None) as second:
            await frames_until(second, "history")
            assert await close_code(first) == 4409


async def test_the_sessions_socket_and_per_tab_sockets_share_the_cap_of_five(server):
    token = await token_for(server)
    sockets = [await open_socket(server, token, tab=None)]
    sockets += [await open_socket(server, token, tab=f"tab{i}") for i in range(4)]
    try:
        for ws in sockets:
            await frames_until(ws, "history")
        async with open_socket(server, token, tab="tab5") as sixth:
            assert await close_code(sixth) == 4429
    finally:
        for ws in sockets:
            await ws.close()


async def test_at_most_five_sockets_per_session(server):
    token = await token_for(server)
    sockets = [await open_socket(server, token, tab=f"tab{i}") for i in range(5)]
    try:
        for ws in sockets:
            await frames_until(ws, "history")
        async with open_socket(server, token, tab="tab5") as sixth:
            assert await close_code(sixth) == 4429
    finally:
        for ws in sockets:
            await ws.close()


def _ping_of_size(size: int) -> str:
    frame = '{"type":"ping","id":1,"pad":""}'
    return frame.replace('"pad":""', '"pad":"' + "x" * (size - len(frame)) + '"')


async def test_exactly_64_kib_is_accepted_and_one_byte_more_is_1009(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(_ping_of_size(64 * 1024))
        assert (await frames_until(ws, "pong"))[-1]["type"] == "pong"
        await ws.send(_ping_of_size(64 * 1024 + 1))
        assert await close_code(ws) == 1009


async def test_binary_frames_close_with_1003(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(b"\x00\x01")
        assert await close_code(ws) == 1003


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("{not json", "invalid_json"),
        ("[" * 50 + "]" * 50, "invalid_json"),
        ('{"type": "ping", "id": ' + "[" * 20 + "]" * 20 + "}", "invalid_json"),
        ('{"type": "ping", "id": NaN}', "invalid_json"),
        ('{"type": "ping", "id": Infinity}', "invalid_json"),
        ('{"type": "message", "id": "a", "text": "\\ud800"}', "invalid_json"),
        ('{"type": "ping", "id": ' + "9" * 5000 + "}", "invalid_json"),
        ('{"type": "ping", "id": 1' + "0" * 30 + "}", "invalid_json"),
        ("[]", "invalid_message"),
        ('"text"', "invalid_message"),
        ('{"type": 5}', "invalid_message"),
        ('{"type": "launch"}', "unknown_type"),
        ('{"type": "message", "id": 5, "text": "x"}', "invalid_message"),
        ('{"type": "message", "id": "a b", "text": "x"}', "invalid_message"),
        ('{"type": "message", "id": "a", "text": ["x"]}', "invalid_message"),
        ('{"type": "message", "id": "a", "text": "   "}', "invalid_message"),
        ('{"type": "message", "id": "a", "text": "' + "x" * 8001 + '"}', "message_too_long"),
        ('{"type": "ping", "id": true}', "invalid_message"),
    ],
)
async def test_malformed_and_hostile_json_gets_an_error_event_and_the_socket_stays(
    server, raw, code
):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(raw)
        error = (await frames_until(ws, "error"))[-1]
        assert error["code"] == code
        await ws.send(json.dumps({"type": "ping", "id": "still-here"}))
        assert (await frames_until(ws, "pong"))[-1]["id"] == "still-here"
    assert (await server.http.get(server.url + "/api/health")).status == 200


@pytest.mark.parametrize("settings_overrides", [{"ws_burst": 100}], indirect=True)
async def test_more_than_20_invalid_messages_in_5_seconds_closes_with_4400(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        for _ in range(21):
            await ws.send("{bad")
        assert await close_code(ws) == 4400


async def test_a_flood_gets_error_events_then_4429(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        for i in range(60):
            await ws.send(json.dumps({"type": "ping", "id": i}))
        errors = []
        try:
            async with asyncio.timeout(5):
                while True:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "error":
                        errors.append(frame["code"])
        except Exception:
            pass
        assert ws.close_code == 4429
    assert errors and set(errors) == {"rate_limited"}


async def test_message_is_acknowledged_and_answered_with_ag_ui_events(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(json.dumps({"type": "message", "id": "m-1", "text": "/help"}))
        frames = await frames_until(ws, "RUN_FINISHED")
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "ack" and frames[0] == {"type": "ack", "id": "m-1", "duplicate": False}
    assert kinds[1:3] == ["RUN_STARTED", "TEXT_MESSAGE_START"]
    assert kinds[-2:] == ["TEXT_MESSAGE_END", "RUN_FINISHED"]
    deltas = [f["delta"] for f in frames if f["type"] == "TEXT_MESSAGE_CONTENT"]
    assert len(deltas) > 3  # streamed in chunks
    assert "/status" in "".join(deltas)
    message_ids = {f["messageId"] for f in frames if "messageId" in f}
    assert len(message_ids) == 1


async def test_repeated_message_id_is_acknowledged_again_but_processed_once(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        message = json.dumps({"type": "message", "id": "once", "text": "hello"})
        await ws.send(message)
        await frames_until(ws, "RUN_FINISHED")
        await ws.send(message)
        again = await frames_until(ws, "ack")
        assert again[-1] == {"type": "ack", "id": "once", "duplicate": True}
        await ws.send(json.dumps({"type": "ping", "id": "after"}))
        after = await frames_until(ws, "pong")
        assert "RUN_STARTED" not in [f["type"] for f in after]
    rows = server.db.execute("SELECT role FROM messages ORDER BY seq").fetchall()
    assert rows == [("user",), ("assistant",)]


async def test_history_after_reconnect_has_everything_once(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(json.dumps({"type": "message", "id": "h1", "text": "first"}))
        streamed = await frames_until(ws, "RUN_FINISHED")
    reply_id = next(f["messageId"] for f in streamed if f["type"] == "TEXT_MESSAGE_START")
    reply = "".join(f["delta"] for f in streamed if f["type"] == "TEXT_MESSAGE_CONTENT")
    async with open_socket(server, token) as ws:
        history = (await frames_until(ws, "history"))[-1]["messages"]
    assert [(m["id"], m["role"]) for m in history] == [("h1", "user"), (reply_id, "assistant")]
    assert history[0]["text"] == "first" and history[1]["text"] == reply


@pytest.mark.parametrize("settings_overrides", [{"ws_heartbeat": 0.5}], indirect=True)
async def test_a_dead_peer_is_dropped(server):
    """A raw client that completes the handshake and then never answers a ping."""
    token = await token_for(server)
    host, port = "127.0.0.1", int(server.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(
        (
            f"GET /api/ws?tab=dead HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            f"Sec-WebSocket-Version: 13\r\nOrigin: {server.origin}\r\n"
            f"Cookie: pychat_sid={token}\r\n\r\n"
        ).encode()
    )
    assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
    hub = server.server.app[HUB]
    assert hub.count() == 1
    async with asyncio.timeout(10):  # never reading, so never answering the server's pings
        while hub.count():
            await asyncio.sleep(0.05)
    writer.close()


@pytest.fixture
def settings_overrides(request):
    return getattr(request, "param", {})


async def test_each_message_gets_its_own_answer_even_when_sent_back_to_back(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(json.dumps({"type": "message", "id": "b1", "text": "first"}))
        await ws.send(json.dumps({"type": "message", "id": "b2", "text": "second"}))
        frames = await frames_until(ws, "RUN_FINISHED")
        frames += await frames_until(ws, "RUN_FINISHED")
    replies = "".join(f["delta"] for f in frames if f["type"] == "TEXT_MESSAGE_CONTENT")
    assert "> first" in replies and "> second" in replies
    assert not [f for f in frames if f["type"] == "RUN_ERROR"]


# ------------------------------------------------------------------ handshake admission

# A rate this low refills nothing while a test runs: the burst is the whole allowance.
FROZEN_ADMISSION = {"ws_handshakes_per_second": 0.0001}
BEHIND_PROXY = {**FROZEN_ADMISSION, "trusted_proxies": frozenset({"127.0.0.1"})}


async def _handshake(server, token: str | None, address: str | None = None) -> int:
    """101 for a socket that was welcomed, else the HTTP status of the refused handshake."""
    headers = {"X-Forwarded-For": address} if address else {}
    try:
        async with open_socket(server, token, tab=None, headers=headers) as ws:
            await frames_until(ws, "welcome")
    except InvalidStatus as refused:
        return refused.response.status_code
    return 101


@pytest.mark.parametrize("settings_overrides", [FROZEN_ADMISSION], indirect=True)
async def test_refused_handshakes_do_not_spend_the_admission_allowance(server):
    """The probe: foreign-origin, session-less and non-upgrade requests must not use up the
    handshakes a signed-in user needs."""
    token = await token_for(server)
    ws_url = server.url + "/api/ws"
    for _ in range(20):
        foreign = await server.http.get(ws_url, headers={"Origin": "http://evil.example"})
        assert foreign.status == 403
        plain = await server.http.get(ws_url, headers={"Origin": server.origin})
        assert plain.status == 400
        for stranger in (None, "not-a-session"):
            async with open_socket(server, stranger) as ws:
                assert await close_code(ws) == 4401
    assert await _handshake(server, token) == 101


@pytest.mark.parametrize("settings_overrides", [BEHIND_PROXY], indirect=True)
async def test_one_client_cannot_spend_everyone_elses_handshakes(server):
    await server.server.app[STORAGE].users.add("bob", PASSWORD)
    hog = await token_for(server, "ada")
    codes = [await _handshake(server, hog, "203.0.113.7") for _ in range(12)]
    assert codes == [101] * KEY_BURST + [503] * (12 - KEY_BURST)
    # Neither another session from that address nor that session from elsewhere gets more.
    second = await token_for(server, "ada")
    assert await _handshake(server, second, "203.0.113.7") == 503
    assert await _handshake(server, hog, "198.51.100.99") == 503
    # Everybody else still gets in.
    bob = await token_for(server, "bob")
    assert await _handshake(server, bob, "198.51.100.2") == 101
    assert await _handshake(server, second, "192.0.2.1") == 101


# ------------------------------------------------------------------ revocation


async def test_signing_in_again_closes_the_sockets_of_the_session_it_presented(server):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        assert (await server.login()).status == 200  # the jar presents the old session
        assert await close_code(ws, 2.0) == 4401


async def test_sign_out_everywhere_closes_every_socket_of_every_session_of_the_user(server):
    await server.server.app[STORAGE].users.add("bob", PASSWORD)
    bob = await token_for(server, "bob")
    first, second = await token_for(server), await token_for(server)
    async with (
        open_socket(server, first, tab="t1") as one,
        open_socket(server, second, tab="t2") as two,
        open_socket(server, bob) as bobs,
    ):
        for ws in (one, two, bobs):
            await frames_until(ws, "history")
        response = await server.http.post(
            server.url + "/api/auth/logout-all", headers={"Origin": server.origin}
        )
        assert response.status == 204
        assert await asyncio.gather(close_code(one, 2.0), close_code(two, 2.0)) == [4401, 4401]
        await bobs.send(json.dumps({"type": "ping", "id": "bob"}))
        assert (await frames_until(bobs, "pong"))[-1]["id"] == "bob"


# ------------------------------------------------------------------ the message limit


@pytest.mark.parametrize("char", ["😀", "\x01"], ids=["emoji", "control"])
async def test_a_message_at_the_limit_as_the_page_sends_it_is_accepted_never_1009(server, char):
    token = await token_for(server)
    async with open_socket(server, token) as ws:
        await frames_until(ws, "history")
        await ws.send(message_frame("at-limit", char * MAX_TEXT))
        assert (await frames_until(ws, "ack"))[-1]["id"] == "at-limit"
        await ws.send(message_frame("over", char * (MAX_TEXT + 1)))
        error = (await frames_until(ws, "error"))[-1]
        assert (error["code"], error["id"]) == ("message_too_long", "over")
        await ws.send(json.dumps({"type": "ping", "id": "open"}))
        assert (await frames_until(ws, "pong"))[-1]["id"] == "open"
