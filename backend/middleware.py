"""Cross-cutting HTTP behaviour: request log, error mapping, origin check, security headers.

* One log line per request: address, method, path (never the query string), status, time.
  No header, cookie or body is ever logged.
* Any exception becomes a JSON error: aiohttp's HTTP errors keep their status, an unreachable
  storage is a 503 with ``Retry-After``, anything else is a 500 with no traceback in the
  response (the traceback goes to the server log).
* State-changing requests whose ``Origin`` (or ``Sec-Fetch-Site``) says another site sent them
  are refused with 403 before any handler runs.
* Security headers are added to every response, including errors and files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable

from aiohttp import web

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


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)


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
        error_log.warning("storage unavailable in %s %s: %s", request.method, request.path, exc)
        return json_error(
            503,
            "storage_unavailable",
            "The service is temporarily unavailable. Try again in a few seconds.",
            headers={"Retry-After": "2"},
        )
    except Exception:
        error_log.exception("unhandled error in %s %s", request.method, request.path)
        return json_error(500, "internal", "Something went wrong on the server.")
    finally:
        elapsed_ms = (time.perf_counter() - started) * 1000
        access_log.info(
            "%s %s %s %s %.1fms",
            client_address(request),
            request.method,
            request.path,
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
