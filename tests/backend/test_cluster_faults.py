"""The cluster under faults: real Redis, real Traefik, real ``server.py`` replicas, no mocks.

One cluster (``tools.cluster``: Redis, two replicas, Traefik, on free loopback ports) serves
the module; each test breaks one part of it while clients chat through Traefik, then checks
what a user would: the sockets come back, sign-in works, and every message the server
acknowledged is in the history exactly once (counted by client message id).

The clients behave as the page does (docs/protocol.md): a message is queued until its ack,
resent with the same id after a reconnect, and a closed socket reconnects with jittered
backoff, the same tab id each time.  Each browser has an address of its own (any 127.x.y.z is
loopback on Linux), as real users do; Traefik's per-client limits then apply per browser, as
in production, and not to the whole test at once.

Redis keeps its append-only file (``tools.processes.RedisProcess``, as a production Redis
would): a restart must then keep sessions and history, so "nothing acknowledged is lost"
holds.  Without persistence a restart loses every user and session by design, and the test
could only check that the servers come back, not that acknowledged messages survive.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import aiohttp
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, WebSocketException

from app.wire.urls import socket_query
from backend.auth import COOKIE_NAME
from backend.config import Settings
from backend.redis_storage import HISTORY_CAP
from backend.storage_url import open_storage
from tests.support import PASSWORD
from tools.cluster import Cluster

TABS = 5  # tabs per browser (per-tab mode, the most sockets one session may hold)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    running = Cluster.on_free_ports(
        tmp_path_factory.mktemp("cluster"),
        access_log=False,
        # Stored and acknowledged, answered by an empty run: the socket and storage path
        # under load, without the guide's replies filling the history.
        replica_options=("--agent", "silent"),
    ).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def healthy(cluster: Cluster) -> Cluster:
    """The cluster with every part running (a test before may have broken one)."""

    def repair() -> None:
        assert cluster.redis is not None and cluster.traefik is not None
        if cluster.redis.proc is None:
            cluster.redis.start()
        for index, replica in enumerate(cluster.replicas):
            if replica.proc is None or replica.proc.poll() is not None:
                cluster.replicas[index] = cluster.start_replica(replica.port)
        if cluster.traefik.proc is None:
            cluster.traefik.start()

    await asyncio.to_thread(repair)
    return cluster


# ------------------------------------------------------------------------------ clients


@dataclass(eq=False)
class Chatter:
    """One tab of a signed-in browser, chatting through the proxy."""

    url: str  # the cluster's public URL (Traefik)
    token: str
    tab: str  # unique in the test, so message ids are unique per user too
    source: str  # this browser's own loopback address
    user_id: int
    every: float  # seconds between messages, on average
    sending: bool = True
    sent: int = 0  # messages made so far; a message's id carries its number
    unacked: dict[str, int] = field(default_factory=dict)  # id -> number, oldest first
    acked: set[str] = field(default_factory=set)
    newest_acked: int = -1  # the number of the newest message acknowledged
    greeted: int = 0  # sockets that got as far as the history frame
    resent: int = 0  # messages sent again after a reconnect (their ack had not come)
    closes: Counter = field(default_factory=Counter)  # close codes the server sent

    def frame(self, message_id: str) -> str:
        return json.dumps({"type": "message", "id": message_id, "text": f"from {self.tab}"})

    async def run(self) -> None:
        """Keep a socket open for ever (until cancelled), reconnecting like the page."""
        delay = 0.1
        while True:
            greeted = self.greeted
            try:
                async with connect(
                    self.url.replace("http://", "ws://") + "/api/ws" + socket_query(self.tab),
                    origin=self.url,
                    additional_headers={"Cookie": f"{COOKIE_NAME}={self.token}"},
                    compression=None,
                    open_timeout=5,
                    local_addr=(self.source, 0),
                ) as ws:
                    await self._serve(ws)
            except ConnectionClosed as closed:
                if closed.rcvd is not None:
                    self.closes[closed.rcvd.code] += 1
            except (OSError, TimeoutError, WebSocketException):
                pass  # refused, 502/503/429 from the proxy or a replica: try again later
            if self.greeted > greeted:  # it was a working connection: start backing off anew
                delay = 0.1
            await asyncio.sleep(random.uniform(0, delay))
            delay = min(2.0, delay * 2)

    async def _serve(self, ws: ClientConnection) -> None:
        """Chat on ``ws`` until it closes."""
        sender: asyncio.Task | None = None
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame["type"] == "history":
                    self.greeted += 1
                    for message_id in list(self.unacked):  # oldest first, same ids
                        self.resent += 1
                        await ws.send(self.frame(message_id))
                    sender = asyncio.create_task(self._send(ws))
                elif frame["type"] == "ack":
                    number = self.unacked.pop(frame["id"], None)
                    self.acked.add(frame["id"])
                    if number is not None:
                        self.newest_acked = max(self.newest_acked, number)
        finally:
            if sender is not None:
                sender.cancel()
        if ws.close_code is not None:
            self.closes[ws.close_code] += 1

    async def _send(self, ws: ClientConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(random.uniform(0.5, 1.5) * self.every)
                if not self.sending:
                    continue
                number, self.sent = self.sent, self.sent + 1
                message_id = f"{self.tab}-{number}"
                self.unacked[message_id] = number  # queued before it is on the wire
                await ws.send(self.frame(message_id))


async def until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Wait for ``condition``; a bound on a hang, not a measure of speed."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.05)
    except TimeoutError:
        raise AssertionError(f"never happened: {what}") from None


@dataclass
class Browsers:
    """Users, their browsers (a session and an address each) and every tab's chatter."""

    cluster: Cluster
    chatters: list[Chatter]
    user_ids: list[int]
    tasks: list[asyncio.Task] = field(default_factory=list)

    @classmethod
    async def make(
        cls, cluster: Cluster, prefix: str, users: int, browsers_per_user: int, every: float
    ) -> Browsers:
        """``prefix`` names the users and their tabs; each browser gets 127.<prefix>.x.y."""
        assert cluster.redis is not None
        net = {"traefik": 10, "redis": 20, "kill": 30}[prefix]
        storage = open_storage(cluster.redis.url, Settings(storage_url=cluster.redis.url))
        chatters, user_ids = [], []
        try:
            for u in range(users):
                user = await storage.users.add(f"{prefix}{u}", PASSWORD)
                user_ids.append(user.id)
                for b in range(browsers_per_user):
                    token, _session = await storage.sessions.create(user.id, user.name)
                    browser = u * browsers_per_user + b
                    source = f"127.{net}.{browser // 250}.{browser % 250 + 1}"
                    chatters += [
                        Chatter(
                            cluster.url, token, f"{prefix}{browser}t{t}", source, user.id, every
                        )
                        for t in range(TABS)
                    ]
        finally:
            await storage.close()
        return cls(cluster, chatters, user_ids)

    def start(self) -> None:
        self.tasks = [asyncio.create_task(c.run()) for c in self.chatters]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def drain(self) -> None:
        """Stop making messages and wait until every one made was acknowledged."""
        for chatter in self.chatters:
            chatter.sending = False
        await until(
            lambda: not any(c.unacked for c in self.chatters),
            f"every message acknowledged ({sum(map(len, self.unacked_ids()))} still queued)",
        )

    def unacked_ids(self) -> list[dict[str, int]]:
        return [c.unacked for c in self.chatters]

    def acked(self) -> int:
        return sum(len(c.acked) for c in self.chatters)

    async def stored_counts(self) -> Counter:
        """How often each client message id is in the users' history, read from Redis."""
        assert self.cluster.redis is not None
        url = self.cluster.redis.url
        storage = open_storage(url, Settings(storage_url=url))
        counts: Counter = Counter()
        try:
            for user_id in self.user_ids:
                for message in await storage.history.recent(user_id, HISTORY_CAP):
                    if message.role == "user":
                        counts[message.id] += 1
        finally:
            await storage.close()
        return counts

    async def assert_every_acked_message_stored_once(self) -> None:
        counts = await self.stored_counts()
        acked = {message_id for c in self.chatters for message_id in c.acked}
        made = {f"{c.tab}-{n}" for c in self.chatters for n in range(c.sent)}
        assert acked == made  # everything typed was acknowledged in the end
        assert len(acked) < HISTORY_CAP * len(self.user_ids)  # nothing trimmed: all countable
        missing = sorted(acked - counts.keys())
        twice = sorted(m for m in acked if counts[m] > 1)
        assert not missing, f"{len(missing)} acknowledged messages are not in history"
        assert not twice, f"{len(twice)} acknowledged messages are in history more than once"


def sockets_on(cluster: Cluster) -> list[int]:
    return [replica.health()["sockets"] for replica in cluster.replicas]


# ------------------------------------------------------------------------------ faults


async def test_sockets_come_back_through_a_restarted_traefik(healthy: Cluster) -> None:
    browsers = await Browsers.make(healthy, "traefik", users=2, browsers_per_user=2, every=0.2)
    browsers.start()
    try:
        await until(lambda: all(c.newest_acked >= 0 for c in browsers.chatters), "first acks")
        assert healthy.traefik is not None
        await asyncio.to_thread(healthy.traefik.stop)  # the proxy process is gone
        await asyncio.to_thread(healthy.traefik.start)  # same port, same configuration
        after = [c.sent for c in browsers.chatters]
        await until(
            lambda: all(c.newest_acked >= n for c, n in zip(browsers.chatters, after, strict=True)),
            "every tab acknowledged a message sent after the restart",
        )
        # Each tab lost its socket and opened a new one, through the new Traefik.
        assert all(c.greeted >= 2 for c in browsers.chatters)
        await browsers.drain()
    finally:
        await browsers.stop()
    await browsers.assert_every_acked_message_stored_once()


async def login(cluster: Cluster, source: str) -> tuple[int, str | None]:
    """Sign in through the proxy as a browser at ``source``: (status, the new token)."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        response = await http.post(
            cluster.url + "/api/auth/login",
            json={"username": "redis0", "password": PASSWORD},
            headers={"Origin": cluster.url},
        )
        await response.read()
        cookie = response.cookies.get(COOKIE_NAME)
        return response.status, cookie.value if cookie else None


async def test_a_redis_restart_keeps_every_acknowledged_message_and_sign_in_recovers(
    healthy: Cluster,
) -> None:
    browsers = await Browsers.make(healthy, "redis", users=1, browsers_per_user=2, every=0.1)
    source = "127.20.9.1"  # a browser that signs in during and after the outage
    redis_server = healthy.redis
    assert redis_server is not None
    browsers.start()
    try:
        await until(lambda: all(c.newest_acked >= 0 for c in browsers.chatters), "first acks")
        await asyncio.to_thread(redis_server.stop)  # SIGTERM: Redis writes its AOF and exits
        try:
            assert (await login(healthy, source))[0] == 503  # told to come back, not refused
            # The outage reaches the sockets: a message that cannot be stored closes with 1013.
            await until(
                lambda: any(c.closes[1013] for c in browsers.chatters), "a socket closed 1013"
            )
        finally:
            await asyncio.to_thread(redis_server.start)  # same port, same directory
        after = [c.sent for c in browsers.chatters]
        status, token = 0, None
        for _attempt in range(50):  # the replicas' Redis clients reconnect on their next call
            status, token = await login(healthy, source)
            if status == 200:
                break
            await asyncio.sleep(0.1)
        assert status == 200 and token
        # The sessions made before the restart are still valid: the tabs are back in.
        await until(
            lambda: all(c.newest_acked >= n for c, n in zip(browsers.chatters, after, strict=True)),
            "every tab acknowledged a message sent after the restart",
        )
        await browsers.drain()
    finally:
        await browsers.stop()
    await browsers.assert_every_acked_message_stored_once()


async def test_a_replica_killed_under_load_loses_and_duplicates_no_acknowledged_message(
    healthy: Cluster,
) -> None:
    # 20 users, 5 browsers each, 5 tabs each: 500 sockets, each sending about once a second.
    browsers = await Browsers.make(healthy, "kill", users=20, browsers_per_user=5, every=1.0)
    assert len(browsers.chatters) == 500
    browsers.start()
    try:
        await until(lambda: all(c.greeted for c in browsers.chatters), "all 500 sockets open", 60.0)
        await until(lambda: browsers.acked() >= 1000, "a thousand messages acknowledged")
        held = await asyncio.to_thread(sockets_on, healthy)
        assert min(held) > 0 and sum(held) == 500, held  # both replicas carry the load
        victim = held.index(max(held))
        await asyncio.to_thread(healthy.replicas[victim].stop, signal.SIGKILL)
        after = [c.sent for c in browsers.chatters]
        await until(
            lambda: all(c.newest_acked >= n for c, n in zip(browsers.chatters, after, strict=True)),
            "every tab acknowledged a message sent after the kill",
            60.0,
        )
        survivor = healthy.replicas[1 - victim]
        assert (await asyncio.to_thread(survivor.health))["sockets"] == 500
        await browsers.drain()
    finally:
        await browsers.stop()
    await browsers.assert_every_acked_message_stored_once()
