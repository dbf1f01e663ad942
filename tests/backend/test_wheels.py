"""The browser's package index: PEP 691 JSON and PEP 503 HTML, hashes, files."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re

import pytest

from backend.config import ROOT

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
WHEELS = sorted((ROOT / "wheels" / "files").glob("*.whl"))


def test_set_up_downloaded_the_pinned_wheels():
    names = {w.name.split("-")[0] for w in WHEELS}
    assert {"markdown_it_py", "mdurl", "micropip"} <= names


@pytest.mark.parametrize("name", ["markdown-it-py", "Markdown_It.py", "markdown_it_py"])
async def test_json_form_with_hashes_and_absolute_urls(server, name):
    response = await server.http.get(
        f"{server.url}/wheels/simple/{name}/", headers={"Accept": JSON_TYPE}
    )
    assert response.status == 200 and response.content_type == JSON_TYPE
    body = await response.json(content_type=None)
    assert body["name"] == "markdown-it-py" and body["versions"] == ["4.3.0"]
    [file] = body["files"]
    assert file["url"] == f"{server.url}/wheels/files/{file['filename']}"
    wheel = (ROOT / "wheels" / "files" / file["filename"]).read_bytes()
    assert file["hashes"] == {"sha256": hashlib.sha256(wheel).hexdigest()}
    assert file["requires-python"] == ">=3.10"


async def test_html_form(server):
    response = await server.http.get(f"{server.url}/wheels/simple/mdurl/")
    text = await response.text()
    assert response.content_type == "application/vnd.pypi.simple.v1+html"
    link = re.search(r'href="([^"]+)#sha256=([0-9a-f]{64})"', text)
    assert link and link.group(1).endswith("/wheels/files/mdurl-0.1.2-py3-none-any.whl")


async def test_project_list(server):
    response = await server.http.get(f"{server.url}/wheels/simple/", headers={"Accept": JSON_TYPE})
    names = {p["name"] for p in (await response.json(content_type=None))["projects"]}
    assert names == {"markdown-it-py", "mdurl", "micropip"}


async def test_wheel_files_are_immutable_zips(server):
    name = next(w.name for w in WHEELS if w.name.startswith("mdurl"))
    response = await server.http.get(f"{server.url}/wheels/files/{name}")
    assert response.status == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert (await response.read())[:2] == b"PK"


@pytest.mark.parametrize(
    "path",
    ["/wheels/simple/requests/", "/wheels/files/evil.whl", "/wheels/files/..%2Fpyproject.toml"],
)
async def test_unknown_projects_and_files_are_404(server, path):
    assert (await server.http.get(server.url + path)).status == 404


async def get_with_host(server, path: str, host: str) -> tuple[int, bytes]:
    """GET ``path`` with this exact Host header (a client library would normalise it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.server.port)
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: {JSON_TYPE}\r\n"
    writer.write((request + "Connection: close\r\n\r\n").encode())
    try:
        response = await asyncio.wait_for(reader.read(), 30)
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


@pytest.mark.parametrize("host", ["evil.example:80/x?", "evil.example:99999", "a b", "x/y"])
async def test_a_host_header_that_is_no_host_is_a_json_400(server, host):
    status, body = await get_with_host(server, "/wheels/simple/mdurl/", host)
    assert status == 400
    assert json.loads(body)["error"]["code"] == "bad_host"


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "[::1]:1"])
async def test_file_urls_name_our_origin_whatever_the_host_header_says(server, host):
    status, body = await get_with_host(server, "/wheels/simple/mdurl/", host)
    assert status == 200
    [file] = json.loads(body)["files"]
    assert file["url"] == f"{server.url}/wheels/files/{file['filename']}"


async def test_file_urls_follow_an_allowed_origin_the_client_reached(server):
    host = f"localhost:{server.server.port}"  # served too (loopback names), so kept
    status, body = await get_with_host(server, "/wheels/simple/mdurl/", host)
    assert status == 200
    [file] = json.loads(body)["files"]
    assert file["url"].startswith(f"http://{host}/wheels/files/")


@pytest.mark.parametrize(
    "settings_overrides", [{"extra_origins": ("https://chat.example", "https://other.example")}]
)
async def test_file_urls_behind_a_proxy_name_its_public_origin(server):
    status, body = await get_with_host(server, "/wheels/simple/mdurl/", "evil.example")
    assert status == 200
    [file] = json.loads(body)["files"]
    assert file["url"].startswith("https://chat.example/wheels/files/")
