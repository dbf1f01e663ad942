"""Load while hostile: real users' ack latency while another client floods the server.

    .venv/bin/python bench/hostile_neighbour.py [--sockets 1000] [--rate 1000] [--seconds 15]

``server.py`` (SQLite, ``--agent silent``: stored, acknowledged, not answered; every limit at
its default) runs pinned to core 0, as in bench/server_load.py; the users' load generator runs
pinned to core 1.  1,000 user sockets (five tabs per session) send 1,000 messages a second
(~200 bytes, round robin) for ``--seconds``, twice in the same run, on the same sockets:

* baseline: nobody else talks to the server;
* hostile: meanwhile another client, from an address of its own, sends as fast as it can
  handshakes with a foreign Origin, with no cookie, requests that are not an upgrade, and
  garbage that is not HTTP; and, on sockets of its own account (its own sessions), malformed
  frames: text that is not JSON, binary frames, a reserved opcode, a length beyond 64 KiB.
  It never backs off.

The hostile client is a process of its own on core 1 at ``nice 19``: it takes all of that core
the users' generator leaves, but never delays the users' generator itself, so the users'
latency measured is the server's, not the generator's.  Each run reports the users' ack
p50/p99/max (ms) and messages per second acknowledged, and for the hostile run the requests
(connections) and frames per second it achieved and what each kind was answered with.  The
target: the users' p99 stays under 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.exceptions import InvalidStatus  # noqa: E402

from backend.auth import COOKIE_NAME  # noqa: E402
from backend.config import Settings  # noqa: E402
from backend.storage_url import open_storage  # noqa: E402
from bench.server_load import (  # noqa: E402
    P99_TARGET_MS,
    TABS_PER_SESSION,
    Pool,
    Target,
    percentile,
)
from tests.support import PASSWORD, PYTHON, ServerProcess  # noqa: E402

HOSTILE_SOURCE = "127.66.0.1"  # the hostile client's own address (all of 127/8 is loopback)
FOREIGN_ORIGIN = "http://evil.example"
HANDSHAKE_KINDS = ("foreign Origin", "no cookie", "not an upgrade", "garbage")
FRAME_KINDS = ("text not JSON", "binary frame", "reserved opcode", "length > 64 KiB")
FLOOD = 40  # not-JSON frames written at once: more than a socket's burst and strikes allow
ANSWER_WITHIN = 5.0  # seconds the hostile client waits for an answer before giving up


# ------------------------------------------------------------------------------ users


class Users(Pool):
    """The users' sockets; one refused with 503 (admission, 170/s) tries again shortly,
    as the page does."""

    async def open_one(self, i: int):
        delay = 0.05
        while True:
            try:
                return await super().open_one(i)
            except InvalidStatus as refused:
                if refused.response.status_code != 503:
                    raise
            await asyncio.sleep(random.uniform(0, delay))
            delay = min(1.0, delay * 2)


def summary(rtts: list[float], seconds: float) -> dict[str, float]:
    acked = [rtt for rtt in rtts if rtt != float("inf")]
    return {
        "users' ack p50 (ms)": percentile(rtts, 50),
        "users' ack p99 (ms)": percentile(rtts, 99),
        "users' ack max (ms)": max(rtts),
        "users' msg/s acknowledged": len(acked) / seconds,
        "users' messages lost": float(len(rtts) - len(acked)),
    }


# ------------------------------------------------------------------------------ hostile


def upgrade(host: str, origin: str, cookie: str | None = None) -> bytes:
    lines = [
        "GET /api/ws HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        f"Origin: {origin}",
    ]
    if cookie is not None:
        lines.append(f"Cookie: {COOKIE_NAME}={cookie}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def client_frame(opcode: int, payload: bytes, length: int | None = None) -> bytes:
    """A masked client frame (mask key 0: valid, and nothing to compute); ``length``: the
    length the header claims, when it is not the payload's."""
    n = len(payload) if length is None else length
    if n < 126:
        header = bytes([0x80 | opcode, 0x80 | n])
    elif n < 1 << 16:
        header = bytes([0x80 | opcode, 0x80 | 126]) + n.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + n.to_bytes(8, "big")
    return header + b"\0\0\0\0" + payload


BAD_FRAMES = {
    "text not JSON": client_frame(0x1, b"{not json") * FLOOD,
    "binary frame": client_frame(0x2, b"\x00\x01\x02"),
    "reserved opcode": client_frame(0x3, b"?"),
    "length > 64 KiB": client_frame(0x1, b"", length=1 << 20),  # the header alone
}


async def close_code(reader: asyncio.StreamReader) -> int:
    """Read server frames (unmasked) up to the close frame; its code."""
    while True:
        first, second = await reader.readexactly(2)
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(await reader.readexactly(2), "big")
        elif length == 127:
            length = int.from_bytes(await reader.readexactly(8), "big")
        payload = await reader.readexactly(length)
        if first & 0x0F == 0x8:
            return int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005


class Hostile:
    """The flood: every kind, as fast as it goes, counting what each was answered with."""

    def __init__(self, host: str, port: int, origin: str, tokens: list[str]) -> None:
        self.host, self.port, self.origin, self.tokens = host, port, origin, tokens
        hostport = f"{host}:{port}"
        self.requests = {
            "foreign Origin": upgrade(hostport, FOREIGN_ORIGIN),
            "no cookie": upgrade(hostport, origin),
            "not an upgrade": (
                f"GET /api/ws HTTP/1.1\r\nHost: {hostport}\r\nOrigin: {origin}\r\n"
                "Connection: close\r\n\r\n"
            ).encode(),
            "garbage": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\xff" * 53 + b"\r\n\r\n",
        }
        self.outcomes: Counter[tuple[str, str]] = Counter()
        self.connections = 0
        self.frames = 0

    async def _exchange(self, request: bytes, frames: bytes = b"", count: int = 0) -> str:
        """One connection: ``request``, then (on 101) ``frames``; what the server answered."""
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, local_addr=(HOSTILE_SOURCE, 0)
            )
        except OSError as exc:
            return f"connect failed ({exc.__class__.__name__})"
        self.connections += 1
        try:
            writer.write(request)
            async with asyncio.timeout(ANSWER_WITHIN):
                status = (await reader.readline()).split(b" ", 2)
                if len(status) < 2:
                    return "dropped"
                code = status[1].decode()
                if code != "101":
                    return f"HTTP {code}"
                await reader.readuntil(b"\r\n\r\n")
                if frames:
                    writer.write(frames)
                    self.frames += count
                return f"101, closed {await close_code(reader)}"
        except TimeoutError:
            return f"no answer in {ANSWER_WITHIN:g} s"
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return "dropped"
        finally:
            writer.transport.abort()

    async def handshakes(self, offset: int, until: float) -> None:
        for kind in itertools.islice(itertools.cycle(HANDSHAKE_KINDS), offset, None):
            if time.perf_counter() >= until:
                return
            self.outcomes[kind, await self._exchange(self.requests[kind])] += 1

    async def frame_sockets(self, token: str, offset: int, until: float) -> None:
        request = upgrade(f"{self.host}:{self.port}", self.origin, token)
        for kind in itertools.islice(itertools.cycle(FRAME_KINDS), offset, None):
            if time.perf_counter() >= until:
                return
            count = FLOOD if kind == "text not JSON" else 1
            outcome = await self._exchange(request, BAD_FRAMES[kind], count)
            self.outcomes[f"frames: {kind}", outcome] += 1

    async def run(self, seconds: float, handshakers: int) -> dict:
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(
            *(self.handshakes(i, until) for i in range(handshakers)),
            *(self.frame_sockets(t, i, until) for i, t in enumerate(self.tokens)),
        )
        elapsed = time.perf_counter() - started
        return {
            "seconds": elapsed,
            "requests per s": self.connections / elapsed,
            "frames per s": self.frames / elapsed,
            "outcomes": [[kind, outcome, n] for (kind, outcome), n in self.outcomes.items()],
        }


def hostile_worker() -> None:
    """The hostile process: its orders on stdin (tokens stay out of the process list), its
    report on stdout."""
    orders = json.loads(sys.stdin.readline())
    hostile = Hostile(orders["host"], orders["port"], orders["origin"], orders["tokens"])
    print("ready", flush=True)
    report = asyncio.run(hostile.run(orders["seconds"], orders["handshakers"]))
    print(json.dumps(report), flush=True)


# ------------------------------------------------------------------------------ the run


async def prepare_db(db: Path, user_sessions: int, hostile_sessions: int) -> tuple[list, list]:
    url = f"sqlite:///{db}"
    storage = open_storage(url, Settings(storage_url=url, idle_timeout=86400))
    users, hostile = [], []
    user = await storage.users.add("bench", PASSWORD)
    for _ in range(user_sessions):
        users.append((await storage.sessions.create(user.id, user.name))[0])
    mallory = await storage.users.add("mallory", PASSWORD)  # an account of its own
    for _ in range(hostile_sessions):
        hostile.append((await storage.sessions.create(mallory.id, mallory.name))[0])
    await storage.close()
    return users, hostile


async def run(args: argparse.Namespace) -> tuple[dict[str, float], dict[str, float], dict]:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {1})
    tmp = Path(tempfile.mkdtemp())
    tokens, hostile_tokens = await prepare_db(
        tmp / "bench.db", args.sockets // TABS_PER_SESSION, args.frame_sockets
    )
    server = ServerProcess(
        tmp / "bench.db",
        "--agent", "silent",
        "--idle-timeout", "86400",
        "--absolute-timeout", "86400",
        wrapper=("taskset", "-c", "0"),
    ).start()  # fmt: skip
    try:
        target = Target(
            "server.py",
            server.url.replace("http", "ws") + "/api/ws",
            server.url,
            server.proc.pid,
            tokens=tokens,
        )
        users = Users(target)
        await users.open(args.sockets)
        await users.load(args.rate, 2.0)  # warm-up, not counted
        baseline = summary(await users.load(args.rate, args.seconds), args.seconds)

        worker = await asyncio.create_subprocess_exec(
            "nice", "-n", "19", "taskset", "-c", "1", PYTHON, __file__, "--hostile-worker",
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        assert worker.stdin is not None and worker.stdout is not None
        host, port = server.url.removeprefix("http://").rsplit(":", 1)
        orders = {
            "host": host,
            "port": int(port),
            "origin": server.url,
            "tokens": hostile_tokens,
            "seconds": args.seconds + 2.0,  # under way before the users' run starts
            "handshakers": args.handshakers,
        }
        worker.stdin.write(json.dumps(orders).encode() + b"\n")
        await worker.stdin.drain()
        await worker.stdout.readline()  # ready
        await asyncio.sleep(1.0)
        hostile = summary(await users.load(args.rate, args.seconds), args.seconds)
        report = json.loads(await worker.stdout.readline())
        await worker.wait()
        await users.close()
    finally:
        server.stop()
    return baseline, hostile, report


def main() -> None:
    if "--hostile-worker" in sys.argv:
        hostile_worker()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sockets", type=int, default=1000, help="users' sockets (1000)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each run (15)")
    parser.add_argument("--rate", type=int, default=1000, help="users' messages a second (1000)")
    parser.add_argument(
        "--handshakers", type=int, default=48, help="hostile handshakes in flight at once (48)"
    )
    parser.add_argument(
        "--frame-sockets",
        type=int,
        default=16,
        help="hostile sockets sending malformed frames at once, a session each (16)",
    )
    args = parser.parse_args()
    baseline, hostile, report = asyncio.run(run(args))

    print(
        f"\nLoad while hostile: {args.sockets} user sockets, {args.rate} msg/s"
        f" for {args.seconds:g} s per run, server on one core\n"
    )
    print(f"| {'measure':<30} | {'baseline':>10} | {'hostile':>10} |")
    print(f"|{'-' * 32}|{'-' * 12}|{'-' * 12}|")
    for name in baseline:
        print(f"| {name:<30} | {baseline[name]:>10.1f} | {hostile[name]:>10.1f} |")
    for name in ("requests per s", "frames per s"):
        print(f"| {'hostile ' + name:<30} | {'-':>10} | {report[name]:>10.0f} |")
    verdict = "met" if hostile["users' ack p99 (ms)"] < P99_TARGET_MS else "MISSED"
    print(f"\nusers' p99 under hostile load < {P99_TARGET_MS:g} ms: {verdict}\n")
    print(f"| {'hostile kind':<24} | {'answered with':<24} | {'count':>8} | {'per s':>7} |")
    print(f"|{'-' * 26}|{'-' * 26}|{'-' * 10}|{'-' * 9}|")
    elapsed = report["seconds"]
    for kind, outcome, count in sorted(report["outcomes"]):
        print(f"| {kind:<24} | {outcome:<24} | {count:>8} | {count / elapsed:>7.0f} |")


if __name__ == "__main__":
    main()
