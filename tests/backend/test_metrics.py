"""/metrics after known events: every counter moved by exactly what happened, nothing personal.

The app runs on a real loopback socket (the ``server`` fixture); its metrics are read over HTTP
from the exposition app on a listener of its own, as Prometheus would scrape them, and parsed
with prometheus-client's own parser.
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus

from backend.metrics import METRICS, code_label, exposition_app
from tests.backend.wsclient import close_code, frames_until, open_socket, token_for
from tests.support import PASSWORD


class Scrape:
    """Reads /metrics; :meth:`moved` is what changed since the previous read."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.last: dict[tuple, float] = {}
        self.text = ""

    async def read(self) -> dict[tuple, float]:
        async with aiohttp.ClientSession() as http, http.get(self.url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/plain")
            self.text = await response.text()
        samples = {}
        for family in text_string_to_metric_families(self.text):
            for sample in family.samples:
                samples[(sample.name, *sorted(sample.labels.items()))] = sample.value
        return samples

    async def moved(self) -> dict[tuple, float]:
        now = await self.read()
        changed = {
            key: value - self.last.get(key, 0.0)
            for key, value in now.items()
            if value != self.last.get(key, 0.0) and not key[0].endswith("_created")
        }
        self.last = now
        return changed


@pytest.fixture
async def scrape(server):
    listener = TestServer(exposition_app(server.server.app[METRICS]), host="127.0.0.1")
    await listener.start_server()
    reader = Scrape(f"http://127.0.0.1:{listener.port}/metrics")
    await reader.moved()
    yield reader
    await listener.close()


def only_ack_latency_buckets(moved: dict) -> dict:
    return {k: v for k, v in moved.items() if k[0].startswith("pychat_ws_ack_latency_seconds")}


HANDSHAKES = "pychat_ws_handshakes_total"
CLOSES = "pychat_ws_closes_total"


def handshake(outcome: str) -> tuple:
    return (HANDSHAKES, ("outcome", outcome))


def close(code: int) -> tuple:
    return (CLOSES, ("code", str(code)))


async def test_sign_ins_and_validations_count_by_outcome(server, scrape):
    assert (await server.login("ada", "wrong")).status == 401
    token = await token_for(server)
    async with aiohttp.ClientSession() as http:
        await (
            await http.get(server.url + "/api/auth/session", cookies={"pychat_sid": token})
        ).read()
        await (await http.get(server.url + "/api/auth/session")).read()
        bad = await http.post(
            server.url + "/api/auth/login", data="{", headers={"Origin": server.origin}
        )
        assert bad.status in (400, 415)
    assert await scrape.moved() == {
        ("pychat_sign_ins_total", ("outcome", "rejected")): 1,
        ("pychat_sign_ins_total", ("outcome", "succeeded")): 1,
        ("pychat_sign_ins_total", ("outcome", "bad_request")): 1,
        ("pychat_session_validations_total", ("outcome", "valid")): 1,
        ("pychat_session_validations_total", ("outcome", "invalid")): 1,
    }


async def test_handshakes_closes_sockets_and_acknowledgements(server, scrape):
    token = await token_for(server)
    await scrape.moved()  # the sign-in is not what this test counts

    with pytest.raises(InvalidStatus):
        async with open_socket(server, token, origin="http://evil.example"):
            pass
    async with open_socket(server, None) as refused:
        assert await close_code(refused) == 4401
    assert await scrape.moved() == {
        handshake("forbidden_origin"): 1,
        handshake("unauthorized"): 1,
        close(4401): 1,
    }

    async with open_socket(server, token, tab=None) as first:
        await frames_until(first, "history")
        assert await scrape.moved() == {
            handshake("accepted"): 1,
            ("pychat_ws_sockets_open",): 1,
        }
        async with open_socket(server, token, tab=None) as second:
            await frames_until(second, "history")
            assert await close_code(first) == 4409
            for _ in range(2):  # the same client id twice: stored once, acknowledged twice
                await second.send(json.dumps({"type": "message", "id": "m1", "text": "secret"}))
                await frames_until(second, "ack")
            await second.send(json.dumps({"type": "ping", "id": 1}))  # not a chat message
            await frames_until(second, "pong")
            moved = await scrape.moved()
    assert only_ack_latency_buckets(moved).get(("pychat_ws_ack_latency_seconds_count",)) == 2
    assert {k: v for k, v in moved.items() if k not in only_ack_latency_buckets(moved)} == {
        handshake("replaced"): 1,
        close(4409): 1,
        ("pychat_ws_messages_received_total",): 2,
        ("pychat_ws_messages_acknowledged_total", ("duplicate", "false")): 1,
        ("pychat_ws_messages_acknowledged_total", ("duplicate", "true")): 1,
    }

    for _ in range(50):  # the server sees the client's close a moment after we sent it
        moved = await scrape.moved()
        if moved:
            break
        await asyncio.sleep(0.02)
    assert moved == {close(1000): 1, ("pychat_ws_sockets_open",): -1}


async def test_the_per_tab_cap_counts_as_session_full(server, scrape):
    token = await token_for(server)
    sockets = [await open_socket(server, token, tab=f"t{i}") for i in range(5)]
    try:
        for ws in sockets:
            await frames_until(ws, "history")
        await scrape.moved()
        async with open_socket(server, token, tab="t5") as sixth:
            assert await close_code(sixth) == 4429
        moved = await scrape.moved()
        assert moved == {handshake("session_full"): 1, close(4429): 1}
        assert scrape.last[("pychat_ws_sockets_open",)] == 5
    finally:
        for ws in sockets:
            await ws.close()


async def test_no_metric_carries_a_user_name_a_token_or_a_message(server, scrape):
    token = await token_for(server)
    async with open_socket(server, token, tab="tab-secretive") as ws:
        await frames_until(ws, "history")
        await ws.send(json.dumps({"type": "message", "id": "id-secretive", "text": "hush hush"}))
        await frames_until(ws, "ack")
    await server.login("ada", "not-" + PASSWORD)
    await scrape.read()
    for secret in ("ada", token, "hush", "secretive", PASSWORD, "127.0.0.1"):
        assert secret not in scrape.text
    labels = {
        name
        for family in text_string_to_metric_families(scrape.text)
        for sample in family.samples
        for name in sample.labels
    }
    assert labels <= {"outcome", "code", "duplicate", "le"}


def test_close_codes_outside_the_known_set_share_one_label():
    assert (code_label(4409), code_label(1000), code_label(3999), code_label(None)) == (
        "4409",
        "1000",
        "other",
        "none",
    )
