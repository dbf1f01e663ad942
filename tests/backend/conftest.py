from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

import aiohttp
import pytest
import redis
from aiohttp.test_utils import TestServer, unused_port

from backend.app import create_app
from backend.config import ROOT, Settings
from backend.keys import STORAGE
from tests.support import PASSWORD, RedisProcess


@dataclass
class FakeClock:
    now: float = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Running:
    url: str
    origin: str
    clock: FakeClock
    http: aiohttp.ClientSession
    db: sqlite3.Connection  # a second connection to the server's database, for looking
    settings: Settings
    server: TestServer = field(repr=False)

    async def login(self, username: str = "ada", password: str = PASSWORD, **kw):
        headers = {"Origin": self.origin, **kw.pop("headers", {})}
        return await self.http.post(
            self.url + "/api/auth/login",
            json={"username": username, "password": password},
            headers=headers,
            **kw,
        )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings_overrides() -> dict:
    return {}


@pytest.fixture
def server_agent():
    """The agent behind the socket (``None``: the built-in guide); override to change it."""
    return None


@pytest.fixture
async def server(tmp_path, clock, settings_overrides, server_agent):
    """The real app on a real loopback socket, with a fake clock and a temporary database."""
    port = unused_port()
    path = tmp_path / "test.db"
    settings = Settings(
        root=ROOT, port=port, storage_url=f"sqlite:///{path}", clock=clock, **settings_overrides
    )
    app = create_app(settings, agent=server_agent)
    test_server = TestServer(app, host="127.0.0.1", port=port)
    await test_server.start_server()
    await test_server.app[STORAGE].users.add("ada", PASSWORD)
    db = sqlite3.connect(path, isolation_level=None)
    url = f"http://127.0.0.1:{port}"
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        yield Running(url, url, clock, http, db, settings, test_server)
    db.close()
    await test_server.close()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One real redis-server for the session (Debian's package, installed by make test)."""
    server = RedisProcess(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def flushed_redis(redis_server):
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushdb()
    return redis_server
