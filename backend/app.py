"""The app factory: everything the server does, assembled from one :class:`Settings`.

Tests build the app in-process with a fake clock and serve it on a real loopback socket;
``server.py`` builds the same app and runs it with :func:`run`.  The storage is whatever
``settings.storage_url`` names (see :mod:`backend.storage_url`).  The web stack
(aiohttp) stays behind these two functions, so it can change without touching callers.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from app.wire.urls import HEALTH_URL
from backend import auth, static, storage, websocket, wheels
from backend.agent import Agent, GuideAgent
from backend.config import Settings
from backend.errors import json_error
from backend.keys import HUB, SETTINGS, STORAGE
from backend.metrics import METRICS, Metrics
from backend.middleware import (
    SECURITY_HEADERS,
    access_log,
    add_security_headers,
    body_deadline,
    host_guard,
    log_and_map_errors,
    origin_guard,
    printable,
)
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
        middlewares=[
            log_and_map_errors,
            host_guard,
            origin_guard(settings.allowed_origins),
            body_deadline(settings.body_timeout),
        ],
        client_max_size=64 * 1024,
    )
    app[SETTINGS] = settings
    app[METRICS] = Metrics()  # served only by a listener of its own (backend.metrics.serve_on)
    app[STORAGE] = open_storage(settings.storage_url, settings)
    app[auth.CHECKER] = PasswordChecker(settings.max_concurrent_hashes, settings.max_waiting_hashes)
    app.on_response_prepare.append(add_security_headers)
    app.cleanup_ctx.append(_storage)
    app.cleanup_ctx.append(_purge_expired_sessions)
    app.router.add_get("/" + HEALTH_URL, health)
    auth.add_routes(app)
    websocket.setup(app, settings, agent or GuideAgent())
    static.add_routes(app, settings.root)
    wheels.add_routes(app, settings.root / "wheels" / "files")
    return app


class _Protocol(RequestHandler):
    """aiohttp's HTTP/1 protocol, except for a request its parser refuses.

    aiohttp answers those with the parser's message and logs it with a traceback, and the
    message quotes the offending bytes: a too-long or malformed ``Cookie`` line puts the
    session token into the log and back into the 400 body.  Here the answer is a fixed JSON
    error and the log line names only the error's class.
    """

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if not isinstance(exc, HttpProcessingError):  # our code failed: aiohttp's own answer
            return super().handle_error(request, status, exc, message)
        access_log.info(
            "%s - - %d unparsable request (%s)",
            printable(request.remote),
            status,
            type(exc).__name__,
        )
        if request.writer.output_size > 0:
            raise ConnectionError("a response was started; the error cannot be sent")
        response = json_error(
            status, "bad_request", "The request could not be parsed.", headers=SECURITY_HEADERS
        )
        response.force_close()
        return response


class _Server(web.Server):
    """aiohttp's connection factory, making :class:`_Protocol` (aiohttp has no option for it)."""

    def __call__(self) -> RequestHandler:
        return _Protocol(self, loop=self._loop, **self._kwargs)


class _Runner(web.AppRunner):
    """aiohttp's runner (start-up, shutdown, cleanup of the app), serving with :class:`_Server`."""

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()  # aiohttp's, with every option it was given
        return _Server(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            **made._kwargs,
        )


def run(
    app: web.Application, sock: socket.socket, *, backlog: int, shutdown_timeout: float
) -> None:
    """Serve ``app`` on the listening ``sock`` until SIGINT or SIGTERM, then shut down cleanly.

    What ``web.run_app`` does, with two differences: connections get :class:`_Protocol`, and
    the socket keeps ``backlog``: asyncio calls ``listen()`` again on a socket it is given,
    with aiohttp's default of 128 unless told otherwise.
    """

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        # No aiohttp access log (ours leaves query strings out); run_app's keep-alive of 75 s.
        runner = _Runner(
            app, access_log=None, keepalive_timeout=75.0, shutdown_timeout=shutdown_timeout
        )
        await runner.setup()
        try:
            await web.SockSite(runner, sock, backlog=backlog).start()
            await stop.wait()
        finally:
            await runner.cleanup()  # sockets close with 1012, then the storage

    asyncio.run(serve())
