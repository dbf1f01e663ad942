"""Helpers shared by the server tests and the end-to-end tests: a real ``server.py`` process."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Headless as root, with nothing reaching out to other hosts (this machine has no internet).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
PASSWORD = "correct horse battery"
SERVING = re.compile(r"Serving PyChat on (http://\S+?)/ ")


def add_user(db: Path, name: str, password: str) -> None:
    subprocess.run(
        [PYTHON, "server.py", "adduser", name, "--password-stdin", "--db", str(db)],
        cwd=ROOT,
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
    )


class ServerProcess:
    """``python server.py`` on a free loopback port; ``url`` once it answers /api/health."""

    def __init__(self, db: Path, *extra: str, port: int = 0, wrapper: tuple[str, ...] = ()) -> None:
        self.db = db
        self.wrapper = wrapper  # e.g. ("taskset", "-c", "0") to pin the server to a core
        self.extra = extra
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""
        self.log_path = db.parent / f"server-{os.getpid()}-{time.monotonic_ns()}.log"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [
                *self.wrapper,
                PYTHON,
                "-u",
                "server.py",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--db",
                str(self.db),
                *self.extra,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in self.proc.stdout:
            match = SERVING.search(line)
            if match:
                self.url = match.group(1)
                self.port = int(self.url.rsplit(":", 1)[1])
                break
            if time.monotonic() > deadline:
                break
        if not self.url:
            self.stop()
            raise RuntimeError(f"server.py did not start: {self.log_path.read_text()}")
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/api/health", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("server.py never answered /api/health")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if getattr(self, "_log", None):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
