"""A cold first visit over lines slower than any page-bench profile, against bare Pyodide.

    .venv/bin/python bench/slow_lines.py [--runs 1] [--lines "1 Mbit/s, 300 ms;0.4 Mbit/s, 400 ms"]

Each line of ``tests.support.SLOW_LINES`` is emulated with the Chrome DevTools Protocol's
``Network.emulateNetworkConditions`` from the first request on; every visit is a new browser
context (an empty HTTP cache) against the real server.  Alternating within each run:

* ``bare, normal start``: the floor page of ``bench/page_load.py`` (the same served Pyodide,
  ``1+1``), until it has run: the baseline;
* ``app``: the real ``index.html`` until a settled anonymous page (``body[data-auth]``).

For each it prints the time to the settled page (from navigation start), the ratio to the bare
page, bytes as sent (``transferSize``), the longest pause between two counted runtime chunks
(``pychat:download``: what the start-up watchdog's stall window must outlast), whether the
page ever said it failed (``body[data-ready="failed"]``), and what it said on the way: every
text of ``#boot-message``, with the second it first appeared.  Medians of ``--runs``; the words
are the last run's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, sync_playwright  # noqa: E402

from bench.page_load import BARE, SENT, serve  # noqa: E402
from tests.support import CHROMIUM, CHROMIUM_ARGS, PASSWORD, SLOW_LINES, Link, add_user  # noqa: E402

SLOWEST_VISIT_MS = 600_000
VARIANTS = {"bare, normal start": BARE, "app": "/"}

# What the page says and when (ms from navigation): #boot-message texts, a failure, and the
# longest pause between counted runtime chunks while bytes were still due.
WORDS = """
(() => {
  window.__said = [];
  window.__failed = false;
  window.__longestPause = 0;
  let last = null;
  addEventListener("pychat:download", (event) => {
    const now = performance.now();
    if (last !== null && event.detail.received < event.detail.total) {
      window.__longestPause = Math.max(window.__longestPause, now - last);
    }
    last = now;
  });
  const note = () => {
    const text = document.getElementById("boot-message")?.textContent;
    if (text && window.__said.at(-1)?.[1] !== text) window.__said.push([performance.now(), text]);
    if (document.body?.dataset.ready === "failed") window.__failed = true;
  };
  new MutationObserver(note).observe(document, {subtree: true, childList: true,
    characterData: true, attributes: true, attributeFilter: ["data-ready"]});
})();
"""
# When each has settled (ms from navigation): the floor page's own mark, and for the app the
# first body[data-auth="anonymous"] (as in bench/page_load.py).
SETTLED = {"bare, normal start": "window.__floorDone", "app": "window.__marks.anonymous"}
MARK_ANONYMOUS = """
(() => {
  window.__marks = {};
  new MutationObserver(() => {
    if (document.body?.dataset.auth === "anonymous") window.__marks.anonymous ??= performance.now();
  }).observe(document, {subtree: true, attributes: true, attributeFilter: ["data-auth"]});
})();
"""


def visit(browser: Browser, url: str, link: Link, name: str) -> dict:
    context = browser.new_context(base_url=url)
    context.add_init_script(WORDS)
    context.add_init_script(MARK_ANONYMOUS)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", link.conditions())
    page.goto(VARIANTS[name], wait_until="commit", timeout=SLOWEST_VISIT_MS)
    page.wait_for_function(SETTLED[name], timeout=SLOWEST_VISIT_MS, polling=200).dispose()
    result = {
        "settled": page.evaluate(SETTLED[name]) / 1000,
        "mb": page.evaluate(SENT) / 1e6,
        "pause": page.evaluate("window.__longestPause") / 1000,
        "failed": page.evaluate("window.__failed"),
        "said": page.evaluate("window.__said"),
    }
    context.close()
    return result


def report(results: dict[tuple[str, str], list[dict]], lines: list[str], runs: int) -> None:
    print(f"\n## Cold first visit over slow lines (median of {runs})\n")
    print(
        f"| {'line':<19} | {'variant':<18} | {'settled':>8} | {'vs bare':>7} | {'MB sent':>7} "
        f"| {'longest pause':>13} | {'said failed':<11} |"
    )
    print(f"|{'-' * 21}|{'-' * 20}|{'-' * 10}|{'-' * 9}|{'-' * 9}|{'-' * 15}|{'-' * 13}|")
    for line in lines:
        bare = statistics.median(r["settled"] for r in results[(line, "bare, normal start")])
        for name in VARIANTS:
            rows = results[(line, name)]
            settled = statistics.median(r["settled"] for r in rows)
            mb = statistics.median(r["mb"] for r in rows)
            pause = max(r["pause"] for r in rows)
            failed = "yes" if any(r["failed"] for r in rows) else "never"
            print(
                f"| {line:<19} | {name:<18} | {settled:7.1f}s | {settled / bare:6.2f}x "
                f"| {mb:7.2f} | {pause if name == 'app' else float('nan'):12.1f}s "
                f"| {failed if name == 'app' else '':<11} |"
            )
    print("\nWhat the app's page said on the way (last run; seconds after navigation):\n")
    for line in lines:
        said = results[(line, "app")][-1]["said"]
        print(f"- {line}: " + " → ".join(f"{at / 1000:.1f} s “{text}”" for at, text in said))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--lines",
        default=";".join(SLOW_LINES),
        help=f"semicolon-separated, of: {'; '.join(SLOW_LINES)}",
    )
    args = parser.parse_args()
    lines = [line.strip() for line in args.lines.split(";") if line.strip()]
    unknown = [line for line in lines if line not in SLOW_LINES]
    if unknown:
        parser.error(f"unknown line(s): {', '.join(unknown)}")
    tmp = Path(tempfile.mkdtemp())
    add_user(tmp / "bench.db", "bench", PASSWORD)
    url = serve(tmp / "bench.db")
    results: dict[tuple[str, str], list[dict]] = defaultdict(list)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        for run in range(args.runs):
            for line in lines:
                for name in VARIANTS:
                    results[(line, name)].append(visit(browser, url, SLOW_LINES[line], name))
                    print(f"run {run + 1}/{args.runs} {line}: {name}", file=sys.stderr)
        browser.close()
    report(results, lines, args.runs)


if __name__ == "__main__":
    main()
