"""Cross-cutting HTTP behaviour: request log, error mapping, Host and origin checks, body
deadline, security headers.

* One log line per request: address, method, path (never the query string), status, time.
  No header, cookie or body is ever logged, and every field a client chose is written through
  :func:`printable`, so a ``%0a`` in a path cannot forge a second line.
* A Host header that does not name a host (``evil.example:80/x?``) is a 400 before anything
  builds a URL from it.
* Any exception becomes a JSON error: aiohttp's HTTP errors keep their status, an unreachable
  storage is a 503 with ``Retry-After``, anything else is a 500 with no traceback in the
  response (the traceback goes to the server log).
* State-changing requests whose ``Origin`` (or ``Sec-Fetch-Site``) says another site sent them
  are refused with 403 before any handler runs.
* Every request's body is read here, before any handler, within ``Settings.body_timeout``:
  a client that announces a body and never sends it gets 408 and a closed connection.
* Security headers are added to every response, including errors and files;
  ``Strict-Transport-Security`` whenever the app is served over https (:func:`served_over_https`).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from backend.errors import json_error
from backend.keys import SETTINGS
from backend.storage import StorageUnavailable

access_log = logging.getLogger("pychat.access")
error_log = logging.getLogger("pychat.error")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


# PyScript builds functions from strings (Function(...) in its core and stdlib), so it needs
# 'unsafe-eval' on top of the 'wasm-unsafe-eval' that Pyodide needs.  Styles may come inline
# only by hash (the page's first-paint block, see backend/static.py).  No form submits natively.
def content_security_policy(style_hashes: tuple[str, ...] = ()) -> str:
    styles = " ".join(["'self'", *(f"'{digest}'" for digest in style_hashes)])
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'wasm-unsafe-eval' 'unsafe-eval'",
            f"style-src {styles}",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


CONTENT_SECURITY_POLICY = content_security_policy()

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


# A year, the usual floor for HSTS; no includeSubDomains: other hosts under the same name are
# not ours to promise https for.
STRICT_TRANSPORT_SECURITY = "max-age=31536000"


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if served_over_https(request):
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)


# C0 and C1 controls, DEL, lone surrogates (they would break the log's UTF-8), the Unicode line
# and paragraph separators and the bidi overrides (they make a line read as something else).
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object) -> str:
    r"""``text`` fit for one log line: each control character is written as an escape.

    >>> print(printable("/a\nforged 200"))
    /a\x0aforged 200
    """
    return _UNPRINTABLE.sub(_escape, str(text))


def served_over_https(request: web.Request) -> bool:
    """Is the page served over https?  Said by the operator (``--secure-cookies``), by TLS on
    this connection, or by a trusted proxy's ``X-Forwarded-Proto`` (its last value is what that
    proxy saw; earlier ones are the client's own claims)."""
    settings = request.app[SETTINGS]
    if settings.secure_cookies or request.secure:
        return True
    if (request.remote or "") not in settings.trusted_proxies:
        return False
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")
    return forwarded[-1].strip().lower() == "https"


def public_origin(request: web.Request) -> str:
    """The origin to put in an absolute URL for this request: the one the client reached if it
    is an origin we serve (``Settings.allowed_origins``), else ``Settings.public_origin``.  The
    Host header only ever picks from the configured list; it is never copied into a URL."""
    settings = request.app[SETTINGS]
    scheme = "https" if served_over_https(request) else "http"
    reached = f"{scheme}://{request.headers.get('Host', '')}"
    return reached if reached in settings.allowed_origins else settings.public_origin


def client_address(request: web.Request) -> str:
    """The client's address: the peer, or, when the peer is a trusted proxy, the last address
    in ``X-Forwarded-For`` that is not one (what the proxy saw; earlier entries are the
    client's own claims)."""
    remote = request.remote or "unknown"
    trusted = request.app[SETTINGS].trusted_proxies
    if remote not in trusted:
        return remote
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
    for address in reversed(forwarded):
        if address and address not in trusted:
            return address
    return remote


@web.middleware
async def log_and_map_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return json_error(exc.status, code, exc.reason, headers=_kept_headers(exc))
    except StorageUnavailable as exc:  # fail closed: nothing was half-done, try again later
        status = 503
        error_log.warning(
            "storage unavailable in %s %s: %s",
            printable(request.method),
            printable(request.path),
            printable(exc),
        )
        return json_error(
            503,
            "storage_unavailable",
            "The service is temporarily unavailable. Try again in a few seconds.",
            headers={"Retry-After": "2"},
        )
    except Exception:
        error_log.exception(
            "unhandled error in %s %s", printable(request.method), printable(request.path)
        )
        return json_error(500, "internal", "Something went wrong on the server.")
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        access_log.info(
            "%s %s %s %s %.1fms",
            printable(client_address(request)),
            printable(request.method),
            printable(request.path),
            status,
            elapsed_ms,
        )


def _kept_headers(exc: web.HTTPException) -> dict[str, str]:
    return {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}


def origin_guard(allowed_origins: frozenset[str]):
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("Origin")
            fetch_site = request.headers.get("Sec-Fetch-Site")
            if (origin is not None and origin not in allowed_origins) or fetch_site in (
                "cross-site",
                "same-site",
            ):
                return json_error(403, "forbidden_origin", "Requests from this origin are refused.")
        return await handler(request)

    return guard


# RFC 3986's host (an IP literal or a registered name) and an optional port: what a Host header
# may hold (RFC 9110 7.2).  Anything else is answered 400, as RFC 9112 3.2 asks.
_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=%-]+)(?::[0-9]{1,5})?")


@web.middleware
async def host_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A Host header that is not ``host[:port]`` is refused before anything (``request.url``,
    a redirect, an absolute URL) is built from it."""
    host = request.headers.get("Host")
    if host is not None:
        try:
            valid = _HOST.fullmatch(host) is not None and request.url.port is not None
        except ValueError:  # yarl's verdict, e.g. a port above 65535
            valid = False
        if not valid:
            return json_error(400, "bad_host", "The Host header does not name a host.")
    return await handler(request)


def body_deadline(seconds: float):
    """Read every request's whole body before its handler runs, within ``seconds``.

    A handler then never waits on a client: one that announces a body and stalls (20 sign-ins
    with ``Content-Length: 100`` and no body would otherwise hold 20 sockets for good) is
    answered 408 and its connection closed at once, without aiohttp's lingering read.  The body
    is bounded by the app's ``client_max_size`` (413 past it); handlers read it with
    ``await request.read()``, which returns what was read here.
    """

    @web.middleware
    async def read_body(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.can_read_body:
            try:
                async with asyncio.timeout(seconds):
                    await request.read()
            except TimeoutError:
                return await _answer_and_close(
                    request, 408, "request_timeout", "The request body did not arrive in time."
                )
            except (web.RequestPayloadError, HttpProcessingError):  # e.g. broken chunking
                return await _answer_and_close(
                    request, 400, "bad_request", "The request body could not be read."
                )
        return await handler(request)

    return read_body


async def _answer_and_close(
    request: web.Request, status: int, code: str, message: str
) -> web.StreamResponse:
    """Send the error now and close the connection: the rest of this body will not be read."""
    response = json_error(status, code, message)
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()  # type: ignore[attr-defined]  # aiohttp's RequestHandler
    return response
