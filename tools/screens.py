"""Screenshots of every UI state, from a preview build on a plain static server.

    python -m tools.screens                  # docs/screens/<state>.png, 1280 x 800
    python -m tools.screens --out /tmp/shots --width 390 --height 844

Builds a preview ``dist`` in a temporary folder, serves it with ``http.server``, opens it in
headless Chromium and, for each state of :data:`app.preview.states.STATES`, clicks the state in
the toolbar, waits for ``<body data-preview-state>``, and saves a PNG.  A state that does not
settle, a console error or a ``.py-error`` box fails the command (no stale picture is kept).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from app.preview.states import STATES
from backend.build import build
from backend.config import ROOT
from tests.support import CHROMIUM, CHROMIUM_ARGS
from tools.static_site import static_server

BOOT_TIMEOUT_MS = 60_000
STATE_TIMEOUT_MS = 20_000


def show_state(page: Page, state_id: str, timeout_ms: float = STATE_TIMEOUT_MS) -> None:
    """Click a state in the preview toolbar (opening the folded toolbar first, as a person on
    a small screen would) and wait until the page says it shows that state."""
    button = page.locator(f"#preview-toolbar button[data-state='{state_id}']")
    if not button.is_visible():
        page.click("#preview-toolbar summary")
    button.click()
    page.wait_for_selector(f"body[data-preview-state='{state_id}']", timeout=timeout_ms)


def capture(out: Path, width: int, height: int, only: list[str]) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as scratch:
        site = Path(scratch)
        build(site / "pychat", preview=True)
        with static_server(site) as origin, sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on(
                "console",
                lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))
            # reduced motion: no spinner frame caught half-turned, so pictures are repeatable
            page.emulate_media(reduced_motion="reduce", color_scheme="light")
            page.goto(f"{origin}/pychat/")
            page.wait_for_selector('body[data-ready="true"]', timeout=BOOT_TIMEOUT_MS)
            for state in STATES.values():
                if only and state.id not in only:
                    continue
                show_state(page, state.id)
                # the product, not the toolbar: fold it (its summary still names the state)
                page.evaluate(
                    """() => {
                        document.querySelector("#preview-toolbar details").open = false;
                        document.activeElement && document.activeElement.blur();
                    }"""
                )
                if page.locator(".py-error").count():
                    problems.append(f"{state.id}: .py-error on the page")
                if problems:
                    break
                path = out / f"{state.id}.png"
                page.screenshot(path=str(path))
                written.append(path)
                print(f"{state.id:16} {path}")
            browser.close()
    if problems:
        raise SystemExit("screenshots failed:\n" + "\n".join(problems))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.screens", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screens")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=800)
    parser.add_argument("states", nargs="*", help="only these states (default: all)")
    args = parser.parse_args(argv)
    unknown = [s for s in args.states if s not in STATES]
    if unknown:
        print(f"unknown states: {', '.join(unknown)}; known: {', '.join(STATES)}", file=sys.stderr)
        return 2
    started = time.monotonic()
    written = capture(args.out, args.width, args.height, args.states)
    print(f"{len(written)} screenshots in {args.out} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
