"""Page start-up on emulated links, cold and warm, against bare Pyodide in the same run.

    .venv/bin/python bench/page_load.py [--runs 3] [--profiles loopback,fiber,desktop,mobile]

Every figure is measured under each link profile, set with the Chrome DevTools Protocol's
``Network.emulateNetworkConditions`` before the first request (``loopback``: no throttling;
``fiber`` 100 Mbit/s and 10 ms; ``desktop`` 10 Mbit/s and 40 ms, Lighthouse's desktop; ``mobile``
1.6 Mbit/s down, 750 kbit/s up and 150 ms, Lighthouse's slow 4G).  A cold visit is a new browser
context (empty HTTP cache); the warm visit is a second navigation in that same context, so
it finds whatever the first one cached.  Nothing is routed through Playwright (a route turns
the page's HTTP cache off); files are served by the real server.

Variants, alternating within each run:

* ``bare, normal start``: a page that loads the same served Pyodide and runs ``1+1`` (the floor);
* ``bare, snapshot start``: the same page started from the app's memory snapshot;
* ``app``: the real ``index.html`` up to a settled anonymous page (``body[data-auth]``), taking
  the start path it picks for the link;
* ``app, normal start`` / ``app, snapshot start``: the same, with the path forced
  (``?start=normal`` / ``?start=snapshot``), so the choice is judged against both.

Before the app's warm visit the bench waits until the page has kept the snapshot for the next
visit (Cache Storage; fetched in the background after a normal start), and reports how long
after navigation that was and the bytes it cost.  For the
app it also reports when ``#username`` was first visible and enabled (typeable), the restored
signed-in page and the chat socket opening after it (cold and warm), and bytes as sent
(``transferSize``: bodies as encoded plus headers; cache hits are 0).  Times are from
navigation start (``performance.now()`` in the page); medians of ``--runs``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from tests.support import CHROMIUM, CHROMIUM_ARGS, LINKS, PASSWORD, Link, add_user  # noqa: E402

PROFILES = LINKS
SLOWEST_VISIT_MS = 300_000

# Marks in the page: each body[data-auth] value and chat connection state, first time seen, and
# the first frame in which #username is visible and enabled.
MARKS = """
(() => {
  window.__marks = {};
  const mark = (name) => {
    if (!(name in window.__marks)) window.__marks[name] = performance.now();
  };
  const note = () => {
    const auth = document.body && document.body.dataset.auth;
    if (auth) mark(auth);
    const panel = document.getElementById("chat-panel");
    if (panel) mark("chat:" + panel.dataset.connection);
    if (panel && panel.dataset.markdown === "ready") mark("markdown");
  };
  new MutationObserver(note).observe(document, {subtree: true, childList: true,
    attributes: true, attributeFilter: ["data-auth", "data-connection", "data-markdown"]});
  const usable = () => {
    const input = document.getElementById("username");
    if (input && input.checkVisibility() && !input.disabled) mark("form usable");
    else requestAnimationFrame(usable);
  };
  requestAnimationFrame(usable);
})();
"""
SENT = """
performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
  .reduce((sum, entry) => sum + entry.transferSize, 0)
"""
PATH = "performance.getEntriesByName('pyodide:snapshot').length ? 'snapshot' : 'normal'"
STORED = "performance.getEntriesByName('pyodide:snapshot-stored')"
# How the page judged the line (static/pyodide-early.mjs): MB/s, and the CPU a snapshot start
# would save on this machine (s); null when nothing was judged (a forced path, a kept snapshot).
LINK = "performance.getEntriesByName('pyodide:link')[0]?.detail ?? null"

BARE = "/bench/floor/index.html"
VARIANTS = {
    "bare, normal start": BARE,
    "bare, snapshot start": BARE + "?snapshot",
    "app": "/",
    "app, normal start": "/?start=normal",
    "app, snapshot start": "/?start=snapshot",
}


def serve(db: Path) -> str:
    """The real app, plus the floor page under /bench/floor/ (a bench-only route)."""
    import asyncio
    import socket

    from backend.app import create_app
    from backend.config import Settings
    from backend.static import file_response, safe_path

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, str] = {}

    async def floor(request: web.Request) -> web.StreamResponse:
        path = safe_path(ROOT / "bench" / "floor", request.match_info["tail"])
        if path is None:
            raise web.HTTPNotFound()
        return file_response(path, "no-cache")

    async def start() -> None:
        sock = socket.create_server(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = create_app(
            Settings(port=port, storage_url=f"sqlite:///{db}", address_attempts=100_000)
        )
        app.router.add_get("/bench/floor/{tail:.+}", floor)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        box["url"] = f"http://127.0.0.1:{port}"
        ready.set()

    threading.Thread(
        target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True
    ).start()
    ready.wait(30)
    return box["url"]


class Bench:
    def __init__(self, browser: Browser, url: str, signed_in: dict) -> None:
        self.browser = browser
        self.url = url
        self.signed_in = signed_in
        self.results: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.paths: dict[tuple[str, str], list[str]] = defaultdict(list)

    def record(self, profile: str, name: str, value: float) -> None:
        self.results[(profile, name)].append(value)

    def page(self, link: Link | None, **context_options) -> Page:
        context = self.browser.new_context(base_url=self.url, **context_options)
        context.add_init_script(MARKS)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        if link is not None:
            cdp.send("Network.emulateNetworkConditions", link.conditions())
        return page

    def run_variant(self, profile: str, link: Link | None, name: str, path: str) -> None:
        page = self.page(link)
        bare = name.startswith("bare")
        until = 'body[data-ready="true"]' if bare else 'body[data-auth="anonymous"]'
        done = "window.__floorDone" if bare else "window.__marks.anonymous"
        for visit in ("cold", "warm"):
            if visit == "warm" and not bare and "normal" not in name:
                # The next visit can only start from the snapshot once this one has kept it.
                page.wait_for_function(f"{STORED}.length", timeout=SLOWEST_VISIT_MS).dispose()
                self.record(
                    profile,
                    f"{name}: snapshot kept after (cold, ms)",
                    page.evaluate(f"{STORED}[0].startTime"),
                )
                self.record(
                    profile,
                    f"{name}: MB incl. the kept snapshot (cold)",
                    page.evaluate(SENT) / 1e6,
                )
            page.goto(path, timeout=SLOWEST_VISIT_MS)
            page.wait_for_selector(until, state="attached", timeout=SLOWEST_VISIT_MS)
            self.record(profile, f"{name} ({visit})", page.evaluate(done))
            self.record(profile, f"{name}: MB as sent ({visit})", page.evaluate(SENT) / 1e6)
            if not bare:
                self.paths[(profile, f"{name} ({visit})")].append(page.evaluate(PATH))
                usable = page.evaluate("window.__marks['form usable']")
                self.record(profile, f"{name}: #username usable ({visit})", usable)
                judged = page.evaluate(LINK)
                if judged is not None:
                    mbps = judged["bytesPerSecond"] / 1e6
                    self.record(profile, f"{name}: line judged, MB/s ({visit})", mbps)
                    self.record(
                        profile, f"{name}: snapshot judged to save, s ({visit})", judged["saves"]
                    )
        page.context.close()

    def run_signed_in(self, profile: str, link: Link | None) -> None:
        page = self.page(link, storage_state=self.signed_in)
        for visit in ("cold", "warm"):
            if visit == "warm":
                page.wait_for_function(f"{STORED}.length", timeout=SLOWEST_VISIT_MS).dispose()
            page.goto("/", timeout=SLOWEST_VISIT_MS)
            page.wait_for_selector('#chat-panel[data-connection="open"]', timeout=SLOWEST_VISIT_MS)
            marks = page.evaluate("window.__marks")
            self.record(profile, f"app: restored signed-in ({visit})", marks["authenticated"])
            self.record(
                profile,
                f"app: authenticated -> chat open ({visit})",
                marks["chat:open"] - marks["authenticated"],
            )
        page.context.close()


def sign_in_once(browser: Browser, url: str) -> dict:
    """A signed-in storage state (cookie + hint) to restore from."""
    context = browser.new_context(base_url=url)
    page = context.new_page()
    page.goto("/")
    page.wait_for_selector('body[data-auth="anonymous"]', timeout=60_000)
    page.fill("#username", "bench")
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector('body[data-auth="authenticated"]')
    state = context.storage_state()
    context.close()
    return state


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(bench: Bench, profiles: list[str], runs: int) -> None:
    r = {key: median(values) for key, values in bench.results.items()}
    print(f"\nPage start-up on emulated links: medians of {runs} runs, ms from navigation\n")
    for profile in profiles:
        link = PROFILES[profile]
        what = (
            "no throttling"
            if link is None
            else (f"{link.down_mbit:g} Mbit/s down, {link.up_mbit:g} up, {link.latency_ms:g} ms")
        )
        print(f"### {profile} ({what})\n")
        print(
            f"| {'variant':<24} | {'cold':>7} | {'warm':>7} | {'MB cold':>7} | "
            f"{'MB warm':>7} | {'path cold / warm':<18} |"
        )
        print(f"|{'-' * 26}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 9}|{'-' * 20}|")
        for name in VARIANTS:
            paths = " / ".join(
                ",".join(sorted(set(bench.paths.get((profile, f"{name} ({v})"), ["-"]))))
                for v in ("cold", "warm")
            )
            print(
                f"| {name:<24} | {r.get((profile, f'{name} (cold)'), 0):7.0f} "
                f"| {r.get((profile, f'{name} (warm)'), 0):7.0f} "
                f"| {r.get((profile, f'{name}: MB as sent (cold)'), 0):7.2f} "
                f"| {r.get((profile, f'{name}: MB as sent (warm)'), 0):7.2f} "
                f"| {paths if not name.startswith('bare') else '':<18} |"
            )
        print()
        for key in sorted(
            k
            for k in r
            if k[0] == profile
            and any(word in k[1] for word in ("usable", "kept", "restored", "chat open", "judged"))
        ):
            print(
                f"- {key[1]}: {r[key]:.0f}"
                if "MB" not in key[1] and "save" not in key[1]
                else f"- {key[1]}: {r[key]:.2f}"
            )
        print()

    print("### targets (cold first visit unless marked warm)\n")
    print(
        f"| {'profile':<9} | {'app / bare':>10} | {'app / best own':>14} | "
        f"{'warm app / bare':>15} | {'#username usable':>16} |"
    )
    print(f"|{'-' * 11}|{'-' * 12}|{'-' * 16}|{'-' * 17}|{'-' * 18}|")
    for profile in profiles:

        def get(name: str, profile: str = profile) -> float:
            return r.get((profile, name), float("nan"))

        app, bare = get("app (cold)"), get("bare, normal start (cold)")
        best_own = min(get("app, normal start (cold)"), get("app, snapshot start (cold)"))
        warm = get("app (warm)") / get("bare, normal start (warm)")
        usable = max(get("app: #username usable (cold)"), get("app: #username usable (warm)"))
        print(
            f"| {profile:<9} | {app / bare:9.2f}x | {app / best_own:13.2f}x | {warm:14.2f}x "
            f"| {usable:13.0f} ms |"
        )
    print(
        "\ntargets: app / bare <= 1.00x, app / best own <= 1.10x, warm <= 0.60x, usable <= 300 ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--profiles", default=",".join(PROFILES), help=f"comma-separated, of: {', '.join(PROFILES)}"
    )
    args = parser.parse_args()
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown:
        parser.error(f"unknown profile(s): {', '.join(unknown)}")
    tmp = Path(tempfile.mkdtemp())
    add_user(tmp / "bench.db", "bench", PASSWORD)
    url = serve(tmp / "bench.db")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        bench = Bench(browser, url, sign_in_once(browser, url))
        for run in range(args.runs):
            for profile in profiles:
                link = PROFILES[profile]
                for name, path in VARIANTS.items():
                    bench.run_variant(profile, link, name, path)
                    print(f"run {run + 1}/{args.runs} {profile}: {name}", file=sys.stderr)
                bench.run_signed_in(profile, link)
        browser.close()
    report(bench, profiles, args.runs)


if __name__ == "__main__":
    main()
