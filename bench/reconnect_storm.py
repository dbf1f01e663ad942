"""Reconnect storm: 2,000 clients driven by the app's own connection core.

    .venv/bin/python bench/reconnect_storm.py [--clients 2000]

Each simulated client runs the page's pure state machine (``app.net.connection``: close-code
policy, jittered backoff, stable-connection reset) under CPython, performing its effects with
a real ``websockets`` connection to a real ``server.py`` (pinned to core 0; this process on
core 1).  Two storms, each from all clients connected and stable:

* graceful restart: SIGTERM (every socket gets 1012), then the server starts again;
* crash: SIGKILL (every socket sees 1006), then the server starts again.

Before each storm 5 % of the sessions (all five tabs of each) are revoked in the database, so their
reconnect is answered with 4401: they must sign out and never try again.  Prints a table and
writes ``bench/results/reconnect_storm.png`` (reconnects per second).  Targets: no second
takes more than 10 % of the reconnects, all are back within 30 s, no retry after a 4401.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from websockets.asyncio.client import connect  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

from app.net.connection import (  # noqa: E402
    CancelTimer,
    CheckSession,
    Closed,
    CloseSocket,
    Conn,
    ConnState,
    Opened,
    OpenSocket,
    SendPing,
    SessionEnded,
    Start,
    StartTimer,
    TimerFired,
    Welcome,
    transition,
)
from app.net.connection import (  # noqa: E402
    SessionChecked as SessionCheckedEvent,
)
from app.wire.urls import socket_query  # noqa: E402
from backend.auth import COOKIE_NAME  # noqa: E402
from bench.server_load import prepare_db  # noqa: E402
from tests.support import ServerProcess  # noqa: E402

TABS = 5
RESULTS = ROOT / "bench" / "results"


class Client:
    def __init__(self, index: int, url: str, origin: str, token: str, seed: int) -> None:
        self.index = index
        self.url = f"{url}{socket_query(f't{index % TABS}')}"  # per-tab mode: five per session
        self.origin = origin
        self.token = token
        self.rng = random.Random(seed)
        self.conn = Conn()
        self.timers: dict[object, asyncio.TimerHandle] = {}
        self.ws = None
        self.opened_at: list[float] = []  # welcome times
        self.attempts: list[float] = []
        self.signed_out_at: float | None = None
        self.tasks: set[asyncio.Task] = set()

    def dispatch(self, event) -> None:
        self.conn, effects = transition(self.conn, event, self.rng)
        for effect in effects:
            match effect:
                case OpenSocket(generation=g):
                    self._spawn(self._open(g))
                case CloseSocket():
                    if self.ws is not None:
                        self._spawn(self.ws.close())
                case StartTimer(timer=t, delay=d, generation=g):
                    self._cancel(t)
                    self.timers[t] = asyncio.get_running_loop().call_later(
                        d, lambda t=t, g=g: self.dispatch(TimerFired(t, g, time.time()))
                    )
                case CancelTimer(timer=t):
                    self._cancel(t)
                case SendPing():
                    if self.ws is not None:
                        self._spawn(self.ws.send(json.dumps({"type": "ping"})))
                case CheckSession():
                    self.dispatch(SessionCheckedEvent(valid=True))
                case SessionEnded():
                    self.signed_out_at = time.monotonic()

    def _cancel(self, timer) -> None:
        handle = self.timers.pop(timer, None)
        if handle is not None:
            handle.cancel()

    def _spawn(self, coroutine) -> None:
        task = asyncio.ensure_future(coroutine)
        self.tasks.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task) -> None:
        self.tasks.discard(task)
        if not task.cancelled():
            # A ping sent as the server closes fails; the socket's reader reports the close
            # to the core, so this failure says nothing new (unread, asyncio prints each one).
            task.exception()

    async def _open(self, generation: int) -> None:
        self.attempts.append(time.monotonic())
        try:
            ws = await connect(
                self.url,
                origin=self.origin,
                compression=None,
                additional_headers={"Cookie": f"{COOKIE_NAME}={self.token}"},
                open_timeout=10,
                ping_interval=None,
                max_size=None,
            )
        except Exception:  # refused, reset, 503: the browser would see 1006
            self.dispatch(Closed(generation, 1006, time.time()))
            return
        self.ws = ws
        self.dispatch(Opened(generation, time.time()))
        code = 1006
        try:
            async for raw in ws:
                if json.loads(raw).get("type") == "welcome":
                    self.opened_at.append(time.monotonic())
                    self.dispatch(Welcome(generation, time.time()))
        except ConnectionClosed:
            pass
        if ws.close_code is not None:
            code = ws.close_code
        self.dispatch(Closed(generation, code, time.time()))

    def stop(self) -> None:
        for timer in list(self.timers):
            self._cancel(timer)
        for task in list(self.tasks):
            task.cancel()


async def settle(clients: list[Client], seconds: float) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if all(c.conn.state is ConnState.OPEN for c in clients):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(seconds)  # past the 5 s stable mark: backoff counters reset


async def storm(
    name: str,
    server: ServerProcess,
    clients: list[Client],
    sig: int,
    revoke: list[Client],
    db: Path,
) -> dict:
    with sqlite3.connect(db) as connection:  # revoked while everyone is connected
        connection.executemany(
            "DELETE FROM sessions WHERE token_hash = ?",
            [(__import__("hashlib").sha256(c.token.encode()).digest(),) for c in revoke],
        )
    before = {c.index: len(c.opened_at) for c in clients}
    started = time.monotonic()
    server.stop(sig)
    restarted = ServerProcess(db, *server.extra, port=server.port, wrapper=server.wrapper)
    restarted.start()
    server.proc, server._log = restarted.proc, restarted._log
    expected = [c for c in clients if c not in revoke]
    deadline = started + 45
    while time.monotonic() < deadline:
        back = sum(1 for c in expected if len(c.opened_at) > before[c.index])
        gone = sum(1 for c in revoke if c.signed_out_at is not None)
        if back == len(expected) and gone == len(revoke):
            break
        await asyncio.sleep(0.2)
    await asyncio.sleep(3)  # watch for retries after 4401
    times = [
        c.opened_at[before[c.index]] - started
        for c in expected
        if len(c.opened_at) > before[c.index]
    ]
    per_second = Counter(int(t) for t in times)
    retries_after_4401 = sum(
        1 for c in revoke for a in c.attempts if c.signed_out_at and a > c.signed_out_at
    )
    return {
        "name": name,
        "expected": len(expected),
        "back": len(times),
        "all back after (s)": max(times) if times else float("nan"),
        "busiest second (%)": 100 * max(per_second.values()) / len(times) if times else 0,
        "signed out (4401)": sum(1 for c in revoke if c.signed_out_at is not None),
        "retries after 4401": retries_after_4401,
        "times": times,
    }


def plot(results: list[dict]) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no plot; `make bench-storm` installs it)")
        return None
    RESULTS.mkdir(parents=True, exist_ok=True)
    figure, axis = plt.subplots(figsize=(8, 4))
    for result in results:
        counts = Counter(int(t) for t in result["times"])
        seconds = range(0, int(max(counts, default=0)) + 2)
        axis.plot(
            list(seconds), [counts.get(s, 0) for s in seconds], marker="o", label=result["name"]
        )
    axis.axhline(
        results[0]["expected"] * 0.10, color="grey", linestyle="--", label="10 % of clients"
    )
    axis.set_xlabel("seconds after the server went away")
    axis.set_ylabel("reconnects completed")
    axis.set_title(f"Reconnect storm, {results[0]['expected']} clients")
    axis.legend()
    figure.tight_layout()
    path = RESULTS / "reconnect_storm.png"
    figure.savefig(path, dpi=100)
    return path


async def run(count: int) -> list[dict]:
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, {1})
    tmp = Path(tempfile.mkdtemp())
    db = tmp / "storm.db"
    tokens = await prepare_db(db, count // TABS + 1)
    server = ServerProcess(
        db,
        "--agent",
        "silent",
        "--idle-timeout",
        "86400",
        "--absolute-timeout",
        "86400",
        wrapper=("taskset", "-c", "0"),
    ).start()
    url = server.url.replace("http://", "ws://") + "/api/ws"
    clients = [Client(i, url, server.url, tokens[i // TABS], seed=i) for i in range(count)]
    results = []
    try:
        for client in clients:
            client.dispatch(Start(time.time()))
            await asyncio.sleep(0.002)  # a ramp, not a storm, to begin with
        await settle(clients, 6)
        for name, sig, offset in (
            ("graceful restart (1012)", signal.SIGTERM, 0),
            ("crash (1006)", signal.SIGKILL, 1),
        ):
            live = [c for c in clients if c.signed_out_at is None]
            # whole sessions (all five tabs), one in twenty
            sessions = sorted({c.token for c in live})[offset::20]
            revoke = [c for c in live if c.token in set(sessions)]
            results.append(await storm(name, server, live, sig, revoke, db))
            await settle([c for c in clients if c.signed_out_at is None], 6)
    finally:
        for client in clients:
            client.stop()
        server.stop()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=2000)
    args = parser.parse_args()
    results = asyncio.run(run(args.clients))
    keys = [
        "expected",
        "back",
        "all back after (s)",
        "busiest second (%)",
        "signed out (4401)",
        "retries after 4401",
    ]
    print(
        f"\nReconnect storm, {args.clients} clients (targets: busiest second <= 10 %, "
        "all back <= 30 s, 0 retries after 4401)\n"
    )
    print("| storm | " + " | ".join(keys) + " |")
    print("|---" * (len(keys) + 1) + "|")
    for result in results:
        cells = [
            f"{result[k]:.1f}" if isinstance(result[k], float) else str(result[k]) for k in keys
        ]
        print(f"| {result['name']} | " + " | ".join(cells) + " |")
    path = plot(results)
    if path:
        print(f"\nplot: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
