"""The app factory: everything the server does, assembled from one :class:`Settings`.

Tests build the app in-process with a fake clock and serve it on a real loopback socket;
``server.py`` builds the same app and runs it.  The storage is whatever
``settings.storage_url`` names (see :mod:`backend.storage_url`).  The web stack
(aiohttp) stays behind this function, so it can change without touching callers.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web

from app.wire.urls import HEALTH_URL
from backend import auth, static, storage, websocket, wheels
from backend.agent import Agent, GuideAgent
from backend.config import Settings
from backend.keys import HUB, SETTINGS, STORAGE
from backend.metrics import METRICS, Metrics
from backend.middleware import add_security_headers, log_and_map_errors, origin_guard
from backend.passwords import PasswordChecker
from backend.storage_url import open_storage

PURGE_EVERY = 300.0


async def health(request: web.Request) -> web.Response:
    """200 while the process serves (a proxy keeps routing the page and the static files to
    it); ``storage`` says whether sign-in and sockets work right now."""
    app = request.app
    body = {
        "status": "ok",
        "storage": "ok" if await app[STORAGE].health() else "unavailable",
        "sockets": app[HUB].count(),
    }
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def _purge_expired_sessions(app: web.Application):
    async def loop() -> None:
        while True:
            await asyncio.sleep(PURGE_EVERY)
            with contextlib.suppress(storage.StorageUnavailable):
                await app[STORAGE].sessions.purge_expired()

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _storage(app: web.Application):
    """The persistence's background work runs while the app serves; its resources are freed
    after everything else has stopped (this context is entered first, left last)."""
    await app[STORAGE].start()
    yield
    await app[STORAGE].close()


def create_app(settings: Settings, agent: Agent | None = None) -> web.Application:
    app = web.Application(
        middlewares=[log_and_map_errors, origin_guard(settings.allowed_origins)],
        client_max_size=64 * 1024,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()  # served only by a listener of its own (backend.metrics.serve_on)
    app[STORAGE] = open_storage(settings.storage_url, settings)
    app[auth.CHECKER] = PasswordChecker(settings.max_concurrent_hashes, settings.max_waiting_hashes)
    app[auth.SECURE] = settings.secure_cookies
    app.on_response_prepare.append(add_security_headers)
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_purge_expired_sessions)
    app.router.add_get("/" + HEALTH_URL, health)
    auth.add_routes(app)
    websocket.setup(app, settings, agent or GuideAgent())
    static.add_routes(app, settings.root)
    wheels.add_routes(app, settings.root / "wheels" / "files")
    return app
