"""The simulated server's own levers: any name signs in, and it misbehaves on purpose so the
preview toolbar can show every state.  That it answers like server.py otherwise is the
conversation contract's job (tests/contract), run against both."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.auth import api
from app.auth.model import (
    Reason,
    SignInFailed,
    SignInSucceeded,
    ValidationFailed,
    ValidationRejected,
    ValidationSucceeded,
)
from app.preview.server import Answer, Behaviour, PreviewServer, SimulatedSocket, Sockets

FAST = Behaviour(latency=0.001, stream_delay=0.001)


class Recorder:
    """Stands in for the transport's handlers: keeps every event the socket fires."""

    def __init__(self, socket: SimulatedSocket) -> None:
        self.frames: list[dict] = []
        self.opened = False
        self.close_code: int | None = None
        socket.onopen = lambda _e: setattr(self, "opened", True)
        socket.onmessage = lambda e: self.frames.append(json.loads(e.data))
        socket.onclose = lambda e: setattr(self, "close_code", e.code)

    def types(self) -> list[str]:
        return [f["type"] for f in self.frames]


async def settle(seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)


@pytest.fixture
def server() -> PreviewServer:
    return PreviewServer(behaviour=FAST)


async def sign_in(server: PreviewServer, name: str = "ada") -> None:
    status, _data, _headers = await server.request(
        "POST", "api/auth/login", {"username": name, "password": "x"}
    )
    assert status == 200


async def test_any_non_empty_name_signs_in_and_the_session_validates(server):
    remembered = []
    server.remember = remembered.append
    status, data, headers = await server.request(
        "POST", "api/auth/login", {"username": "  Designer ", "password": ""}
    )
    assert isinstance(api.login_event(status, data, 1, headers.get("Retry-After")), SignInSucceeded)
    assert data["user"] == {"name": "Designer"} and remembered == ["Designer"]
    status, data, _ = await server.request("GET", "api/auth/session")
    event = api.validation_event(status, data, 1)
    assert isinstance(event, ValidationSucceeded) and event.user.name == "Designer"


@pytest.mark.parametrize("url", ["api/auth/logout", "api/auth/logout-all"])
async def test_signing_out_here_or_everywhere_ends_the_simulated_session(server, url):
    await sign_in(server)
    status, _data, _headers = await server.request("POST", url)
    assert status == 204 and api.logout_all_event(status, 1).ok
    assert (await server.request("GET", "api/auth/session"))[0] == 401


async def test_an_empty_name_is_bad_input_and_nobody_is_signed_in(server):
    status, data, _ = await server.request("POST", "api/auth/login", {"username": " "})
    assert api.login_event(status, data, 1) == SignInFailed(1, Reason.BAD_INPUT)
    assert (await server.request("GET", "api/auth/session"))[0] == 401


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (Answer.REJECT, SignInFailed(1, Reason.INVALID_CREDENTIALS)),
        (Answer.THROTTLE, SignInFailed(1, Reason.THROTTLED, 30.0)),
        (Answer.DOWN, SignInFailed(1, Reason.SERVER_UNREACHABLE)),
    ],
)
async def test_sign_in_misbehaviours_map_to_the_real_reasons(server, answer, expected):
    server.misbehave(login=answer)
    status, data, headers = await server.request("POST", "api/auth/login", {"username": "ada"})
    retry_after = headers.get("Retry-After") if headers is not None else None
    assert api.login_event(status, data, 1, retry_after) == expected
    assert server.user is None


async def test_validation_misbehaviours(server):
    await sign_in(server)
    server.misbehave(validation=Answer.DOWN)
    status, data, _ = await server.request("GET", "api/auth/session")
    assert api.validation_event(status, data, 2) == ValidationFailed(2, server_error=False)
    server.misbehave(validation=Answer.REJECT)
    status, data, _ = await server.request("GET", "api/auth/session")
    assert api.validation_event(status, data, 3) == ValidationRejected(3)


async def test_a_hanging_request_waits_until_reset_then_fails_as_unreachable(server):
    await sign_in(server)
    server.misbehave(validation=Answer.HANG)
    pending = asyncio.ensure_future(server.request("GET", "api/auth/session"))
    await settle()
    assert not pending.done()
    server.reset(FAST)
    assert await asyncio.wait_for(pending, 1) == (None, None, None)


async def test_sending_while_connecting_raises_like_the_browser(server):
    socket = server.open_socket("ws://x/api/ws?mode=tab&tab=t1")
    with pytest.raises(RuntimeError):
        socket.send("{}")


async def test_refused_and_hanging_handshakes(server):
    await sign_in(server)
    server.misbehave(sockets=Sockets.REFUSE)
    refused = Recorder(server.open_socket("ws://x/api/ws?mode=tab&tab=t1"))
    server.misbehave(sockets=Sockets.HANG)
    hanging_socket = server.open_socket("ws://x/api/ws?mode=tab&tab=t2")
    hanging = Recorder(hanging_socket)
    await settle()
    assert refused.close_code == 1006 and not refused.opened
    assert hanging_socket.readyState == hanging_socket.CONNECTING and hanging.close_code is None


async def test_server_levers_drop_expire_and_replace_history(server):
    await sign_in(server)
    recorder = Recorder(server.open_socket("ws://x/api/ws?mode=tab&tab=t1"))
    await settle()
    server.replace_history([{"id": f"h{i}", "role": "user", "text": "x"} for i in range(300)])
    assert len(recorder.frames[-1]["messages"]) == 300
    assert server.drop_sockets(1006) == 1
    await settle()
    assert recorder.close_code == 1006
    recorder = Recorder(server.open_socket("ws://x/api/ws?mode=tab&tab=t1"))
    await settle()
    server.expire_session()
    assert recorder.close_code == 4401 and server.user is None


async def test_a_closed_socket_fires_close_once_with_the_pages_code(server):
    await sign_in(server)
    socket = server.open_socket("ws://x/api/ws?mode=tab&tab=t1")
    recorder = Recorder(socket)
    await settle()
    socket.close(1000, "bye")
    socket.close(1000, "again")
    await settle()
    assert recorder.close_code == 1000 and socket.readyState == socket.CLOSED
    assert server.drop_sockets() == 0
