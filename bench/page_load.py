"""Page start-up against its floor, and sign-in to an open chat, in headless Chromium.

    .venv/bin/python bench/page_load.py [--runs 5]

Floor: a bare page that loads the same self-hosted Pyodide and runs ``1+1``; the same page
started from the memory snapshot the app starts from (``snapshot.gz``) is shown beside it.
App: the real ``index.html`` up to a settled anonymous page (``body[data-auth="anonymous"]``);
with a valid session, up to a restored signed-in page and then to an open chat socket
(``#chat-panel[data-connection="open"]``, including the lazy download and import of the
chat).  Every run is a cold browser context (empty cache), the variants alternate, and the
table shows medians.  The anonymous load is also split where PyScript reports
progress (``py:progress``: the runtime is up, the start-up files are written) and where our
own code starts (the ``pychat:boot`` performance mark, after PyScript's ``import pyscript``
and our imports).  Times are from navigation start (``performance.now()`` in the page),
so browser launch and process start are not counted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aiohttp import web  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from tests.support import CHROMIUM, CHROMIUM_ARGS, PASSWORD, add_user  # noqa: E402

MARK = """
(() => {
  window.__marks = {};
  const note = () => {
    const v = document.body && document.body.dataset.auth;
    if (v && !(v in window.__marks)) window.__marks[v] = performance.now();
    const panel = document.getElementById("chat-panel");
    const c = panel && "chat:" + panel.dataset.connection;
    if (c && !(c in window.__marks)) window.__marks[c] = performance.now();
    if (panel && panel.dataset.markdown === "ready" && !("md" in window.__marks)) {
      window.__marks.md = performance.now();
    }
  };
  // Where start-up time goes: PyScript's own progress events, then our code's first line.
  addEventListener("py:progress", (event) => {
    const step = "py:" + String(event.detail);
    if (!(step in window.__marks)) window.__marks[step] = performance.now();
  });
  new MutationObserver(note).observe(document, {subtree: true, childList: true,
    attributes: true, attributeFilter: ["data-auth", "data-connection", "data-markdown"]});
})();
"""


def serve(db: Path) -> tuple[web.AppRunner, str]:
    """The real app, plus the floor page under /bench/floor/ (bench-only route)."""
    import asyncio
    import threading

    from backend.app import create_app
    from backend.config import Settings
    from backend.static import file_response, safe_path

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: dict[str, object] = {}

    async def floor(request: web.Request) -> web.StreamResponse:
        path = safe_path(ROOT / "bench" / "floor", request.match_info["tail"])
        if path is None:
            raise web.HTTPNotFound()
        return file_response(path, "no-cache")

    async def start() -> None:
        import socket

        sock = socket.create_server(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        app = create_app(
            Settings(port=port, storage_url=f"sqlite:///{db}", address_attempts=10_000)
        )
        app.router.add_get("/bench/floor/{tail:.+}", floor)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        box["runner"], box["url"] = runner, f"http://127.0.0.1:{port}"
        ready.set()

    threading.Thread(
        target=lambda: (loop.run_until_complete(start()), loop.run_forever()), daemon=True
    ).start()
    ready.wait(30)
    return box["runner"], box["url"]  # type: ignore[return-value]


def identity_size(address: str) -> int:
    """The body size of ``address`` when nothing is compressed."""
    import urllib.request

    request = urllib.request.Request(address, headers={"Accept-Encoding": "identity"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return len(response.read())


def run(runs: int) -> dict[str, list[float]]:
    tmp = Path(tempfile.mkdtemp())
    add_user(tmp / "bench.db", "bench", PASSWORD)
    _, url = serve(tmp / "bench.db")
    results: dict[str, list[float]] = {
        k: []
        for k in (
            "floor: bare Pyodide + 1+1",
            "floor: same, from the snapshot",
            "app: settled anonymous",
            "app: first paint",
            "  runtime ready (Loaded interpreter)",
            "  files written (Loaded files)",
            "  our code starts (pychat:boot)",
            "app: restored signed-in",
            "validation request",
            "authenticated -> chat open",
            "markdown: authenticated -> chat open",
            "plain: authenticated -> chat open",
            "markdown: authenticated -> ready",
            "markdown: KiB after sign-in",
            "plain: KiB after sign-in",
            "KiB cold load (brotli)",
            "KiB cold load (no compression)",
            "KiB warm reload",
        )
    }
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        # A signed-in storage state (cookie + hint) to restore from, made once.
        context = browser.new_context(base_url=url)
        page = context.new_page()
        page.goto("/")
        page.wait_for_selector('body[data-auth="anonymous"]', timeout=60_000)
        page.fill("#username", "bench")
        page.fill("#password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_selector('body[data-auth="authenticated"]')
        signed_in = context.storage_state()
        context.close()

        for _ in range(runs):
            for name, query in (
                ("floor: bare Pyodide + 1+1", ""),
                ("floor: same, from the snapshot", "?snapshot"),
            ):
                context = browser.new_context(base_url=url)
                page = context.new_page()
                page.goto("/bench/floor/index.html" + query)
                page.wait_for_selector('body[data-ready="true"]', timeout=60_000)
                results[name].append(page.evaluate("window.__floorDone"))
                context.close()

            context = browser.new_context(base_url=url)
            context.add_init_script(MARK)
            page = context.new_page()
            page.goto("/")
            page.wait_for_selector('body[data-auth="anonymous"]', timeout=60_000)
            results["app: settled anonymous"].append(page.evaluate("window.__marks.anonymous"))
            phases = page.evaluate(
                "[window.__marks['py:Loaded interpreter'], window.__marks['py:Loaded files'],"
                " performance.getEntriesByName('pychat:boot')[0].startTime]"
            )
            for name, value in zip(
                (
                    "  runtime ready (Loaded interpreter)",
                    "  files written (Loaded files)",
                    "  our code starts (pychat:boot)",
                ),
                phases,
                strict=True,
            ):
                results[name].append(value)
            results["app: first paint"].append(
                page.evaluate("performance.getEntriesByName('first-contentful-paint')[0].startTime")
            )
            context.close()

            context = browser.new_context(base_url=url, storage_state=signed_in)
            context.add_init_script(MARK)
            page = context.new_page()
            page.goto("/")
            page.wait_for_selector('body[data-auth="authenticated"]', timeout=60_000)
            results["app: restored signed-in"].append(page.evaluate("window.__marks.authenticated"))
            page.wait_for_selector('#chat-panel[data-connection="open"]', timeout=60_000)
            results["authenticated -> chat open"].append(
                page.evaluate("window.__marks['chat:open'] - window.__marks.authenticated")
            )
            results["validation request"].append(
                page.evaluate(
                    "performance.getEntriesByType('resource')"
                    ".filter(e => e.name.endsWith('/api/auth/session'))[0].duration"
                )
            )
            context.close()

            # Bytes on the wire: a cold load's response bodies as sent (brotli where the
            # browser accepts it), the same files fetched uncompressed, and a warm reload.
            context = browser.new_context(base_url=url)
            page = context.new_page()
            page.goto("/")
            page.wait_for_selector('body[data-auth="anonymous"]', timeout=60_000)
            entries = page.evaluate(
                "performance.getEntriesByType('navigation').concat("
                "performance.getEntriesByType('resource'))"
                ".map(e => [e.name, e.encodedBodySize])"
            )
            results["KiB cold load (brotli)"].append(sum(size for _, size in entries) / 1024)
            results["KiB cold load (no compression)"].append(
                sum(identity_size(name) for name, _ in entries) / 1024
            )
            page.reload()
            page.wait_for_selector('body[data-auth="anonymous"]', timeout=60_000)
            results["KiB warm reload"].append(
                page.evaluate(
                    "performance.getEntriesByType('navigation').concat("
                    "performance.getEntriesByType('resource'))"
                    ".reduce((sum, e) => sum + e.transferSize, 0) / 1024"
                )
            )
            context.close()

            # Markdown support against the plain-text build (its wheels blocked), same run.
            for variant in ("markdown", "plain"):
                context = browser.new_context(base_url=url, storage_state=signed_in)
                context.add_init_script(MARK)
                page = context.new_page()
                if variant == "plain":
                    page.route("**/wheels/**", lambda route: route.abort("failed"))
                page.goto("/")
                page.wait_for_selector('#chat-panel[data-connection="open"]', timeout=60_000)
                results[f"{variant}: authenticated -> chat open"].append(
                    page.evaluate("window.__marks['chat:open'] - window.__marks.authenticated")
                )
                settled = "ready" if variant == "markdown" else "unavailable"
                page.wait_for_selector(f'#chat-panel[data-markdown="{settled}"]', timeout=60_000)
                if variant == "markdown":
                    results["markdown: authenticated -> ready"].append(
                        page.evaluate("window.__marks.md - window.__marks.authenticated")
                    )
                results[f"{variant}: KiB after sign-in"].append(
                    page.evaluate(
                        "performance.getEntriesByType('resource')"
                        ".filter(e => e.startTime >= window.__marks.authenticated)"
                        ".reduce((sum, e) => sum + e.transferSize, 0) / 1024"
                    )
                )
                context.close()
        browser.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    results = run(args.runs)
    floor = statistics.median(results["floor: bare Pyodide + 1+1"])
    print(f"\nPage start-up, cold context, median of {args.runs} (ms from navigation start)\n")
    print(f"| {'measure':<38} | {'median':>8} | {'min':>8} | {'max':>8} | {'vs floor':>8} |")
    print(f"|{'-' * 40}|{'-' * 10}|{'-' * 10}|{'-' * 10}|{'-' * 10}|")
    for name, values in results.items():
        median = statistics.median(values)
        ratio = (
            f"{median / floor:.2f}x"
            if name.startswith(("app: settled", "app: restored", "floor", "  "))
            else ""
        )
        print(
            f"| {name:<38} | {median:8.0f} | {min(values):8.0f} | {max(values):8.0f} | {ratio:>8} |"
        )


if __name__ == "__main__":
    main()
