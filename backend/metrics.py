"""What an operator watches: Prometheus metrics of one server process (``prometheus-client``).

The metrics show the failure this app was built against (a page that opened sockets before it
was signed in, retried forever, one socket per component): sockets open now, handshakes by
outcome (a storm of ``unauthorized`` is that failure), closes by code, chat messages received
and acknowledged with the acknowledgement latency, sign-ins by outcome and session validations.

No label ever carries a user name, a token, an address or message text: labels take only the
fixed values below (close codes outside the known set are counted as ``other``).

They are served on their own listener (``server.py --metrics-port``), bound to loopback unless
``--metrics-host`` says otherwise, and never on the app's public port::

    >>> metrics = Metrics()
    >>> metrics.handshake(Handshake.ACCEPTED)
    >>> metrics.value("pychat_ws_handshakes_total", outcome="accepted")
    1.0

Each app has its own registry (tests build many apps in one process).
"""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from enum import StrEnum

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.aiohttp import make_aiohttp_handler

from app.wire import close_codes
from backend.storage import StorageUnavailable

METRICS_PATH = "/metrics"
# Acknowledgement latency (receive -> stored -> ack sent), in seconds: around the 1-3 ms of a
# healthy embedded server up to the second a struggling shared storage may take.
ACK_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
KNOWN_CODES = frozenset(
    value for name, value in vars(close_codes).items() if name.isupper() and isinstance(value, int)
)


class Handshake(StrEnum):
    """How one request to the socket endpoint ended (each is counted exactly once)."""

    ACCEPTED = "accepted"  # a new socket, nothing replaced
    REPLACED = "replaced"  # a new socket; the older one of its session or tab closed with 4409
    FORBIDDEN_ORIGIN = "forbidden_origin"  # HTTP 403 before the upgrade
    UNAUTHORIZED = "unauthorized"  # upgraded, then closed with 4401 (no valid session)
    SESSION_FULL = "session_full"  # upgraded, then closed with 4429 (per-tab sockets capped)
    BUSY = "busy"  # HTTP 503: handshake admission
    NOT_WEBSOCKET = "not_websocket"  # HTTP 400
    STORAGE_UNAVAILABLE = "storage_unavailable"  # closed with 1013 before it was registered


class SignIn(StrEnum):
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"  # 401: wrong name or password
    THROTTLED = "throttled"  # 429
    BAD_REQUEST = "bad_request"  # other 4xx: malformed input
    BUSY = "busy"  # 503: too many password checks waiting
    STORAGE_UNAVAILABLE = "storage_unavailable"


class Validation(StrEnum):
    VALID = "valid"
    INVALID = "invalid"  # 401: no session, expired or revoked
    STORAGE_UNAVAILABLE = "storage_unavailable"


def code_label(code: int | None) -> str:
    if code is None:
        return "none"
    return str(code) if code in KNOWN_CODES else "other"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.sockets_open = Gauge(
            "pychat_ws_sockets_open", "Chat sockets this process holds now.", registry=r
        )
        self.handshakes = Counter(
            "pychat_ws_handshakes",
            "Requests to the chat socket, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.closes = Counter(
            "pychat_ws_closes", "Chat sockets closed, by close code.", ["code"], registry=r
        )
        self.received = Counter(
            "pychat_ws_messages_received", "Chat messages received (not pings).", registry=r
        )
        self.acknowledged = Counter(
            "pychat_ws_messages_acknowledged",
            "Chat messages acknowledged; duplicate: the client id was stored already.",
            ["duplicate"],
            registry=r,
        )
        self.ack_latency = Histogram(
            "pychat_ws_ack_latency_seconds",
            "From a chat message's arrival to its acknowledgement being sent.",
            buckets=ACK_BUCKETS,
            registry=r,
        )
        self.sign_ins = Counter(
            "pychat_sign_ins", "POST /api/auth/login, by outcome.", ["outcome"], registry=r
        )
        self.validations = Counter(
            "pychat_session_validations",
            "GET /api/auth/session, by outcome.",
            ["outcome"],
            registry=r,
        )
        # Every fixed label value exists from the start, at zero, so a rate is never missing.
        for outcome in Handshake:
            self.handshakes.labels(outcome=outcome.value)
        for code in sorted(KNOWN_CODES):
            self.closes.labels(code=str(code))
        for duplicate in ("false", "true"):
            self.acknowledged.labels(duplicate=duplicate)
        for outcome in SignIn:
            self.sign_ins.labels(outcome=outcome.value)
        for outcome in Validation:
            self.validations.labels(outcome=outcome.value)

    # ------------------------------------------------------------ hooks

    def handshake(self, outcome: Handshake) -> None:
        self.handshakes.labels(outcome=outcome.value).inc()

    def closed(self, code: int | None) -> None:
        self.closes.labels(code=code_label(code)).inc()

    def message_received(self) -> float:
        """Count a chat message; returns the moment to pass to :meth:`acknowledged_since`."""
        self.received.inc()
        return time.perf_counter()

    def acknowledged_since(self, started: float, duplicate: bool) -> None:
        self.acknowledged.labels(duplicate="true" if duplicate else "false").inc()
        self.ack_latency.observe(time.perf_counter() - started)

    def counting(
        self,
        counter: Counter,
        outcomes: dict[int, str],
        other: str,
        unavailable: str,
    ) -> Callable[[Handler], Handler]:
        """Wrap an HTTP handler so each answer counts once, under the outcome of its status."""

        def wrap(handler: Handler) -> Handler:
            async def counted(request: web.Request) -> web.StreamResponse:
                try:
                    response = await handler(request)
                except StorageUnavailable:
                    counter.labels(outcome=unavailable).inc()
                    raise
                counter.labels(outcome=outcomes.get(response.status, other)).inc()
                return response

            return counted

        return wrap

    def value(self, name: str, **labels: str) -> float | None:
        """One sample's current value (tests and the doctest read metrics this way)."""
        return self.registry.get_sample_value(name, labels)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

METRICS = web.AppKey("metrics", Metrics)


def count_sign_ins(app: web.Application, handler: Handler) -> Handler:
    statuses = {
        200: SignIn.SUCCEEDED,
        401: SignIn.REJECTED,
        429: SignIn.THROTTLED,
        503: SignIn.BUSY,
    }
    return app[METRICS].counting(
        app[METRICS].sign_ins, statuses, SignIn.BAD_REQUEST, SignIn.STORAGE_UNAVAILABLE
    )(handler)


def count_validations(app: web.Application, handler: Handler) -> Handler:
    statuses = {200: Validation.VALID}
    return app[METRICS].counting(
        app[METRICS].validations, statuses, Validation.INVALID, Validation.STORAGE_UNAVAILABLE
    )(handler)


def exposition_app(metrics: Metrics) -> web.Application:
    """The metrics listener's whole app: ``GET /metrics`` and nothing else."""
    app = web.Application()
    app.router.add_get(METRICS_PATH, make_aiohttp_handler(metrics.registry))
    return app


def serve_on(app: web.Application, sock: socket.socket) -> None:
    """Serve ``app``'s metrics on ``sock`` (already bound) while ``app`` runs."""

    async def listener(app: web.Application) -> AsyncIterator[None]:
        runner = web.AppRunner(exposition_app(app[METRICS]), access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        yield
        with contextlib.suppress(Exception):
            await runner.cleanup()

    app.cleanup_ctx.append(listener)
