"""deploy/traefik/ is what tools/cluster.py generates for the default ports, and it says what
the issue asks of the proxy: no forward-auth on the socket, an origin rule, per-client limits,
health checks, and timeouts that leave idle sockets alone."""

from __future__ import annotations

from pathlib import Path

import yaml

from tools.cluster import DEFAULT_PORT, DEFAULT_REPLICA_PORTS, dynamic_config, write_config

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "traefik"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_checked_in_files_are_the_generators_output(tmp_path):
    replicas = [f"http://127.0.0.1:{p}" for p in DEFAULT_REPLICA_PORTS]
    write_config(
        tmp_path,
        DEFAULT_PORT,
        replicas,
        "data/cluster/access.log",
        dynamic_name="deploy/traefik/dynamic.yml",
    )
    assert load(DEPLOY / "dynamic.yml") == load(tmp_path / "dynamic.yml")
    assert load(DEPLOY / "traefik.yml") == load(tmp_path / "traefik.yml")


def test_the_socket_route_checks_origin_and_limits_each_client_without_forward_auth():
    http = dynamic_config("https://chat.example", ["http://10.0.0.1:8000"])["http"]
    socket = http["routers"]["chat-socket"]
    assert "Header(`Origin`, `https://chat.example`)" in socket["rule"]
    middlewares = {name: http["middlewares"][name] for name in socket["middlewares"]}
    assert not any("forwardAuth" in m for m in middlewares.values())
    kinds = {next(iter(m)) for m in middlewares.values()}
    assert {"rateLimit", "inFlightReq"} <= kinds
    refused = http["routers"]["chat-socket-refused"]
    assert refused["priority"] < socket["priority"] and refused["rule"] == "Path(`/api/ws`)"
    assert http["routers"]["api"]["middlewares"] != socket["middlewares"]  # its own chain
    balancer = http["services"]["pychat"]["loadBalancer"]
    assert balancer["healthCheck"]["path"] == "/api/health"


def test_idle_sockets_are_not_cut_and_logs_keep_no_paths_or_headers():
    static = load(DEPLOY / "traefik.yml")
    timeouts = static["entryPoints"]["web"]["transport"]["respondingTimeouts"]
    assert timeouts["readTimeout"] == "0s"  # Traefik 3's default of 60 s would cut sockets
    fields = static["accessLog"]["fields"]
    assert fields["names"]["RequestPath"] == "drop"  # query strings stay out of the log
    assert fields["headers"]["defaultMode"] == "drop"  # and so do Cookie and Authorization


def test_traefik_serves_its_own_metrics_on_a_loopback_entry_point():
    static = load(DEPLOY / "traefik.yml")
    assert static["metrics"]["prometheus"]["entryPoint"] == "metrics"
    assert static["entryPoints"]["metrics"]["address"].startswith("127.0.0.1:")
    assert static["entryPoints"]["metrics"] != static["entryPoints"]["web"]


def test_every_route_sends_strict_transport_security():
    http = load(DEPLOY / "dynamic.yml")["http"]
    for name, router in http["routers"].items():
        headers = [http["middlewares"][m].get("headers", {}) for m in router["middlewares"]]
        assert any(h.get("stsSeconds", 0) >= 31_536_000 for h in headers), name
        first = http["middlewares"][router["middlewares"][0]]  # so Traefik's 429s carry it too
        assert "headers" in first, name
