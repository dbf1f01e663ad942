"""``python -m backend.build``: a self-contained folder with relative URLs only."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import zipfile
from pathlib import Path

import pytest

from backend.build import MARKER, BuildError, build, mark_preview
from tests.support import PYTHON, ROOT

URL_ATTRIBUTE = re.compile(r'\b(?:src|href)="([^"]*)"')


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("build") / "dist"
    build(out, preview=False)
    return out


def test_the_build_holds_the_page_the_app_the_runtime_and_the_wheels(dist):
    for name in ("index.html", "pyscript.json", "pyscript.toml", "static/app.css"):
        assert (dist / name).is_file(), name
    sources = {p.relative_to(ROOT) for p in (ROOT / "app").rglob("*.py")}
    assert {p.relative_to(dist) for p in (dist / "app").rglob("*.py")} == sources
    assert not list(dist.rglob("__pycache__"))
    runtime = dist / "vendor" / "pyodide" / "314.0.7"
    assert (runtime / "pyodide.asm.wasm").is_file()
    assert (runtime / "pyodide.asm.wasm.br").is_file()  # the precompressed variants come along
    assert (runtime / "pyodide.asm.wasm.gz").is_file()
    for made in ("stdlib.zip", "stdlib.zip.br", "snapshot.gz", "snapshot.gz.br", "runtime.json"):
        assert (runtime / "app" / made).is_file(), made
    assert not (runtime / "python_stdlib.zip").exists()  # the page mounts app/stdlib.zip
    assert sorted(p.name for p in (dist / "wheels" / "files").glob("*.whl")) == sorted(
        p.name for p in (ROOT / "wheels" / "files").glob("*.whl")
    )


def test_every_url_in_the_page_is_relative(dist):
    html = (dist / "index.html").read_text()
    urls = URL_ATTRIBUTE.findall(html)
    assert len(urls) >= 10
    for url in urls:
        assert not url.startswith(("/", "http:", "https:", "//")), url
        if not url.startswith(("#", "data:")):
            assert (dist / url).is_file(), url
    config = json.loads((dist / "pyscript.json").read_text())
    assert not config["interpreter"].startswith(("/", "http"))
    assert all(not key.startswith("/") and (dist / key).is_file() for key in config["files"])


def test_the_static_wheel_index_links_to_the_files_with_their_hashes(dist):
    page = (dist / "wheels" / "simple" / "markdown-it-py" / "index.html").read_text()
    href = re.search(r'href="([^"#]+)#sha256=([0-9a-f]{64})"', page)
    assert href is not None
    wheel = (dist / "wheels" / "simple" / "markdown-it-py" / href.group(1)).resolve()
    assert wheel.is_file() and zipfile.is_zipfile(wheel)
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == href.group(2)


def test_a_plain_build_is_not_a_preview_and_a_preview_build_says_so(dist, tmp_path):
    assert "data-preview" not in (dist / "index.html").read_text()
    preview = build(tmp_path / "preview", preview=True)
    assert '<html lang="en" data-preview="default">' in (preview.out / "index.html").read_text()
    assert preview.files > 50


def test_mark_preview_touches_only_the_html_tag():
    assert mark_preview("<!doctype html>\n<html>\n<head>") == (
        '<!doctype html>\n<html data-preview="default">\n<head>'
    )
    with pytest.raises(BuildError):
        mark_preview("<head></head>")


def test_a_rebuild_replaces_a_build_but_never_another_folder(tmp_path):
    out = tmp_path / "dist"
    build(out)
    (out / "stale.txt").write_text("from an older build")
    build(out)
    assert not (out / "stale.txt").exists() and (out / MARKER).is_file()
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "notes.txt").write_text("mine")
    with pytest.raises(BuildError, match="not a previous build"):
        build(precious)
    assert (precious / "notes.txt").read_text() == "mine"
    with pytest.raises(BuildError, match="contains the sources"):
        build(ROOT)


def test_the_command_line(tmp_path):
    result = subprocess.run(
        [PYTHON, "-m", "backend.build", "--out", str(tmp_path / "d"), "--preview"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "preview by default" in result.stdout and "http.server" in result.stdout
    failed = subprocess.run(
        [PYTHON, "-m", "backend.build", "--out", str(ROOT / "app")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert failed.returncode == 1 and "build failed" in failed.stderr
    assert (ROOT / "app" / "main.py").is_file()
