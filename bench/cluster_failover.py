"""Failover and cross-replica sign-out, on the local cluster (Redis + 2 replicas + Traefik).

    .venv/bin/python bench/cluster_failover.py [--runs 5]

1. A signed-in page in headless Chromium is chatting through Traefik.  The replica holding its
   socket is killed (SIGKILL); a message is typed at once.  Measured from the kill: the chat
   panel open again (through Traefik, on the other replica) and the typed message acknowledged.
   Baseline in the same run: the same page losing its network (offline, then online) with both
   replicas healthy, from "online" to open and acknowledged.
2. A socket held by replica B; sign-out posted to replica A; measured until the socket on B
   receives its 4401 close.  Baseline: sign-out posted to B itself.

Medians of ``--runs`` runs (alternating with the baseline), each in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

from tests.support import CHROMIUM, CHROMIUM_ARGS, PASSWORD  # noqa: E402
from tools.cluster import Cluster  # noqa: E402

OPEN = '#chat-panel[data-connection="open"]'
NOW = "performance.now()"


def socket_holder(cluster: Cluster) -> int:
    counts = [replica.health()["sockets"] for replica in cluster.replicas]
    return counts.index(max(counts))


def wait_healthy() -> None:
    """Until Traefik routes to every replica again (its health check runs every second)."""
    time.sleep(2.5)


def acknowledged(page: Page, text: str) -> None:
    page.locator(".chat-message[data-role='user'][data-status='sent']", has_text=text).wait_for(
        timeout=60_000
    )


def type_message(page: Page, text: str) -> None:
    page.fill("#chat-input", text)
    page.press("#chat-input", "Enter")


def failover_run(cluster: Cluster, page: Page, run: int) -> tuple[float, float]:
    victim = socket_holder(cluster)
    started = page.evaluate(NOW)
    cluster.replicas[victim].stop(signal.SIGKILL)
    page.wait_for_selector(f"#chat-panel:not({OPEN[11:]})", timeout=10_000)
    type_message(page, f"failover {run}")
    page.wait_for_selector(OPEN, timeout=60_000)
    opened = page.evaluate(NOW) - started
    acknowledged(page, f"failover {run}")
    sent = page.evaluate(NOW) - started
    cluster.replicas[victim] = cluster.start_replica(cluster.replicas[victim].port)
    wait_healthy()
    return opened, sent


def network_run(page: Page, run: int) -> tuple[float, float]:
    page.context.set_offline(True)
    page.wait_for_selector('#chat-panel[data-connection="offline"]', timeout=60_000)
    type_message(page, f"offline {run}")
    started = page.evaluate(NOW)
    page.context.set_offline(False)
    page.wait_for_selector(OPEN, timeout=60_000)
    opened = page.evaluate(NOW) - started
    acknowledged(page, f"offline {run}")
    return opened, page.evaluate(NOW) - started


async def sign_out_run(cluster: Cluster, cross: bool) -> float:
    """Socket on replica 1; sign-out on replica 0 (cross) or on replica 1 (baseline)."""
    holder, other = cluster.replicas[1], cluster.replicas[0]
    async with aiohttp.ClientSession() as http:
        response = await http.post(
            cluster.url + "/api/auth/login",
            json={"username": "bench", "password": PASSWORD},
            headers={"Origin": cluster.url},
        )
        token = response.cookies["pychat_sid"].value
        async with connect(
            holder.url.replace("http", "ws") + "/api/ws",
            origin=cluster.url,
            additional_headers={"Cookie": f"pychat_sid={token}"},
        ) as ws:
            await ws.recv()  # welcome
            await ws.recv()  # history
            target = other if cross else holder
            started = time.perf_counter()
            await http.post(
                target.url + "/api/auth/logout",
                headers={"Origin": cluster.url, "Cookie": f"pychat_sid={token}"},
            )
            await ws.wait_closed()
            elapsed = (time.perf_counter() - started) * 1000
            assert ws.close_code == 4401, ws.close_code
    return elapsed


def row(name: str, values: list[float]) -> str:
    return (
        f"| {name:<52} | {statistics.median(values):>8.0f} | {min(values):>6.0f} |"
        f" {max(values):>6.0f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        cluster = Cluster.on_free_ports(Path(scratch), access_log=False).start()
        try:
            cluster.add_user("bench", PASSWORD)
            for _run in range(args.runs):
                for cross in (True, False):
                    name = (
                        "sign-out elsewhere -> 4401 on the holder"
                        if cross
                        else ("baseline: sign-out on the holder -> 4401")
                    )
                    results.setdefault(name, []).append(asyncio.run(sign_out_run(cluster, cross)))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                page = browser.new_page(base_url=cluster.url)
                page.goto("/")
                page.wait_for_selector('body[data-auth="anonymous"]', timeout=60_000)
                page.fill("#username", "bench")
                page.fill("#password", PASSWORD)
                page.click("#login-form button[type=submit]")
                page.wait_for_selector(OPEN, timeout=60_000)
                for run in range(args.runs):
                    opened, sent = failover_run(cluster, page, run)
                    results.setdefault("replica killed -> chat open again", []).append(opened)
                    results.setdefault("replica killed -> typed message acknowledged", []).append(
                        sent
                    )
                    opened, sent = network_run(page, run)
                    results.setdefault("baseline: back online -> chat open", []).append(opened)
                    results.setdefault("baseline: back online -> message acknowledged", []).append(
                        sent
                    )
                browser.close()
        finally:
            cluster.stop()
    print(f"\nCluster failover, 2 replicas + Redis + Traefik, median of {args.runs} (ms)\n")
    print(f"| {'measure':<52} | {'median':>8} | {'min':>6} | {'max':>6} |")
    print(f"|{'-' * 54}|{'-' * 10}|{'-' * 8}|{'-' * 8}|")
    for name, values in results.items():
        print(row(name, values))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
