"""Serving the page, the app's Python files and the self-hosted runtime.

* ``/vendor/...`` (versioned runtime): ``Cache-Control: public, max-age=31536000, immutable``;
  the brotli or gzip variant made at set-up is sent when the browser accepts it.
* Everything else (``/``, ``/pyscript.toml``, ``/app/*.py``, ``/static/*``): ``no-cache`` with
  an ETag, so a reload revalidates with one cheap 304.
* ``vendor/pyodide/<version>/app/`` (made from the app's code at set-up, under a fixed name):
  ``no-cache``, like the app's own files.
* The page's inline ``<style>`` is allowed by its hash in the page's own CSP header, computed
  from the file as served (so an edited page never meets a stale hash).
* Types are set explicitly (``.wasm`` → ``application/wasm``, ``.mjs`` → ``text/javascript``),
  never guessed from the platform's MIME table.
"""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

from aiohttp import web

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


def vendor_cache_control(tail: str) -> str:
    parts = tail.split("/")
    return REVALIDATE if len(parts) >= 2 and parts[-2] == APP_MADE else IMMUTABLE


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
    def folder(prefix: str, base: Path, cache_control, suffixes: frozenset[str] | None):
        async def handler(request: web.Request) -> web.StreamResponse:
            tail = request.match_info["tail"]
            path = safe_path(base, tail)
            if path is None or (suffixes is not None and path.suffix not in suffixes):
                raise web.HTTPNotFound()
            return file_response(path, cache_control(tail))

        app.router.add_get(f"/{prefix}/{{tail:.+}}", handler)

    def single(route: str, path: Path) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return file_response(path, REVALIDATE)

        app.router.add_get(route, handler)

    def page(route: str, path: Path) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            response = file_response(path, REVALIDATE)
            policy = content_security_policy(inline_style_hashes(path.read_bytes()))
            response.headers["Content-Security-Policy"] = policy
            return response

        app.router.add_get(route, handler)

    page("/", root / "index.html")
    page("/index.html", root / "index.html")
    single("/pyscript.toml", root / "pyscript.toml")
    single("/pyscript.json", root / "pyscript.json")
    folder("app", root / "app", lambda _tail: REVALIDATE, frozenset({".py"}))
    folder("static", root / "static", lambda _tail: REVALIDATE, None)
    folder("vendor", root / "vendor", vendor_cache_control, None)
