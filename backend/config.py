"""Server settings: one frozen value built by the command line (or by tests).

Every knob that tests need to turn (the clock, the expiry times, the throttling limits) lives
here, so the app factory needs nothing but a :class:`Settings`.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from app.wire.limits import (
    ABSOLUTE_TIMEOUT,
    IDLE_TIMEOUT,
    RUN_LIMIT,
    RUNS_PER_SERVER,
    RUNS_PER_USER,
)

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    # Where everything is kept: sqlite:///PATH (embedded) or redis://HOST:PORT/DB (shared by
    # several replicas); see backend.storage_url.
    storage_url: str = f"sqlite:///{ROOT / 'data' / 'pychat.db'}"
    root: Path = ROOT  # where index.html, app/, static/ and vendor/ live
    # Sessions: sliding idle expiry and a hard absolute expiry, in seconds.
    idle_timeout: float = IDLE_TIMEOUT
    absolute_timeout: float = ABSOLUTE_TIMEOUT
    secure_cookies: bool = False  # also on automatically for https requests
    extra_origins: tuple[str, ...] = ()
    # Login throttling.
    account_failures: int = 5  # failures per account within account_window → 429
    account_window: float = 15 * 60
    address_attempts: int = 30  # attempts per client address within address_window → 429
    address_window: float = 5 * 60
    max_concurrent_hashes: int = 2  # argon2id at 19 MiB each; 2 cores
    max_waiting_hashes: int = 32  # beyond this, 503 + Retry-After instead of queueing
    # The chat socket.
    ws_heartbeat: float = 20.0  # protocol ping interval; a peer silent for 1.5x this is dropped
    ws_rate_per_minute: float = 100.0
    ws_burst: int = 20
    ws_rate_strikes: int = 10  # rate-limited frames within 10 s before closing with 4429
    # Admission control: socket handshakes this process completes per second (burst 10).
    # Beyond it, HTTP 503 before the upgrade; clients back off with jitter, so a reconnect
    # storm after a restart or crash is spread over seconds instead of landing in one.
    ws_handshakes_per_second: float = 170.0
    # Agent runs (backend.runs): concurrent per user (more wait their turn) and per server
    # process, and the longest a run may take.
    agent_runs_per_user: int = RUNS_PER_USER
    agent_runs_per_server: int = RUNS_PER_SERVER
    agent_run_limit: float = RUN_LIMIT
    # Proxies whose X-Forwarded-For names the real client (throttling is per client address)
    # and whose X-Forwarded-Proto says whether the page is served over https.
    trusted_proxies: frozenset[str] = frozenset()
    # The longest a request's body may take to arrive once its headers have (408 after that).
    body_timeout: float = 10.0
    clock: Callable[[], float] = field(default=time.time, compare=False)

    @property
    def allowed_origins(self) -> frozenset[str]:
        """Origins whose pages may call state-changing endpoints (and, later, the socket)."""
        return frozenset(self.default_origins() + list(self.extra_origins))

    @property
    def public_origin(self) -> str:
        """The origin absolute URLs name when the request did not reach one of
        :attr:`allowed_origins`: the first configured extra origin (a proxy's public address,
        ``--allowed-origin``), else the address the server listens on."""
        if self.extra_origins:
            return self.extra_origins[0]
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(self.host, self.host)
        shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
        scheme = "https" if self.secure_cookies else "http"
        return f"{scheme}://{shown}:{self.port}"

    def default_origins(self) -> list[str]:
        """The origins the server itself is reached at: its own address, plus the loopback
        names when it listens on loopback or on every interface."""
        hosts = {self.host}
        try:
            address = ipaddress.ip_address(self.host)
        except ValueError:
            address = None
        if self.host == "localhost" or (
            address is not None and (address.is_loopback or address.is_unspecified)
        ):
            hosts |= {"127.0.0.1", "localhost", "[::1]"}
        hosts.discard("0.0.0.0")
        hosts.discard("::")
        origins = []
        for host in sorted(hosts):
            shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
            origins.append(f"http://{shown}:{self.port}")
            origins.append(f"https://{shown}:{self.port}")
        return origins
