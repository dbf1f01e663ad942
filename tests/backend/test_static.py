"""Static serving: MIME types, cache headers, precompressed variants, security headers."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from backend.release import release_of
from backend.static import Release

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
        (f"{PYODIDE}/app/snapshot.gz", "application/gzip"),
        (f"{PYODIDE}/app/stdlib.zip", "application/zip"),
        (f"{PYODIDE}/app/runtime.json", "application/json"),
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


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/pyscript.json",
        "/pyscript.toml",
        "/app/main.py",
        "/static/boot.js",
        # Made from the app's code under a name that stays: never immutable.
        f"{PYODIDE}/app/stdlib.zip",
        f"{PYODIDE}/app/snapshot.gz",
        f"{PYODIDE}/app/runtime.json",
    ],
)
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


@pytest.mark.parametrize(
    ("path", "plain_magic"),
    [("app/stdlib.zip", b"PK\x03\x04"), ("app/snapshot.gz", b"\x1f\x8b")],
)
async def test_app_runtime_files_travel_as_brotli_of_their_uncompressed_form(
    server, path, plain_magic
):
    """The brotli sibling decodes to another valid form (the stored zip, the raw snapshot)
    that is far smaller on the wire than the file; a client without brotli gets the file."""
    url = f"{server.url}{PYODIDE}/{path}"
    plain = await server.http.get(url, headers={"Accept-Encoding": "identity"})
    body = await plain.read()
    assert body[:4].startswith(plain_magic)
    encoded = await server.http.get(url, headers={"Accept-Encoding": "br"}, auto_decompress=False)
    assert encoded.headers["Content-Encoding"] == "br"
    assert (
        "Accept-Encoding" in encoded.headers["Vary"] and "Accept-Encoding" in plain.headers["Vary"]
    )
    assert len(await encoded.read()) < 0.8 * len(body)


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
    assert directives["form-action"] == "'none'"
    assert "unsafe-inline" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


async def test_health(server):
    response = await server.http.get(server.url + "/api/health")
    assert response.status == 200
    assert await response.json() == {"status": "ok", "storage": "ok", "sockets": 0}


async def test_the_page_allows_exactly_its_own_inline_styles(server):
    """The first paint's styles are inline; the page's CSP names their hash and nothing else
    inline, and other responses allow no inline style at all."""
    page = await server.http.get(server.url + "/")
    html = await page.read()
    styles = re.findall(rb"<style>(.*?)</style>", html, re.DOTALL)
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0]).digest()).decode()
    directives = dict(
        d.strip().split(" ", 1) for d in page.headers["Content-Security-Policy"].split(";")
    )
    assert directives["style-src"] == f"'self' 'sha256-{digest}'"
    other = await server.http.get(server.url + "/static/boot.js")
    assert "sha256-" not in other.headers["Content-Security-Policy"]


async def test_the_page_names_the_app_s_files_with_its_release_and_those_are_kept(server):
    """A repeat visit asks for the page only: every app file it (and its config) names carries
    the release, and those answer immutable; the same path without it, or with another
    release, is revalidated as before."""
    page = await (await server.http.get(server.url + "/")).text()
    release = re.search(r'<html[^>]* data-release="([0-9a-f]{12})"', page).group(1)
    named = re.findall(r'(?:src|href|config)="([^"]+)"', page)
    for url in ("static/boot.js", "static/pyodide-early.mjs", "pyscript.json", "app/main.py",
                f"{PYODIDE[1:]}/app/runtime.json"):  # fmt: skip
        assert f"{url}?v={release}" in named, url
    # stdlib.zip is named by static/pyodide-early.mjs (a worker fetches it), with the release.
    early_url = f"{server.url}/static/pyodide-early.mjs?v={release}"
    early = await (await server.http.get(early_url)).text()
    assert "app/stdlib.zip${RELEASE}" in early
    assert f"{PYODIDE[1:]}/pyodide.asm.wasm" in named  # the pinned runtime keeps its own name
    config = await (await server.http.get(f"{server.url}/pyscript.json?v={release}")).json()
    assert config["interpreter"] == f"static/pyodide-early.mjs?v={release}"
    assert all(url.endswith(f"?v={release}") for url in config["files"])
    for path in (
        "/app/auth/store.py",
        "/static/boot.js",
        f"{PYODIDE}/app/snapshot.gz",
        f"{PYODIDE}/app/stdlib.zip",
        "/pyscript.json",
    ):
        kept = await server.http.get(f"{server.url}{path}?v={release}")
        assert kept.headers["Cache-Control"] == "public, max-age=31536000, immutable", path
        for stale in ("", "?v=000000000000"):
            again = await server.http.get(f"{server.url}{path}{stale}")
            assert again.headers["Cache-Control"] == "no-cache", (path, stale)


def test_the_release_follows_every_file_the_page_names(tmp_path):
    for name in ("static/boot.js", "app/x.py", "pyscript.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("one")
    watch = Release(tmp_path)
    watch.LOOK_EVERY_S = 0
    first = watch.current()
    assert first == release_of(tmp_path) and watch.current() == first
    for name in ("app/x.py", "static/boot.js", "pyscript.json"):
        (tmp_path / name).write_text(f"changed {name}")
        assert watch.current() != first, name
        first = watch.current()


@pytest.mark.parametrize(("accept", "encoding"), [("br, gzip", "br"), ("gzip", "gzip")])
async def test_the_page_travels_compressed(server, accept, encoding):
    plain = await (await server.http.get(server.url + "/")).read()
    response = await server.http.get(
        server.url + "/", headers={"Accept-Encoding": accept}, auto_decompress=False
    )
    assert response.headers["Content-Encoding"] == encoding
    assert len(await response.read()) < len(plain) / 2
