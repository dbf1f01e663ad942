// Start-up watchdog: shows what is loading and, if the Python runtime never starts, a clear
// message with a reload button. It never touches sign-in state; Python owns everything after
// it marks <body data-ready="true">. Kept as a file because the CSP forbids inline scripts.
// Loaded (not deferred) before the runtime preloads, so it also hears their failures; the
// body does not exist yet, so everything below looks elements up when it needs them.
(() => {
  "use strict";
  const TIMEOUT_MS = 60000;
  const byId = (id) => document.getElementById(id);
  const state = () => (document.body ? document.body.dataset.ready : undefined);
  const ready = () => state() === "true";
  let failure = null;

  const show = () => {
    // Until the parser has reached the message, DOMContentLoaded will call again.
    if (!failure || !byId("boot-failed") || ready() || state() === "failed") return;
    document.body.dataset.ready = "failed";
    const message = byId("boot-message");
    if (message) message.textContent = "The app could not start.";
    const failed = byId("boot-failed");
    if (failed) failed.hidden = false;
    const spinner = document.querySelector("#boot .spinner");
    if (spinner) spinner.hidden = true;
    console.warn("start-up failed:", failure);
  };
  const fail = (why) => {
    if (ready() || failure) return;
    failure = why;
    show();  // or on DOMContentLoaded, if the body is not there yet
  };

  document.addEventListener("DOMContentLoaded", () => {
    byId("boot-reload")?.addEventListener("click", () => location.reload());
    show();
  });

  // PyScript reports progress while Pyodide boots ("Loading Pyodide", "Loaded Storage", ...).
  addEventListener("py:progress", (event) => {
    const message = byId("boot-message");
    if (message && !ready() && !failure && typeof event.detail === "string") {
      message.textContent = `Loading Python runtime… (${event.detail.toLowerCase()})`;
    }
  });

  // A runtime file that fails to load (404, network) fires `error` on its element; one marked
  // data-optional has a fallback (the runtime's snapshot: without it, a normal start).
  addEventListener("error", (event) => {
    const target = event.target;
    if (target && (target.tagName === "SCRIPT" || target.tagName === "LINK")
        && !target.hasAttribute("data-optional")) {
      fail(`could not load ${target.src || target.href}`);
    }
  }, true);
  addEventListener("unhandledrejection", (event) => {
    if (!ready()) fail(String(event.reason));
  });

  // PyScript shows Python errors only as a .py-error element.
  new MutationObserver(() => {
    if (!ready() && document.querySelector(".py-error")) fail("python error during start-up");
  }).observe(document.documentElement, { childList: true, subtree: true });

  setTimeout(() => fail("timed out"), TIMEOUT_MS);
})();
