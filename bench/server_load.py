"""Server capacity and latency over real sockets, against a websockets echo baseline.

    .venv/bin/python bench/server_load.py [--sockets 5000] [--seconds 20]

Our ``server.py`` and the baseline (bench/echo_baseline.py) each run as their own process
pinned to core 0; this load generator runs pinned to core 1.  Everything is on loopback,
bounded in count and time.  For each server:

* idle capacity: open N authenticated sockets (ours: cookie sessions made in the database
  beforehand, five tabs each), report resident memory per socket beyond the process's own
  baseline and the time to open them;
* latency: with 1,000 sockets open, 1,000 messages a second (~200 bytes) for ``--seconds``:
  round trip to the acknowledgement (ours, ``--agent silent``: stored, acknowledged, not
  answered) or the echo (baseline): p50/p99/max;
* the highest rate (5 s steps) that keeps p99 under 50 ms;
* handshakes per second: connect, authenticate, one message, its acknowledgement, close.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import ClientConnection, connect  # noqa: E402

from app.wire.urls import socket_query  # noqa: E402
from backend.auth import COOKIE_NAME  # noqa: E402
from backend.config import Settings  # noqa: E402
from backend.storage_url import open_storage  # noqa: E402
from tests.support import PASSWORD, PYTHON, ServerProcess  # noqa: E402

PAD = "x" * 130  # makes a message frame about 200 bytes
TABS_PER_SESSION = 5
P99_TARGET_MS = 50.0


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Target:
    name: str
    url: str  # ws://…/path
    origin: str
    pid: int
    tokens: list[str] = field(default_factory=list)  # ours: session tokens
    acks: bool = True  # ours answers with an ack; the baseline echoes

    def headers(self, i: int) -> dict:
        if not self.tokens:
            return {}
        return {"Cookie": f"{COOKIE_NAME}={self.tokens[i // TABS_PER_SESSION]}"}

    def address(self, i: int) -> str:
        # five tabs per session, each declaring per-tab mode (the fallback), as before sharing
        tab = f"t{i % TABS_PER_SESSION}"
        return f"{self.url}{socket_query(tab)}" if self.tokens else self.url


class Pool:
    """Open sockets plus one reader task each, routing answers to waiting futures by id."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task] = []
        self.waiting: dict[str, tuple[float, asyncio.Future | None]] = {}
        self.rtts: list[float] = []

    async def open_one(self, i: int) -> ClientConnection:
        ws = await connect(
            self.target.address(i),
            origin=self.target.origin,
            additional_headers=self.target.headers(i),
            compression=None,
            max_size=None,
            open_timeout=30,
            ping_interval=None,
        )
        if self.target.tokens:  # ours greets with welcome + history
            await ws.recv()
            await ws.recv()
        return ws

    async def open(self, count: int, concurrency: int = 100) -> float:
        started = time.perf_counter()
        gate = asyncio.Semaphore(concurrency)

        async def one(i: int) -> ClientConnection:
            async with gate:
                return await self.open_one(i)

        self.sockets = list(await asyncio.gather(*(one(i) for i in range(count))))
        elapsed = time.perf_counter() - started
        self.readers = [asyncio.create_task(self._read(ws)) for ws in self.sockets]
        return elapsed

    async def _read(self, ws: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for raw in ws:
                frame = json.loads(raw)
                if self.target.acks and frame.get("type") != "ack":
                    continue
                sent = self.waiting.pop(frame.get("id"), None)
                if sent is not None:
                    self.rtts.append((time.perf_counter() - sent[0]) * 1000)

    async def close(self, keep: int = 0) -> None:
        extra, self.sockets = self.sockets[keep:], self.sockets[:keep]
        for task in self.readers[keep:]:
            task.cancel()
        self.readers = self.readers[:keep]
        await asyncio.gather(*(ws.close() for ws in extra), return_exceptions=True)

    async def load(self, rate: int, seconds: float) -> list[float]:
        """Send ``rate`` messages a second, round-robin over the sockets, for ``seconds``."""
        self.rtts = []
        tick = 0.01
        per_tick = rate * tick
        owed, sent, n = 0.0, 0, len(self.sockets)
        started = time.perf_counter()
        while (now := time.perf_counter()) - started < seconds:
            owed += per_tick
            while owed >= 1:
                owed -= 1
                message_id = uuid.uuid4().hex
                frame = json.dumps({"type": "message", "id": message_id, "text": PAD})
                self.waiting[message_id] = (time.perf_counter(), None)
                with contextlib.suppress(Exception):
                    await self.sockets[sent % n].send(frame)
                sent += 1
            await asyncio.sleep(max(0.0, tick - (time.perf_counter() - now)))
        await asyncio.sleep(1.0)  # let the last answers arrive
        lost = len(self.waiting)
        self.waiting.clear()
        return self.rtts + [float("inf")] * lost


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


async def handshakes(target: Target, count: int, concurrency: int = 20) -> float:
    gate = asyncio.Semaphore(concurrency)

    async def cycle(i: int) -> None:
        async with gate:
            pool = Pool(target)
            ws = await pool.open_one(i)
            message_id = uuid.uuid4().hex
            await ws.send(json.dumps({"type": "message", "id": message_id, "text": PAD}))
            async for raw in ws:
                if json.loads(raw).get("id") == message_id:
                    break
            await ws.close()

    started = time.perf_counter()
    await asyncio.gather(*(cycle(i) for i in range(count)))
    return count / (time.perf_counter() - started)


async def measure(target: Target, sockets: int, seconds: float) -> dict[str, float]:
    results: dict[str, float] = {}
    warm = Pool(target)
    await warm.open(1)
    await warm.close()
    await asyncio.sleep(0.5)
    before = rss_kib(target.pid)
    pool = Pool(target)
    results["open N sockets (s)"] = await pool.open(sockets)
    await asyncio.sleep(2.0)
    results["KiB per idle socket"] = (rss_kib(target.pid) - before) / sockets
    await pool.close(keep=1000)

    rtts = await pool.load(1000, seconds)
    results["ack p50 ms @1000/s"] = percentile(rtts, 50)
    results["ack p99 ms @1000/s"] = percentile(rtts, 99)
    results["ack max ms @1000/s"] = max(rtts)
    best = 0
    for rate in (1500, 2000, 3000, 4000, 6000, 8000):
        rtts = await pool.load(rate, 5.0)
        if percentile(rtts, 99) >= P99_TARGET_MS:
            break
        best = rate
    results["max rate with p99 < 50 ms"] = best if best else 1000
    await pool.close()
    results["handshakes per s"] = await handshakes(target, 1000)
    return results


async def prepare_db(db: Path, sessions: int) -> list[str]:
    url = f"sqlite:///{db}"
    storage = open_storage(url, Settings(storage_url=url, idle_timeout=86400))
    user = await storage.users.add("bench", PASSWORD)
    tokens = [(await storage.sessions.create(user.id, user.name))[0] for _ in range(sessions)]
    await storage.close()
    return tokens


async def run(sockets: int, seconds: float) -> dict[str, dict[str, float]]:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {1})
    tmp = Path(tempfile.mkdtemp())
    tokens = await prepare_db(tmp / "bench.db", sockets // TABS_PER_SESSION + 1000)
    table: dict[str, dict[str, float]] = {}

    port = free_port()
    echo = subprocess.Popen(
        ["taskset", "-c", "0", PYTHON, str(ROOT / "bench/echo_baseline.py"), str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    echo.stdout.readline()
    try:
        baseline = Target(
            "websockets echo", f"ws://127.0.0.1:{port}/", "http://bench", echo.pid, acks=False
        )
        table[baseline.name] = await measure(baseline, sockets, seconds)
    finally:
        echo.terminate()
        echo.wait()

    server = ServerProcess(
        tmp / "bench.db",
        "--agent",
        "silent",
        "--idle-timeout",
        "86400",
        "--absolute-timeout",
        "86400",
        "--ws-messages-per-minute",
        "100000",
        # raw capacity: admission control (170/s by default) is measured by reconnect_storm.py
        "--max-handshakes-per-second",
        "100000",
        wrapper=("taskset", "-c", "0"),
    ).start()
    try:
        ours = Target(
            "server.py (aiohttp)",
            server.url.replace("http", "ws") + "/api/ws",
            server.url,
            server.proc.pid,
            tokens=tokens,
        )
        # the handshake test needs sessions of its own beyond the idle ones
        table[ours.name] = await measure(ours, sockets, seconds)
    finally:
        server.stop()
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    table = asyncio.run(run(args.sockets, args.seconds))
    base, ours = table["websockets echo"], table["server.py (aiohttp)"]
    print(f"\nServer load on loopback, {args.sockets} idle sockets, server on one core\n")
    print(f"| {'measure':<28} | {'ours':>10} | {'baseline':>10} | {'ours/base':>9} |")
    print(f"|{'-' * 30}|{'-' * 12}|{'-' * 12}|{'-' * 11}|")
    for name in base:
        ratio = ours[name] / base[name] if base[name] else float("nan")
        print(f"| {name:<28} | {ours[name]:>10.2f} | {base[name]:>10.2f} | {ratio:>9.2f} |")


if __name__ == "__main__":
    main()
