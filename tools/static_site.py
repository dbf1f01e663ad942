"""A plain static file server (Python's own ``http.server``) in a child process, for a static
build: what a designer runs on a laptop, with no API behind it.

    with static_server(site) as origin:
        page.goto(f"{origin}/team/pychat/")
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def static_server(directory: Path) -> Iterator[str]:
    """Serve ``directory`` on a free loopback port; yields the origin (no trailing slash)."""
    command = [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1"]
    process = subprocess.Popen(
        [*command, "--directory", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
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
