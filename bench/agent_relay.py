"""Time to the first streamed token through the relay, against the same agent called directly.

    .venv/bin/python bench/agent_relay.py [--runs 20]

The agent is the tests' AG-UI upstream (tests/agui_upstream.py: Pydantic AI's AG-UI adapter
under uvicorn, ``FunctionModel``, so no model time) on loopback.  Each run sends one message
and stops the clock at the first ``TEXT_MESSAGE_CONTENT``:

* direct: an aiohttp client POSTs the ``RunAgentInput`` to the upstream and reads its event
  stream, as any AG-UI client would (the baseline, measured in the same run);
* relay: a signed-in ``websockets`` client sends a chat message to a real ``server.py
  --agent-url``; what it measures adds the socket, storing the message, its acknowledgement,
  reading the history the agent gets, the relay's POST, validation and re-serialisation.

Runs alternate between the two (after two warm-up turns each) so drift hits both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from backend.auth import COOKIE_NAME  # noqa: E402
from backend.relay.sse import SSEDecoder  # noqa: E402
from tests.agui_upstream import UpstreamProcess  # noqa: E402
from tests.support import PASSWORD, ServerProcess, add_user  # noqa: E402

WARM_UP = 2


async def direct(http: aiohttp.ClientSession, url: str, turn: int, history: list[dict]) -> float:
    """One turn straight to the upstream, with the conversation so far (as the relay sends
    it: the last 20 messages), so both paths give the agent the same work."""
    history.append({"id": f"m{turn}", "role": "user", "content": f"bench turn {turn}"})
    del history[:-20]
    body = {
        "threadId": "bench",
        "runId": f"direct-{turn}",
        "messages": list(history),
        "tools": [],
        "context": [],
        "state": {},
        "forwardedProps": {},
        "protocolVersion": "1.0",
    }
    first = None
    reply = []
    started = time.perf_counter()
    async with http.post(url, json=body, headers={"Accept": "text/event-stream"}) as response:
        decoder = SSEDecoder()
        async for chunk in response.content.iter_any():
            for event in decoder.feed(chunk):
                data = json.loads(event.data)
                if data["type"] == "TEXT_MESSAGE_CONTENT":
                    if first is None:
                        first = time.perf_counter() - started
                    reply.append(data["delta"])
    assert first is not None, "the upstream sent no text"
    history.append({"id": f"a{turn}", "role": "assistant", "content": "".join(reply)})
    return first


async def relayed(ws, turn: int) -> float:
    started = time.perf_counter()
    await ws.send(json.dumps({"type": "message", "id": f"r{turn}", "text": f"bench turn {turn}"}))
    first = None
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] == "TEXT_MESSAGE_CONTENT" and first is None:
            first = time.perf_counter() - started
        if frame["type"] in ("RUN_FINISHED", "RUN_ERROR"):
            assert frame["type"] == "RUN_FINISHED", frame
            assert first is not None, "the relay sent no text"
            return first


async def measure(server: ServerProcess, upstream: UpstreamProcess, runs: int):
    times: dict[str, list[float]] = {"direct": [], "relay": []}
    async with aiohttp.ClientSession() as http:
        login = await http.post(
            server.url + "/api/auth/login",
            json={"username": "bench", "password": PASSWORD},
            headers={"Origin": server.url},
        )
        token = login.cookies[COOKIE_NAME].value
        async with connect(
            server.url.replace("http://", "ws://") + "/api/ws?tab=bench",
            origin=server.url,
            additional_headers={"Cookie": f"{COOKIE_NAME}={token}"},
            compression=None,
        ) as ws:
            await ws.recv()  # welcome
            await ws.recv()  # history
            conversation: list[dict] = []
            for turn in range(WARM_UP + runs):
                relay_time = await relayed(ws, turn)
                direct_time = await direct(http, upstream.url, turn, conversation)
                if turn >= WARM_UP:
                    times["relay"].append(relay_time)
                    times["direct"].append(direct_time)
    return times


def report(times: dict[str, list[float]]) -> None:
    base = statistics.median(times["direct"])
    print(f"\nTime to the first streamed token, ms ({len(times['direct'])} runs each)\n")
    print("| path | median | p10 | p90 | vs direct |")
    print("|---|---|---|---|---|")
    for name in ("direct", "relay"):
        values = sorted(times[name])
        deciles = statistics.quantiles(values, n=10)
        median = statistics.median(values)
        print(
            f"| {name} | {median * 1000:.1f} | {deciles[0] * 1000:.1f} | "
            f"{deciles[-1] * 1000:.1f} | {median / base:.2f}x (+{(median - base) * 1000:.1f}) |"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        add_user(db, "bench", PASSWORD)
        upstream = UpstreamProcess(Path(tmp) / "upstream.log").start()
        server = ServerProcess(db, "--agent-url", upstream.url)
        try:
            server.start()
            times = asyncio.run(measure(server, upstream, args.runs))
        finally:
            server.stop()
            upstream.stop()
    report(times)
    return 0


if __name__ == "__main__":
    sys.exit(main())
