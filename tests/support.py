"""Helpers shared by the server tests and the end-to-end tests (processes: tools/processes.py)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from backend.cli import open_users
from backend.storage_url import SQLITE
from tools.processes import (
    PYTHON,
    ROOT,
    RedisProcess,
    ServerProcess,
    TraefikProcess,
    free_port,
)

__all__ = ["PYTHON", "ROOT", "RedisProcess", "ServerProcess", "TraefikProcess", "free_port"]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless as root, with nothing reaching out to other hosts (this machine has no internet).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Link:
    """An emulated network link (Chrome DevTools Protocol ``Network.emulateNetworkConditions``)."""

    latency_ms: float
    down_mbit: float
    up_mbit: float

    def conditions(self) -> dict:
        return {
            "offline": False,
            "latency": self.latency_ms,
            "downloadThroughput": self.down_mbit * 1e6 / 8,
            "uploadThroughput": self.up_mbit * 1e6 / 8,
        }


# The links a page is judged on; desktop and mobile are Lighthouse's (mobile: its slow 4G).
LINKS: dict[str, Link | None] = {
    "loopback": None,
    "fiber": Link(10, 100, 100),
    "desktop": Link(40, 10, 10),
    "mobile": Link(150, 1.6, 0.75),
}
# Slower than any of those: a weak mobile cell, hotel Wi-Fi, a throttled plan after its quota.
# The runtime must arrive over them however long it takes, and never be called failed.
SLOW_LINES: dict[str, Link] = {
    "1 Mbit/s, 300 ms": Link(300, 1.0, 0.5),
    "0.4 Mbit/s, 400 ms": Link(400, 0.4, 0.2),
}
# A line that carries nothing (CDP's own offline switch: the page sees navigator.onLine false).
OFFLINE = {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
UNTHROTTLED = {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}


def add_user(db: Path, name: str, password: str) -> None:
    add_users(db, [name], password)


def add_users(db: Path, names: Iterable[str], password: str) -> None:
    """Create accounts in the SQLite database ``db`` through the server's own user store, in
    this process: ``server.py adduser`` (tested in tests/backend/test_cli.py) starts an
    interpreter per account, about a second each.  On a thread of its own, so a caller already
    inside an event loop (Playwright's sync API keeps one) can use it too."""

    async def add() -> None:
        users, close = open_users(f"{SQLITE}{db}")
        try:
            for name in names:
                await users.add(name, password)
        finally:
            await close()

    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(asyncio.run, add()).result()


def session_token(server: ServerProcess, name: str = "ada", password: str = PASSWORD) -> str:
    """Sign ``name`` in to a running ``server`` over real HTTP; the session cookie's value."""
    import json
    import urllib.request

    from backend.auth import COOKIE_NAME

    request = urllib.request.Request(
        server.url + "/api/auth/login",
        data=json.dumps({"username": name, "password": password}).encode(),
        headers={"Content-Type": "application/json", "Origin": server.url},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        cookie = response.headers["Set-Cookie"]
    return cookie.split(f"{COOKIE_NAME}=", 1)[1].split(";", 1)[0]
