"""Serving the page, the app's Python files and the self-hosted runtime.

* ``/vendor/...`` (versioned runtime): ``Cache-Control: public, max-age=31536000, immutable``;
  the brotli or gzip variant made at set-up is sent when the browser accepts it.
* Everything else (``/``, ``/pyscript.toml``, ``/app/*.py``, ``/static/*``): ``no-cache`` with
  an ETag, so a reload revalidates with one cheap 304.
* Types are set explicitly (``.wasm`` → ``application/wasm``, ``.mjs`` → ``text/javascript``),
  never guessed from the platform's MIME table.
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

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
    if cache_control == IMMUTABLE:
        headers["Vary"] = "Accept-Encoding"
    return web.FileResponse(path, headers=headers)


def add_routes(app: web.Application, root: Path) -> None:
    def folder(prefix: str, base: Path, cache_control: str, suffixes: frozenset[str] | None):
        async def handler(request: web.Request) -> web.StreamResponse:
            path = safe_path(base, request.match_info["tail"])
            if path is None or (suffixes is not None and path.suffix not in suffixes):
                raise web.HTTPNotFound()
            return file_response(path, cache_control)

        app.router.add_get(f"/{prefix}/{{tail:.+}}", handler)

    def single(route: str, path: Path) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return file_response(path, REVALIDATE)

        app.router.add_get(route, handler)

    single("/", root / "index.html")
    single("/index.html", root / "index.html")
    single("/pyscript.toml", root / "pyscript.toml")
    single("/pyscript.json", root / "pyscript.json")
    folder("app", root / "app", REVALIDATE, frozenset({".py"}))
    folder("static", root / "static", REVALIDATE, None)
    folder("vendor", root / "vendor", IMMUTABLE, None)
