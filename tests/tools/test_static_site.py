"""The two kinds of static host the page must start on: one sends a .gz file as a file, the
other labels it ``Content-Encoding: gzip`` so the client inflates it on the way."""

from __future__ import annotations

import gzip
import http.client
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tools.static_site import static_server

INSIDE = b"what the gzip file holds" * 100


def get(origin: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET, with the body exactly as sent (no client that inflates on its own)."""
    parts = urlsplit(origin)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "snapshot.gz").write_bytes(gzip.compress(INSIDE))
    (tmp_path / "index.html").write_text("<!doctype html><title>t</title>")
    return tmp_path


def test_a_plain_host_sends_the_gzip_file_as_a_file(site: Path) -> None:
    with static_server(site) as origin:
        status, headers, body = get(origin, "/app/snapshot.gz?v=1")
    assert status == 200 and "content-encoding" not in headers
    assert gzip.decompress(body) == INSIDE


def test_a_labelling_host_sends_it_as_gzip_encoded_content(site: Path) -> None:
    with static_server(site, label_gzip=True) as origin:
        status, headers, body = get(origin, "/app/snapshot.gz?v=1")
        page_status, page_headers, _ = get(origin, "/index.html")
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert headers["content-type"] == "application/octet-stream"
    assert gzip.decompress(body) == INSIDE  # the bytes on the wire are the file's
    assert page_status == 200 and "content-encoding" not in page_headers
    assert page_headers["content-type"].startswith("text/html")
