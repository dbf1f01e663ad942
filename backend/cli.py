"""The command line behind ``server.py``.

python server.py [--host H] [--port P] [--db PATH] [...]     serve the app
python server.py adduser NAME --password PW [--db PATH]        create a user
python server.py adduser NAME --password-stdin [--db PATH]     ... reading the password
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import secrets
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from app.wire.limits import (
    ABSOLUTE_TIMEOUT,
    AGENT_TIMEOUT,
    IDLE_TIMEOUT,
    MAX_RUN_BYTES,
    RUN_LIMIT,
    RUNS_PER_SERVER,
    RUNS_PER_USER,
)
from backend import metrics, runtime, storage
from backend.agent import AGENTS, Agent
from backend.app import create_app, run
from backend.config import ROOT, Settings
from backend.relay.client import AguiRelay, RelayConfig, check_url
from backend.relay.headers import ENVIRONMENT, HeaderRefused, parse_headers
from backend.storage_url import SQLITE, open_storage, sqlite_path
from backend.users import InvalidUser, Users

DEFAULT_DB = ROOT / "data" / "pychat.db"
LISTEN_BACKLOG = 2048  # aiohttp's default of 128 drops connections in a reconnect storm


def _positive(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be a positive number of seconds")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be a whole number of at least 1")
    return value


def _agent_url(text: str) -> str:
    """Checked here so a mistake is reported without echoing the address (it may hold a key)."""
    try:
        return check_url(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _header(text: str) -> str:
    """Checked here so a mistake is reported by name; argparse would echo the value."""
    try:
        parse_headers([text], None)
    except HeaderRefused as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="server.py",
        description="Serve the chat app. Subcommand: 'adduser NAME' creates a user.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port to listen on (0: any)")
    parser.add_argument("--db", type=Path, default=DEFAULT_DB, help="SQLite database file")
    parser.add_argument(
        "--root",
        type=Path,
        default=None,
        metavar="DIR",
        help="serve the page from a static build (python -m backend.build) instead of the sources",
    )
    add_storage_options(parser)
    parser.add_argument(
        "--trusted-proxy",
        action="append",
        default=[],
        metavar="ADDRESS",
        help="a reverse proxy whose X-Forwarded-For is believed (repeatable), e.g. 127.0.0.1",
    )
    parser.add_argument(
        "--allowed-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="another origin allowed to call the API (repeatable), e.g. https://chat.example.com",
    )
    parser.add_argument("--idle-timeout", type=_positive, default=IDLE_TIMEOUT, metavar="SECONDS")
    parser.add_argument(
        "--body-timeout",
        type=_positive,
        default=Settings.body_timeout,
        metavar="SECONDS",
        help="the longest a request body may take to arrive; 408 after that "
        f"(default {Settings.body_timeout:g})",
    )
    parser.add_argument(
        "--absolute-timeout", type=_positive, default=ABSOLUTE_TIMEOUT, metavar="SECONDS"
    )
    parser.add_argument(
        "--login-attempts-per-address",
        type=int,
        default=30,
        metavar="N",
        help="sign-in attempts one client address may make in 5 minutes (default 30)",
    )
    parser.add_argument(
        "--agent",
        choices=sorted(AGENTS),
        default=None,
        help="who answers chat messages (default: the built-in guide)",
    )
    agent = parser.add_argument_group("an AG-UI agent behind the chat (see README)")
    agent.add_argument(
        "--agent-url",
        type=_agent_url,
        metavar="URL",
        help="relay each chat turn to this AG-UI endpoint (POST RunAgentInput, event stream)",
    )
    agent.add_argument(
        "--agent-header",
        action="append",
        default=[],
        type=_header,
        metavar="'NAME: VALUE'",
        help=f"a header for the agent's requests (repeatable; never logged); {ENVIRONMENT} "
        "holds more, one per line, out of the process list",
    )
    agent.add_argument(
        "--agent-timeout",
        type=_positive,
        default=AGENT_TIMEOUT,
        metavar="SECONDS",
        help=f"the longest wait for the agent's first byte (default {AGENT_TIMEOUT:g})",
    )
    agent.add_argument(
        "--agent-run-limit",
        type=_positive,
        default=RUN_LIMIT,
        metavar="SECONDS",
        help=f"the longest one answer may take (default {RUN_LIMIT:g})",
    )
    agent.add_argument(
        "--agent-max-bytes",
        type=_count,
        default=MAX_RUN_BYTES,
        metavar="N",
        help=f"the most bytes one answer may have (default {MAX_RUN_BYTES})",
    )
    agent.add_argument(
        "--agent-runs-per-user",
        type=_count,
        default=RUNS_PER_USER,
        metavar="N",
        help=f"answers one user gets at once; further messages wait (default {RUNS_PER_USER})",
    )
    agent.add_argument(
        "--agent-runs-per-server",
        type=_count,
        default=RUNS_PER_SERVER,
        metavar="M",
        help=f"answers this process streams at once (default {RUNS_PER_SERVER})",
    )
    parser.add_argument(
        "--ws-messages-per-minute",
        type=float,
        default=100.0,
        metavar="N",
        help="chat frames one socket may send per minute, bursts of 20 (default 100)",
    )
    parser.add_argument(
        "--max-handshakes-per-second",
        type=float,
        default=170.0,
        metavar="N",
        help="socket handshakes completed per second before answering 503 (default 170)",
    )
    parser.add_argument(
        "--secure-cookies", action="store_true", help="mark cookies Secure (serving over https)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="create a 'demo' account with a random password if the database has no users",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="P",
        help="serve Prometheus metrics at /metrics on this port, a listener of their own "
        "(never on the app's port); off by default",
    )
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="H",
        help="address of the metrics listener (default 127.0.0.1: loopback only)",
    )
    return parser


def listen(host: str, port: int) -> socket.socket:
    return socket.create_server(
        (host, port),
        family=socket.AF_INET6 if ":" in host else socket.AF_INET,
        backlog=LISTEN_BACKLOG,
        reuse_port=False,
    )


def adduser_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="server.py adduser", description="Create a user.")
    parser.add_argument("name")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--password", help="the password (visible in the process list)")
    source.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    parser.add_argument("--db", type=Path, default=DEFAULT_DB)
    add_storage_options(parser)
    return parser


def add_storage_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage",
        metavar="URL",
        help="where everything is kept: sqlite:///PATH or redis://HOST:PORT/DB "
        "(the same as --db PATH or --redis-url URL)",
    )
    parser.add_argument(
        "--redis-url",
        metavar="URL",
        help="keep users, sessions and history in Redis (redis://…) so several replicas share "
        "them; without it, the embedded SQLite database --db",
    )


def storage_url(args: argparse.Namespace) -> str:
    return args.storage or args.redis_url or f"{SQLITE}{args.db}"


def open_users(url: str) -> tuple[Users, Callable[[], Awaitable[None]]]:
    """The user store the server would use with these options, and how to close it."""
    store = open_storage(url, Settings(storage_url=url))
    return store.users, store.close


def adduser(argv: list[str]) -> int:
    args = adduser_parser().parse_args(argv)
    password = sys.stdin.readline().rstrip("\r\n") if args.password_stdin else args.password

    async def add() -> int:
        users, close = open_users(storage_url(args))
        try:
            await users.add(args.name, password)
        except InvalidUser as exc:
            print(f"adduser: {exc}", file=sys.stderr)
            return 2
        except storage.StorageUnavailable as exc:
            print(f"adduser: the storage is unavailable ({exc})", file=sys.stderr)
            return 1
        finally:
            await close()
        print(f"created user {args.name!r} in {storage_url(args)}")
        return 0

    return asyncio.run(add())


def ensure_demo_account(db_path: Path) -> None:
    asyncio.run(_ensure_demo_account(db_path))


async def _ensure_demo_account(db_path: Path) -> None:
    users, close = open_users(f"{SQLITE}{db_path}")
    secret_file = db_path.parent / "demo-password.txt"
    if await users.count() == 0:
        password = secrets.token_urlsafe(9)
        await users.add("demo", password)
        secret_file.write_text(password + "\n")
        secret_file.chmod(0o600)
    demo = await users.by_name("demo")
    await close()
    if demo is not None and secret_file.exists():
        print(
            f"Sign in as 'demo' with the password {secret_file.read_text().strip()!r} "
            f"(kept in {secret_file})."
        )


def tune_garbage_collector() -> None:
    """Keep CPython's full collections out of the latency tail.

    With thousands of sockets the heap holds about a million tracked objects, and a full
    (generation 2) collection walks all of them: 100-400 ms with everything stopped, measured
    by bench/server_load.py as p99 acknowledgement spikes.  Objects alive at start-up are
    frozen (never scanned again), and the thresholds make collections rarer: generation 0 after
    50,000 net allocations instead of 700, a full collection after 20 generation-1 passes (and
    only when a quarter of the old objects are new, as CPython already requires).  Cyclic
    garbage from closed sockets is still collected, minutes apart instead of seconds.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def make_agent(args: argparse.Namespace, environment: dict[str, str]) -> Agent:
    """The guide (default), another built-in agent, or the relay to ``--agent-url``."""
    if args.agent_url is None:
        return AGENTS[args.agent or "guide"]()
    headers = parse_headers(args.agent_header, environment.get(ENVIRONMENT))
    return AguiRelay(
        RelayConfig(
            args.agent_url,
            headers,
            first_byte_timeout=args.agent_timeout,
            max_bytes=args.agent_max_bytes,
        )
    )


def serve(argv: list[str]) -> int:
    args = serve_parser().parse_args(argv)
    if args.agent_url is not None and args.agent is not None:
        print("server.py: --agent and --agent-url exclude each other", file=sys.stderr)
        return 2
    try:
        agent = make_agent(args, dict(os.environ))
    except HeaderRefused as exc:
        print(f"server.py: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("aiohttp.access").disabled = True  # ours logs without query strings
    if args.root is not None and not (args.root / "index.html").is_file():
        print(f"server.py: {args.root} has no index.html; build it first", file=sys.stderr)
        return 2
    try:
        if args.root is None:  # a build carries its own runtime
            runtime.prepare(log=lambda line: logging.getLogger("pychat").info(line))
    except FileNotFoundError:
        print(
            "server.py: node_modules is missing; run `make setup` (npm ci) first", file=sys.stderr
        )
        return 2
    url = storage_url(args)
    if args.demo and url.startswith(SQLITE):
        ensure_demo_account(Path(sqlite_path(url)))
    sock = listen(args.host, args.port)
    port = sock.getsockname()[1]
    metrics_sock = None
    if args.metrics_port is not None:
        try:
            metrics_sock = listen(args.metrics_host, args.metrics_port)
        except OSError as exc:  # e.g. the app's own port: metrics never share it
            print(f"server.py: cannot serve metrics there ({exc})", file=sys.stderr)
            return 2
    settings = Settings(
        root=(args.root or Settings.root).resolve(),
        host=args.host,
        port=port,
        storage_url=url,
        idle_timeout=args.idle_timeout,
        absolute_timeout=args.absolute_timeout,
        secure_cookies=args.secure_cookies,
        extra_origins=tuple(args.allowed_origin),
        address_attempts=args.login_attempts_per_address,
        ws_rate_per_minute=args.ws_messages_per_minute,
        ws_handshakes_per_second=args.max_handshakes_per_second,
        trusted_proxies=frozenset(args.trusted_proxy),
        body_timeout=args.body_timeout,
        agent_runs_per_user=args.agent_runs_per_user,
        agent_runs_per_server=args.agent_runs_per_server,
        agent_run_limit=args.agent_run_limit,
    )
    shown = f"[{args.host}]" if ":" in args.host else args.host
    where = f"database {args.db}" if url == f"{SQLITE}{args.db}" else f"storage {url}"
    print(f"Serving PyChat on http://{shown}:{port}/ ({where})", flush=True)
    app = create_app(settings, agent=agent)
    if metrics_sock is not None:
        metrics.serve_on(app, metrics_sock)
        host, metrics_port = metrics_sock.getsockname()[:2]
        shown_host = f"[{host}]" if ":" in host else host
        print(f"Metrics on http://{shown_host}:{metrics_port}{metrics.METRICS_PATH}", flush=True)
    tune_garbage_collector()
    run(app, sock, backlog=LISTEN_BACKLOG, shutdown_timeout=5.0)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["adduser"]:
        return adduser(argv[1:])
    if argv[:1] == ["serve"]:
        argv = argv[1:]
    return serve(argv)
