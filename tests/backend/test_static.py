"""Static serving: MIME types, cache headers, precompressed variants, security headers."""

from __future__ import annotations

import pytest

PYODIDE = "/vendor/pyodide/314.0.7"
PYSCRIPT = "/vendor/pyscript/0.7.31"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html"),
        ("/pyscript.toml", "application/toml"),
        ("/app/main.py", "text/x-python"),
        ("/app/auth/store.py", "text/x-python"),
        ("/static/boot.js", "text/javascript"),
        ("/static/app.css", "text/css"),
        (f"{PYODIDE}/pyodide.mjs", "text/javascript"),
        (f"{PYODIDE}/pyodide.asm.mjs", "text/javascript"),
        (f"{PYODIDE}/pyodide.asm.wasm", "application/wasm"),
        (f"{PYODIDE}/python_stdlib.zip", "application/zip"),
        (f"{PYODIDE}/pyodide-lock.json", "application/json"),
        (f"{PYODIDE}/snapshot.gz", "application/gzip"),
        (f"{PYSCRIPT}/core.js", "text/javascript"),
        (f"{PYSCRIPT}/core.css", "text/css"),
    ],
)
async def test_content_types(server, path, content_type):
    response = await server.http.get(server.url + path)
    assert response.status == 200
    assert response.content_type == content_type


async def test_runtime_files_are_immutable(server):
    response = await server.http.get(server.url + f"{PYODIDE}/pyodide.mjs")
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "Accept-Encoding" in response.headers["Vary"]


@pytest.mark.parametrize("path", ["/", "/pyscript.toml", "/app/main.py", "/static/boot.js"])
async def test_app_files_revalidate_with_an_etag(server, path):
    response = await server.http.get(server.url + path)
    assert response.headers["Cache-Control"] == "no-cache"
    etag = response.headers["ETag"]
    again = await server.http.get(server.url + path, headers={"If-None-Match": etag})
    assert again.status == 304


@pytest.mark.parametrize(
    ("accept", "encoding"), [("br, gzip", "br"), ("gzip", "gzip"), ("identity", None)]
)
async def test_precompressed_wasm(server, accept, encoding):
    response = await server.http.get(
        server.url + f"{PYODIDE}/pyodide.asm.wasm",
        headers={"Accept-Encoding": accept},
        auto_decompress=False,
    )
    assert response.headers.get("Content-Encoding") == encoding
    assert response.content_type == "application/wasm"
    body = await response.read()
    if encoding is None:
        assert body[:4] == b"\0asm"
    else:
        assert len(body) < 4_000_000  # 9.6 MB raw


async def test_large_runtime_script_is_precompressed(server):
    response = await server.http.get(
        server.url + f"{PYODIDE}/pyodide.asm.mjs",
        headers={"Accept-Encoding": "br"},
        auto_decompress=False,
    )
    assert response.headers["Content-Encoding"] == "br"


@pytest.mark.parametrize(
    "path",
    [
        "/app/../server.py",
        "/app/%2e%2e/server.py",
        "/app/auth/../../backend/auth.py",
        "/vendor/.prepared",
        "/app/__pycache__/x.pyc",
        "/static/../pyproject.toml",
        "/app/auth",
        "/nope",
    ],
)
async def test_nothing_outside_the_public_folders(server, path):
    response = await server.http.get(server.url + path)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "path", ["/", "/api/health", "/api/auth/session", "/nope", f"{PYODIDE}/pyodide.mjs"]
)
async def test_security_headers_on_every_response(server, path):
    response = await server.http.get(server.url + path)
    csp = response.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self' 'wasm-unsafe-eval' 'unsafe-eval'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_health(server):
    response = await server.http.get(server.url + "/api/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "storage": "ok", "sockets": 0}
