"""Helpers shared by the server tests and the end-to-end tests (processes: tools/processes.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

from tools.processes import (
    PYTHON,
    ROOT,
    RedisProcess,
    ServerProcess,
    TraefikProcess,
    adduser,
    free_port,
)

__all__ = ["PYTHON", "ROOT", "RedisProcess", "ServerProcess", "TraefikProcess", "free_port"]

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
PASSWORD = "correct horse battery"


def add_user(db: Path, name: str, password: str) -> None:
    adduser(name, password, "--db", str(db))

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""
