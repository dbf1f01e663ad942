"""Tabs sharing one socket: sockets per N tabs, and how fast leadership moves.

    .venv/bin/python bench/tab_leader.py [--runs 5]

Headless Chromium against a real ``server.py``; every tab is a page of one browser context (one
browser profile), and every WebSocket a page constructs is counted by the e2e recorder script.

1. Sockets for 1, 3 and 5 signed-in tabs: shared (Web Locks + BroadcastChannel) against the
   per-tab fallback (Web Locks removed by an init script), in the same run.
2. Three tabs; the leader tab is closed, or its renderer killed (CDP ``Page.crash``).  Measured
   from that moment, in the tab that takes over: its new socket constructed, and its chat
   panel ``open`` again (lock passed, socket connected, server welcome).  A new tab is opened
   after each run, so every run starts from three.
3. Baseline in the same run: one tab losing its network (offline, then online), from "online"
   to the chat panel ``open`` again, the same reconnect without any change of leader.

Medians of ``--runs`` runs, in milliseconds (browser clocks: ``performance.timeOrigin`` +
``performance.now()``, the same wall clock for every tab of the machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright  # noqa: E402

from e2e.conftest import NO_WEB_LOCKS, RECORDER  # noqa: E402
from tests.support import CHROMIUM, CHROMIUM_ARGS, PASSWORD, ServerProcess, add_user  # noqa: E402

OPEN = '#chat-panel[data-connection="open"]'
NOW = "performance.timeOrigin + performance.now()"
TAB_COUNTS = (1, 3, 5)


def new_tab(context: BrowserContext, user: str | None = None) -> Page:
    """A tab of the profile, its chat open; ``user`` signs in (the others restore)."""
    page = context.new_page()
    page.goto("/")
    page.wait_for_selector('body[data-ready="true"]', timeout=60_000)
    if user is not None:
        page.fill("#username", user)
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
    page.wait_for_selector(OPEN, timeout=60_000)
    return page


def profile(browser: Browser, url: str, *scripts: str) -> BrowserContext:
    context = browser.new_context(base_url=url)
    for script in (RECORDER, *scripts):
        context.add_init_script(script)
    return context


def sockets_for(browser: Browser, url: str, user: str, tabs: int, *scripts: str) -> int:
    context = profile(browser, url, *scripts)
    try:
        pages = [new_tab(context, user if i == 0 else None) for i in range(tabs)]
        return sum(len(p.evaluate("window.__sockets")) for p in pages)
    finally:
        context.close()


def role(page: Page) -> str | None:
    return page.get_attribute("#chat-panel", "data-sharing")


def leader(tabs: list[Page], timeout: float = 60.0) -> Page:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        leading = [t for t in tabs if role(t) == "leader" and t.locator(OPEN).count()]
        if len(leading) == 1:
            return leading[0]
        tabs[0].wait_for_timeout(20)
    raise TimeoutError("no tab leads")


def crash(page: Page) -> None:
    """CDP's Page.crash never answers, so it goes through the browser session unawaited."""
    target = page.context.new_cdp_session(page).send("Target.getTargetInfo")["targetInfo"]
    browser = page.context.browser.new_browser_cdp_session()
    session = browser.send("Target.attachToTarget", {"targetId": target["targetId"]})
    message = json.dumps({"id": 1, "method": "Page.crash"})
    with page.expect_event("crash"):
        browser.send(
            "Target.sendMessageToTarget", {"sessionId": session["sessionId"], "message": message}
        )


def handover_run(tabs: list[Page], how: str) -> tuple[float, float]:
    """Remove the leader (``close`` or ``crash``); returns ms to the new leader's socket
    constructed and to its panel open."""
    old = leader(tabs)
    rest = [t for t in tabs if t is not old]
    started = rest[0].evaluate(NOW)
    if how == "close":
        old.close()
    else:
        crash(old)
        old.close()
    new = leader(rest)
    made = new.evaluate("performance.timeOrigin + window.__sockets.at(-1).at")
    tabs[:] = rest
    return made - started, opened_since(new, started) - started


def opened_since(page: Page, started: float) -> float:
    """When the page's panel first showed ``open`` after ``started`` (its recorder's log)."""
    return page.evaluate(
        """started => performance.timeOrigin + window.__connectionLog
            .filter(e => e.state === 'open' && performance.timeOrigin + e.at > started)[0].at""",
        started,
    )


def network_run(page: Page) -> float:
    page.context.set_offline(True)
    page.wait_for_selector('#chat-panel[data-connection="offline"]', timeout=60_000)
    started = page.evaluate(NOW)
    page.context.set_offline(False)
    page.wait_for_selector(OPEN, timeout=60_000)
    return opened_since(page, started) - started


def row(name: str, values: list[float]) -> str:
    return (
        f"| {name:<58} | {statistics.median(values):>7.0f} | {min(values):>6.0f} |"
        f" {max(values):>6.0f} |"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    counts: dict[int, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        db = Path(scratch) / "bench.db"
        users = [f"tabs{n}" for n in range(len(TAB_COUNTS) * 2 + 2)]
        for user in users:
            add_user(db, user, PASSWORD)
        server = ServerProcess(db).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
                )
                names = iter(users)
                for tabs in TAB_COUNTS:
                    shared = sockets_for(browser, server.url, next(names), tabs)
                    alone = sockets_for(browser, server.url, next(names), tabs, NO_WEB_LOCKS)
                    counts[tabs] = (shared, alone)
                context = profile(browser, server.url)
                user = next(names)
                tabs = [new_tab(context, user if i == 0 else None) for i in range(3)]
                for _run in range(args.runs):
                    for how, done in (("close", "closed"), ("crash", "renderer crashed")):
                        made, opened = handover_run(tabs, how)
                        results.setdefault(f"leader {done} -> new leader's socket made", [])
                        results[f"leader {done} -> new leader's socket made"].append(made)
                        results.setdefault(f"leader {done} -> chat open again", []).append(opened)
                        tabs.append(new_tab(context))
                context.close()
                context = profile(browser, server.url)
                alone = new_tab(context, next(names))
                for _run in range(args.runs):
                    results.setdefault(
                        "baseline: one tab back online -> chat open again", []
                    ).append(network_run(alone))
                context.close()
                browser.close()
        finally:
            server.stop()
    print("\nWebSockets constructed (summed over the tabs of one profile)\n")
    print("| tabs | shared (Web Locks + BroadcastChannel) | per-tab fallback (no Web Locks) |")
    print("|---|---|---|")
    for tabs, (shared, alone) in counts.items():
        print(f"| {tabs} | {shared} | {alone} |")
    print(f"\nLeadership moving, three tabs, median of {args.runs} (ms)\n")
    print(f"| {'measure':<58} | {'median':>7} | {'min':>6} | {'max':>6} |")
    print(f"|{'-' * 60}|{'-' * 9}|{'-' * 8}|{'-' * 8}|")
    for name, values in results.items():
        print(row(name, values))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
