"""The static shell: paints at once, says what it is loading, and fails clearly."""

from __future__ import annotations

from e2e.conftest import BOOT_TIMEOUT_MS


def test_skeleton_and_loading_message_before_python_runs(pages):
    page, _ = pages.new()
    # Hold the interpreter back so the pre-Python state can be observed.
    held = []
    page.route("**/pyodide.asm.wasm", lambda route: held.append(route))
    page.goto("/", wait_until="domcontentloaded")
    assert page.locator("#boot-message").inner_text().startswith("Loading Python runtime")
    assert page.locator("#boot-message").is_visible()
    assert page.evaluate("document.body.dataset.auth") == "restoring"
    assert page.locator("#login-form").is_hidden()
    page.wait_for_function("document.getElementById('boot-message').textContent.includes('(')")
    assert page.evaluate("document.body.dataset.ready") == "false"
    page.unroute_all(behavior="ignoreErrors")
    page.close()


def test_runtime_that_fails_to_load_shows_a_reload_button(pages):
    page, watch = pages.new()
    watch.allow(r".")  # the failed runtime load is reported by the browser and by PyScript
    page.route("**/pyodide.asm.wasm", lambda route: route.abort("failed"))
    page.goto("/")
    page.wait_for_selector('body[data-ready="failed"]', timeout=BOOT_TIMEOUT_MS)
    assert page.locator("#boot-failed").is_visible()
    assert page.locator("#boot-reload").is_visible()
    page.unroute("**/pyodide.asm.wasm")
    page.click("#boot-reload")
    page.wait_for_selector('body[data-ready="true"]', timeout=BOOT_TIMEOUT_MS)


def test_a_python_error_is_reported_on_the_page(pages):
    """The e2e fixtures depend on PyScript's .py-error box: prove it still appears."""
    page, watch = pages.new()
    watch.allow(r".")  # this test wants the error
    page.route(
        "**/app/main.py",
        lambda route: route.fulfill(
            status=200, content_type="text/x-python", body="raise RuntimeError('boom 42')\n"
        ),
    )
    page.goto("/")
    page.wait_for_selector(".py-error", timeout=BOOT_TIMEOUT_MS)
    assert "boom 42" in page.locator(".py-error").first.inner_text()
    page.wait_for_selector('body[data-ready="failed"]')
    assert page.locator("#boot-failed").is_visible()
    page.close()  # its .py-error is expected; keep it out of the fixture's check
