"""Two replicas behind Traefik, sharing a real Redis, driven through real Chromium.

The fixture starts the same cluster as ``python -m tools.cluster`` (its own Redis, replicas and
Traefik on free loopback ports) and stops it at the end.  Which replica holds a page's socket
is read from each replica's ``/api/health``.
"""

from __future__ import annotations

import signal
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from e2e.conftest import NO_WEB_LOCKS, chat_open, make_pages, open_app, send, settled, sign_in
from tests.support import PASSWORD, ServerProcess
from tools.cluster import Cluster

USERS = ("kim", "lee", "max", "ned", "oli", "pia")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    running = Cluster.on_free_ports(tmp_path_factory.mktemp("cluster")).start()
    try:
        for name in USERS:
            running.add_user(name, PASSWORD)
        yield running
    finally:
        running.stop()


@pytest.fixture
def cluster_pages(browser, cluster):
    yield from make_pages(browser, cluster.url)


def sockets_on(replica: ServerProcess) -> int:
    return replica.health()["sockets"]


def holder(cluster: Cluster, page: Page) -> int:
    """Index of the replica that holds ``page``'s socket (the page must be the only one)."""
    counts = [sockets_on(r) for r in cluster.replicas]
    assert sorted(counts) == [0, 1], counts
    return counts.index(1)


def signed_in_page(pages, name: str) -> Page:
    page, _watch = pages.new()
    open_app(page)
    sign_in(page, name)
    settled(page, "authenticated")
    chat_open(page)
    return page


def ensure_replicas(cluster: Cluster) -> None:
    """Restart any replica an earlier test killed."""
    for index, replica in enumerate(cluster.replicas):
        if replica.proc is None or replica.proc.poll() is not None:
            cluster.replicas[index] = cluster.start_replica(replica.port)


def test_killing_the_replica_that_holds_the_socket_loses_nothing(cluster, cluster_pages):
    ensure_replicas(cluster)
    page = signed_in_page(cluster_pages, "kim")
    send(page, "before the crash")
    page.locator(".chat-message[data-role='assistant'][data-status='done']").wait_for()
    victim = holder(cluster, page)
    cluster.replicas[victim].stop(signal.SIGKILL)
    # Typed while the connection is down: it must go out once the page is back.
    page.wait_for_selector("#chat-panel:not([data-connection='open'])", timeout=10_000)
    send(page, "typed during the failover")
    chat_open(page)
    sent = page.locator(".chat-message[data-role='user']", has_text="typed during the failover")
    sent.and_(page.locator("[data-status='sent']")).wait_for(timeout=30_000)
    page.locator(
        ".chat-message[data-role='assistant']", has_text="typed during the failover"
    ).wait_for(timeout=30_000)
    assert page.get_attribute("body", "data-auth") == "authenticated"
    survivor = 1 - victim
    assert sockets_on(cluster.replicas[survivor]) == 1
    user_messages = page.locator(".chat-message[data-role='user']").all_inner_texts()
    assert sum("typed during the failover" in text for text in user_messages) == 1
    assert sum("before the crash" in text for text in user_messages) == 1  # history kept


def test_sign_out_on_one_replica_closes_the_socket_on_the_other(cluster, cluster_pages):
    ensure_replicas(cluster)
    page = signed_in_page(cluster_pages, "lee")
    other = cluster.replicas[1 - holder(cluster, page)]
    token = next(c["value"] for c in cluster_pages.context.cookies() if c["name"] == "pychat_sid")
    request = urllib.request.Request(
        other.url + "/api/auth/logout",
        method="POST",
        headers={"Cookie": f"pychat_sid={token}", "Origin": cluster.url},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 204
    page.wait_for_function(
        "window.__sockets.length > 0 && window.__sockets.at(-1).closeCode === 4401",
        timeout=2_000,
    )
    settled(page, "anonymous")
    assert "ended" in page.inner_text("#login-notice").lower()


def test_a_second_tab_on_the_other_replica_follows_sign_out(cluster, cluster_pages):
    """Tabs that cannot share (the per-tab fallback) hold a socket each, here one per replica."""
    ensure_replicas(cluster)
    cluster_pages.context.add_init_script(NO_WEB_LOCKS)
    first = signed_in_page(cluster_pages, "max")
    second, _watch = cluster_pages.new()
    for _attempt in range(6):  # the balancer decides; reload until the tabs are split
        open_app(second)
        settled(second, "authenticated")
        chat_open(second)
        if sorted(sockets_on(r) for r in cluster.replicas) == [1, 1]:
            break
    assert sorted(sockets_on(r) for r in cluster.replicas) == [1, 1]
    first.click("#logout")
    settled(first, "anonymous")
    settled(second, "anonymous")
    assert second.locator("#chat-panel").count() == 0
    second.wait_for_function("window.__sockets.at(-1).closeCode !== null", timeout=2_000)


@pytest.fixture
def other_browser_profile(browser, cluster):
    yield from make_pages(browser, cluster.url)


def test_without_redis_sign_in_is_refused_clearly_and_comes_back(
    cluster, cluster_pages, other_browser_profile
):
    ensure_replicas(cluster)
    chatting = signed_in_page(cluster_pages, "ned")
    cluster_pages.watches[0][1].allow("503|WebSocket")  # its reconnects meet the outage
    watch_page, watch = other_browser_profile.new()
    watch.allow("503")  # the browser logs the refused sign-in
    open_app(watch_page)
    cluster.redis.stop()
    try:
        sign_in(watch_page, "oli")
        watch_page.wait_for_selector("#login-error:not(:empty)", timeout=10_000)
        assert "briefly unavailable" in watch_page.inner_text("#login-error").lower()
        assert watch_page.get_attribute("body", "data-auth") == "anonymous"
        send(chatting, "written while redis was down")
    finally:
        cluster.redis.start()
    chatting.locator(
        ".chat-message[data-role='user'][data-status='sent']", has_text="written while redis"
    ).wait_for(timeout=30_000)
    assert chatting.get_attribute("body", "data-auth") == "authenticated"  # never signed out
    for _attempt in range(20):
        if watch_page.get_attribute("body", "data-auth") == "authenticated":
            break  # the previous attempt got through, after its wait had ended
        try:
            watch_page.click("#login-form button[type=submit]", timeout=1_500)
            settled(watch_page, "authenticated", timeout=1_500)
            break
        except Exception:
            continue
    settled(watch_page, "authenticated")


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
        return response.read().decode()


def sign_ins(cluster: Cluster) -> float:
    """Successful sign-ins, summed over the replicas' own metrics."""
    total = 0.0
    for replica in cluster.replicas:
        for family in text_string_to_metric_families(
            scrape(cluster.replica_metrics_url(replica.port))
        ):
            for sample in family.samples:
                if sample.name == "pychat_sign_ins_total" and sample.labels == {
                    "outcome": "succeeded"
                }:
                    total += sample.value
    return total


def test_traefik_and_every_replica_serve_their_metrics_on_loopback(cluster, cluster_pages):
    ensure_replicas(cluster)
    before = sign_ins(cluster)
    page = signed_in_page(cluster_pages, "pia")
    held = holder(cluster, page)
    replicas = [scrape(cluster.replica_metrics_url(r.port)) for r in cluster.replicas]
    assert "pychat_ws_sockets_open 1.0" in replicas[held]
    assert "pychat_ws_sockets_open 0.0" in replicas[1 - held]
    assert sign_ins(cluster) == before + 1
    proxy = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scrape(cluster.metrics_url))
        for sample in family.samples
    }
    web = (("entrypoint", "web"), ("protocol", "TCP"))
    assert proxy[("traefik_open_connections", web)] >= 1  # the socket, held through Traefik
    up = [v for (name, _), v in proxy.items() if name == "traefik_service_server_up"]
    assert up == [1.0, 1.0]
    assert "pia" not in "".join(replicas)
    assert not any("/api/" in value for _, labels in proxy for _, value in labels)


def test_a_foreign_origin_is_refused_through_the_proxy_and_directly(cluster):
    ensure_replicas(cluster)

    def status_for(base: str, origin: str) -> int:
        url = base.replace("http://", "ws://") + "/api/ws"
        try:
            with connect(url, origin=origin, open_timeout=5):
                return 101
        except InvalidStatus as refused:
            return refused.response.status_code

    targets = [cluster.url] + [r.url for r in cluster.replicas]
    assert [status_for(t, "http://evil.example") for t in targets] == [403] * len(targets)
    # The cluster's own origin gets through (and, without a session, a 4401 after the upgrade).
    assert [status_for(t, cluster.url) for t in targets] == [101] * len(targets)
