"""A plain static file server (Python's own ``http.server``) in a child process, for a static
build: what a designer runs on a laptop, with no API behind it.

    with static_server(site) as origin:
        page.goto(f"{origin}/team/pychat/")

``static_server(site, label_gzip=True)`` (``python -m tools.static_site PORT --directory DIR``)
is the other kind of host: one that maps the ``.gz`` extension to ``Content-Encoding: gzip``
(Apache's ``AddEncoding``, several CDNs), so the browser inflates such a file on the way and
the page receives what was inside it.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tools.processes import ROOT


class GzipLabellingHandler(http.server.SimpleHTTPRequestHandler):
    """Sends a ``.gz`` file as it is, labelled as gzip-encoded content rather than a gzip file."""

    def guess_type(self, path) -> str:
        if str(path).endswith(".gz"):
            return "application/octet-stream"
        return super().guess_type(path)

    def end_headers(self) -> None:
        if self.path.split("?", 1)[0].endswith(".gz"):
            self.send_header("Content-Encoding", "gzip")
        super().end_headers()


@contextmanager
def static_server(directory: Path, label_gzip: bool = False) -> Iterator[str]:
    """Serve ``directory`` on a free loopback port; yields the origin (no trailing slash).
    ``label_gzip``: send ``.gz`` files with ``Content-Encoding: gzip`` (see the module's text)."""
    module = "tools.static_site" if label_gzip else "http.server"
    command = [sys.executable, "-u", "-m", module, "0", "--bind", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--directory", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        match = re.search(r"port (\d+)", line)
        if match is None:
            raise RuntimeError(f"http.server did not start: {line!r}")
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stdout:
            process.stdout.close()


def mount(build: Path, site: Path, sub_path: str) -> Path:
    """Make ``build`` appear at ``/<sub_path>/`` of ``site`` (a symlink), as on a shared host."""
    target = site / sub_path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.symlink_to(build.resolve(), target_is_directory=True)
    return target


def main() -> None:
    """``http.server``'s command line, serving with :class:`GzipLabellingHandler`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", type=int)
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--directory", required=True)
    args = parser.parse_args()
    handler = functools.partial(GzipLabellingHandler, directory=args.directory)
    http.server.test(  # prints "Serving HTTP on … port N", as the plain server does
        HandlerClass=handler,
        ServerClass=http.server.ThreadingHTTPServer,
        port=args.port,
        bind=args.bind,
    )


if __name__ == "__main__":
    main()
