"""A package index for the browser, on our own origin.

The set-up command downloads exact, hash-checked pure-Python wheels into ``wheels/files/``
(``browser-wheels.txt``); this serves them so that micropip in the page can install them with
``index_urls`` pointing here, and nothing is ever fetched from another origin:

* ``/wheels/simple/<project>/``: the project's files, in the PEP 691 JSON form (what micropip
  asks for first) or the PEP 503 HTML form, each with its sha256 for micropip to verify;
* ``/wheels/files/<wheel>``: the wheel itself, immutable.

Project names are matched after PEP 503 normalisation (``Markdown_It.py`` is ``markdown-it-py``).
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import zipfile
from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

from aiohttp import web

from backend.errors import json_error
from backend.middleware import public_origin
from backend.static import IMMUTABLE

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Wheel:
    filename: str
    project: str  # normalised
    version: str
    sha256: str
    requires_python: str | None


def read_wheel(path: Path) -> Wheel:
    name, version = path.name.split("-")[:2]
    requires_python = None
    with zipfile.ZipFile(path) as archive:
        metadata = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        headers = HeaderParser().parsestr(archive.read(metadata).decode("utf-8"))
        requires_python = headers.get("Requires-Python")
    return Wheel(
        filename=path.name,
        project=normalize(name),
        version=version,
        sha256=hashlib.sha256(path.read_bytes()).hexdigest(),
        requires_python=requires_python,
    )


class WheelIndex:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        wheels = [read_wheel(p) for p in sorted(folder.glob("*.whl"))] if folder.is_dir() else []
        self.projects: dict[str, list[Wheel]] = {}
        for wheel in wheels:
            self.projects.setdefault(wheel.project, []).append(wheel)
        self.files = {w.filename: w for w in wheels}

    def project_json(self, project: str, files_url: str) -> dict:
        wheels = self.projects[project]
        return {
            "meta": {"api-version": "1.1"},
            "name": project,
            "versions": sorted({w.version for w in wheels}),
            "files": [
                {
                    "filename": w.filename,
                    "url": f"{files_url}{w.filename}",
                    "hashes": {"sha256": w.sha256},
                    **({"requires-python": w.requires_python} if w.requires_python else {}),
                }
                for w in wheels
            ],
        }

    def project_html(self, project: str, files_url: str) -> str:
        links = "\n".join(
            f'<a href="{html.escape(files_url + w.filename)}#sha256={w.sha256}"'
            + (
                f' data-requires-python="{html.escape(w.requires_python)}"'
                if w.requires_python
                else ""
            )
            + f">{html.escape(w.filename)}</a><br>"
            for w in self.projects[project]
        )
        return (
            '<!doctype html>\n<html><head><meta name="pypi:repository-version" content="1.1">'
            f"<title>Links for {html.escape(project)}</title></head><body>\n{links}\n</body></html>"
        )


INDEX = web.AppKey("wheel_index", WheelIndex)


def _wants_json(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return JSON_TYPE in accept or "application/json" in accept


async def project_page(request: web.Request) -> web.StreamResponse:
    index = request.app[INDEX]
    project = normalize(request.match_info["project"])
    if project not in index.projects:
        return json_error(404, "not_found", "No such project in this index.")
    headers = {"Cache-Control": "no-cache", "Vary": "Accept"}
    # Absolute file URLs: micropip resolves no relative URL in the JSON form (it downloads only
    # http(s) ones).  The origin is a configured one, never the Host header as sent.
    files_url = public_origin(request) + "/wheels/files/"
    if _wants_json(request):
        body = json.dumps(index.project_json(project, files_url))
        return web.Response(text=body, content_type=JSON_TYPE, headers=headers)
    return web.Response(
        text=index.project_html(project, files_url), content_type=HTML_TYPE, headers=headers
    )


async def root_page(request: web.Request) -> web.StreamResponse:
    index = request.app[INDEX]
    if _wants_json(request):
        body = {
            "meta": {"api-version": "1.1"},
            "projects": [{"name": name} for name in sorted(index.projects)],
        }
        return web.Response(text=json.dumps(body), content_type=JSON_TYPE)
    links = "\n".join(f'<a href="{p}/">{p}</a><br>' for p in sorted(index.projects))
    return web.Response(
        text=f"<!doctype html>\n<html><body>\n{links}\n</body></html>", content_type=HTML_TYPE
    )


async def wheel_file(request: web.Request) -> web.StreamResponse:
    index = request.app[INDEX]
    wheel = index.files.get(request.match_info["filename"])
    if wheel is None:
        return json_error(404, "not_found", "No such file in this index.")
    return web.FileResponse(
        index.folder / wheel.filename,
        headers={"Content-Type": "application/zip", "Cache-Control": IMMUTABLE},
    )


def add_routes(app: web.Application, folder: Path) -> None:
    app[INDEX] = WheelIndex(folder)
    app.router.add_get("/wheels/simple/", root_page)
    app.router.add_get("/wheels/simple/{project}/", project_page)
    app.router.add_get("/wheels/files/{filename}", wheel_file)
