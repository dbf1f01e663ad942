"""Serving the page, the app's Python files and the self-hosted runtime.

* ``/vendor/...`` (versioned runtime): ``Cache-Control: public, max-age=31536000, immutable``;
  the brotli or gzip variant made at set-up is sent when the browser accepts it.
* The page (``/``) and ``pyscript.json`` are served rendered (:mod:`backend.release`): the
  app's own URLs in them carry ``?v=<release>``; both are ``no-cache`` with an ETag.
* The app's own files (``/app/*.py``, ``/static/*``, ``vendor/pyodide/<version>/app/``, which
  set-up makes from the app under a fixed name): ``immutable`` when asked for with the current
  release, ``no-cache`` with an ETag otherwise (a reload revalidates with one cheap 304).
* The page's inline ``<style>`` is allowed by its hash in the page's own CSP header, computed
  from the file as served (so an edited page never meets a stale hash).
* Types are set explicitly (``.wasm`` → ``application/wasm``, ``.mjs`` → ``text/javascript``),
  never guessed from the platform's MIME table.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import time
from pathlib import Path

import brotli
from aiohttp import web

from backend import release
from backend.middleware import content_security_policy

MIME_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".json": "application/json",
    ".zip": "application/zip",
    ".gz": "application/gzip",
    ".py": "text/x-python; charset=utf-8",
    ".toml": "application/toml; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
APP_MADE = "app"  # vendor/pyodide/<version>/app/: rewritten whenever the app's imports change
INLINE_STYLE = re.compile(rb"<style>(.*?)</style>", re.DOTALL)


def inline_style_hashes(page: bytes) -> tuple[str, ...]:
    """CSP source expressions (``sha256-…``) for each ``<style>`` block of ``page``."""
    return tuple(
        "sha256-" + base64.b64encode(hashlib.sha256(block).digest()).decode()
        for block in INLINE_STYLE.findall(page)
    )


def app_made(tail: str) -> bool:
    """Is ``vendor/<tail>`` made from the app at set-up (not a file of a pinned package)?"""
    parts = tail.split("/")
    return len(parts) >= 2 and parts[-2] == APP_MADE


class Release:
    """The current release of ``root``: recomputed when a file's size or time changes (looked
    at most once a second), so an edit shows on the next load without a restart."""

    LOOK_EVERY_S = 1.0

    def __init__(self, root: Path) -> None:
        self.root = root
        self._seen: tuple | None = None
        self._release = ""
        self._looked = -self.LOOK_EVERY_S

    def current(self) -> str:
        now = time.monotonic()
        if now - self._looked < self.LOOK_EVERY_S:
            return self._release
        self._looked = now
        seen = tuple(
            (str(path), stat.st_size, stat.st_mtime_ns)
            for path in sorted(
                [
                    *(self.root / "static").rglob("*"),
                    *(self.root / "app").rglob("*.py"),
                    self.root / "pyscript.json",
                    *(self.root / "vendor" / "pyodide").glob("*/app/runtime.json"),
                ]
            )
            if path.is_file() and (stat := path.stat())
        )
        if seen != self._seen:
            self._seen, self._release = seen, release.release_of(self.root)
        return self._release


@functools.lru_cache(maxsize=16)
def _brotli(body: bytes) -> bytes:
    return brotli.compress(body, quality=11)


def rendered_response(
    request: web.Request, body: bytes, content_type: str, cache_control: str = REVALIDATE
) -> web.Response:
    """A generated body with an ETag of its own, answered 304 when the client has it, and sent
    as brotli when accepted (the page is the first request of every visit: 9 KB become 3)."""
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"Cache-Control": cache_control, "ETag": etag, "Vary": "Accept-Encoding"}
    if etag in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    if "br" in request.headers.get("Accept-Encoding", ""):
        headers["Content-Encoding"] = "br"
        body = _brotli(body)
    response = web.Response(body=body, content_type=content_type, charset="utf-8", headers=headers)
    if "Content-Encoding" not in headers:
        response.enable_compression()
    return response


def safe_path(base: Path, tail: str) -> Path | None:
    """``base/tail`` if it is a regular, non-hidden file inside ``base``; else ``None``."""
    if not tail or "\\" in tail or "\x00" in tail:
        return None
    parts = tail.split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    path = (base / tail).resolve()
    try:
        path.relative_to(base.resolve())
    except ValueError:
        return None
    return path if path.is_file() else None


def file_response(path: Path, cache_control: str) -> web.FileResponse:
    content_type = MIME_TYPES.get(path.suffix, "application/octet-stream")
    headers = {"Content-Type": content_type, "Cache-Control": cache_control}
    if any(path.with_name(path.name + suffix).exists() for suffix in (".br", ".gz")):
        headers["Vary"] = "Accept-Encoding"  # also when this client gets the plain file
    return web.FileResponse(path, headers=headers)


def add_routes(app: web.Application, root: Path) -> None:
    current = Release(root)

    def folder(prefix: str, base: Path, suffixes: frozenset[str] | None) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            tail = request.match_info["tail"]
            path = safe_path(base, tail)
            if path is None or (suffixes is not None and path.suffix not in suffixes):
                raise web.HTTPNotFound()
            if prefix == "vendor" and not app_made(tail):
                return file_response(path, IMMUTABLE)
            fresh = request.query.get(release.QUERY) == current.current()
            return file_response(path, IMMUTABLE if fresh else REVALIDATE)

        app.router.add_get(f"/{prefix}/{{tail:.+}}", handler)

    def single(route: str, path: Path) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return file_response(path, REVALIDATE)

        app.router.add_get(route, handler)

    async def page(request: web.Request) -> web.StreamResponse:
        html = (root / "index.html").read_text(encoding="utf-8")
        body = release.render_page(html, current.current()).encode()
        response = rendered_response(request, body, "text/html")
        response.headers["Content-Security-Policy"] = content_security_policy(
            inline_style_hashes(body)
        )
        return response

    async def config(request: web.Request) -> web.StreamResponse:
        text = (root / "pyscript.json").read_text(encoding="utf-8")
        now = current.current()
        body = release.render_config(text, now).encode()
        fresh = request.query.get(release.QUERY) == now
        return rendered_response(
            request, body, "application/json", IMMUTABLE if fresh else REVALIDATE
        )

    app.router.add_get("/", page)
    app.router.add_get("/index.html", page)
    app.router.add_get("/pyscript.json", config)
    single("/pyscript.toml", root / "pyscript.toml")
    folder("app", root / "app", frozenset({".py"}))
    folder("static", root / "static", None)
    folder("vendor", root / "vendor", None)
