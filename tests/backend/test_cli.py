"""``server.py`` as a real process: adduser and serve, as people and tools call them."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from backend.cli import LISTEN_BACKLOG, serve_parser
from tests.support import PASSWORD, PYTHON, ROOT, ServerProcess, add_user, free_port


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "server.py", *args],
        cwd=ROOT,
        input=stdin,
        text=True,
        capture_output=True,
        timeout=60,
    )


def test_adduser_with_password_and_from_stdin(tmp_path):
    db = tmp_path / "users.db"
    assert run("adduser", "ada", "--password", PASSWORD, "--db", str(db)).returncode == 0
    assert (
        run("adduser", "bob", "--password-stdin", "--db", str(db), stdin=PASSWORD + "\n").returncode
        == 0
    )
    rows = sqlite3.connect(db).execute("SELECT name, password_hash FROM users").fetchall()
    assert [name for name, _ in rows] == ["ada", "bob"]
    assert all(h.startswith("$argon2id$") and PASSWORD not in h for _, h in rows)


def test_adduser_errors_are_clear(tmp_path):
    db = str(tmp_path / "users.db")
    assert run("adduser", "ada", "--password", PASSWORD, "--db", db).returncode == 0
    again = run("adduser", "ada", "--password", PASSWORD, "--db", db)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = run("adduser", "../x", "--password", PASSWORD, "--db", db)
    assert bad.returncode == 2 and "user names" in bad.stderr
    short = run("adduser", "eve", "--password", "123", "--db", db)
    assert short.returncode == 2 and "passwords" in short.stderr
    missing = run("adduser", "eve", "--db", db)
    assert missing.returncode == 2 and "--password" in missing.stderr


def test_serve_signs_in_over_real_http(tmp_path):
    db = tmp_path / "app.db"
    add_user(db, "ada", PASSWORD)
    server = ServerProcess(db).start()
    try:
        request = urllib.request.Request(
            server.url + "/api/auth/login",
            data=json.dumps({"username": "ada", "password": PASSWORD}).encode(),
            headers={"Content-Type": "application/json", "Origin": server.url},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
            assert "HttpOnly" in response.headers["Set-Cookie"]
    finally:
        server.stop()
    log = server.log()
    assert "POST /api/auth/login 200" in log
    assert PASSWORD not in log


def test_demo_account_is_created_once(tmp_path):
    db = tmp_path / "demo.db"
    server = ServerProcess(db, "--demo").start()
    server.stop()
    password = (tmp_path / "demo-password.txt").read_text().strip()
    assert len(password) >= 12
    names = sqlite3.connect(db).execute("SELECT name FROM users").fetchall()
    assert names == [("demo",)]
    ServerProcess(db, "--demo").start().stop()  # second start: no new user, same password
    assert (tmp_path / "demo-password.txt").read_text().strip() == password


def test_agent_options_refuse_mistakes_without_echoing_secrets(tmp_path):
    db = str(tmp_path / "x.db")
    secret = "sk-never-echoed-93"
    bad_header = run("--db", db, "--agent-url", "http://127.0.0.1:1/", "--agent-header", secret)
    assert bad_header.returncode == 2 and "is not 'Name: value'" in bad_header.stderr
    assert secret not in bad_header.stderr + bad_header.stdout
    bad_url = run("--db", db, "--agent-url", f"ftp://user:{secret}@agent.example/")
    assert bad_url.returncode == 2 and "--agent-url must be" in bad_url.stderr
    assert secret not in bad_url.stderr
    both = run("--db", db, "--agent", "guide", "--agent-url", "http://127.0.0.1:1/")
    assert both.returncode == 2 and "exclude each other" in both.stderr
    zero = run("--db", db, "--agent-runs-per-user", "0")
    assert zero.returncode == 2 and "at least 1" in zero.stderr


def test_a_bad_header_in_the_environment_is_refused_by_name(tmp_path):
    secret = "sk-never-echoed-94"
    refused = subprocess.run(
        [PYTHON, "server.py", "--db", str(tmp_path / "x.db"), "--agent-url", "http://h/"],
        cwd=ROOT,
        env={**os.environ, "PYCHAT_AGENT_HEADERS": f"X-Key {secret}"},
        text=True,
        capture_output=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "PYCHAT_AGENT_HEADERS" in refused.stderr
    assert secret not in refused.stderr


def test_metrics_have_a_loopback_listener_of_their_own_and_never_the_apps_port(tmp_path):
    db = tmp_path / "metrics.db"
    add_user(db, "ada", PASSWORD)
    metrics_port = free_port()
    server = ServerProcess(db, "--metrics-port", str(metrics_port)).start()
    try:
        metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(metrics_url, timeout=10) as response:
            text = response.read().decode()
        assert "pychat_ws_sockets_open 0.0" in text
        assert 'pychat_ws_handshakes_total{outcome="accepted"} 0.0' in text
        with pytest.raises(urllib.error.HTTPError) as public:
            urllib.request.urlopen(server.url + "/metrics", timeout=10)
        assert public.value.code == 404
        assert listening_addresses(metrics_port) == ["127.0.0.1"]
    finally:
        server.stop()


def listening_addresses(port: int) -> list[str]:
    """The IPv4 addresses a listening socket on ``port`` is bound to (Linux /proc/net/tcp)."""
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
            found.append(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_metrics_on_the_apps_own_port_are_refused(tmp_path):
    port = free_port()
    shared = run("--port", str(port), "--metrics-port", str(port), "--db", str(tmp_path / "x.db"))
    assert shared.returncode == 2 and "cannot serve metrics there" in shared.stderr


def test_metrics_are_off_unless_asked_for():
    args = serve_parser().parse_args([])
    assert args.metrics_port is None and args.metrics_host == "127.0.0.1"


def test_the_listening_socket_keeps_the_configured_backlog(tmp_path):
    """aiohttp listens again on the socket it is given, with its default of 128 unless told."""
    server = ServerProcess(tmp_path / "app.db").start()
    try:
        listed = subprocess.run(
            ["ss", "-ltnH", f"sport = :{server.port}"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.split()
    finally:
        server.stop()
    state, _received, send_q = listed[:3]  # for a listener, Send-Q is its backlog
    assert state == "LISTEN" and int(send_q) == LISTEN_BACKLOG == 2048
