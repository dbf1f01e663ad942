// The page until Python runs: which first view to show, a sign-in form that can be used at
// once but never submits natively, the runtime download's progress, and, if the runtime never
// starts, a clear message with a reload button. Python owns everything after it marks
// <body data-ready="true">; it still decides sign-in state (body[data-auth]) itself.
//
// Loaded async (a file, because the CSP forbids inline scripts), so it may run before or after
// the body is parsed: everything below looks elements up when it needs them.
(() => {
  "use strict";
  // No sign of life from the runtime (no progress, no start) for this long means it failed.
  const STALL_MS = 45000;
  const PROGRESS_AFTER_MS = 1000; // a download shorter than this needs no progress bar
  const byId = (id) => document.getElementById(id);
  const state = () => (document.body ? document.body.dataset.ready : undefined);
  const ready = () => state() === "true";
  let failure = null;

  // --- the first view: the same localStorage read (and the same rules) as app/auth/hint.py
  const previewMode = () => {
    const value = new URLSearchParams(location.search).get("preview");
    if (value !== null) return !["0", "false", "no", "off"].includes(value);
    return document.documentElement.dataset.preview === "default";
  };
  const hintKey = () => (previewMode() ? "pychat.preview.hint" : "pychat.auth.hint");
  const hasHint = () => {
    try {
      const raw = localStorage.getItem(hintKey());
      if (!raw || raw.length > 1024) return false;
      const hint = JSON.parse(raw);
      return hint !== null && typeof hint === "object" && hint.v === 1
        && typeof hint.user === "string" && hint.user.length > 0 && hint.user.length <= 256
        && typeof hint.expires_at === "number" && hint.expires_at > Date.now() / 1000;
    } catch {
      return false; // no storage, or not JSON: no hint, as in Python
    }
  };
  const remembered = hasHint();

  // --- the early form: typeable at first paint; a submit before Python waits for it
  const startingWords = "Starting…";
  const prepareForm = () => {
    const form = byId("login-form");
    if (!form || ready() || form.dataset.guarded) return;
    form.dataset.guarded = "true";
    if (remembered) {
      byId("signin-view").hidden = true; // the skeleton's turn: Python checks the session
    } else {
      byId("login-submit").disabled = false;
    }
  };
  // Capturing on the document, so it is in place before the form exists and runs before any
  // listener on the form itself. Python's own handler takes over once the page is ready.
  document.addEventListener("submit", (event) => {
    if (ready()) return;
    event.preventDefault();
    const form = event.target;
    if (form.id !== "login-form") return;
    form.dataset.pendingSubmit = "true"; // carried out once by Python when it starts
    const button = byId("login-submit");
    if (button) button.textContent = startingWords;
    form.setAttribute("aria-busy", "true");
  }, true);

  // --- failure
  const show = () => {
    if (!failure || !byId("boot-failed") || ready() || state() === "failed") return;
    document.body.dataset.ready = "failed";
    const message = byId("boot-message");
    if (message) message.textContent = "The app could not start.";
    byId("boot-failed").hidden = false;
    const spinner = document.querySelector("#boot .spinner");
    if (spinner) spinner.hidden = true;
    console.warn("start-up failed:", failure);
  };
  const fail = (why) => {
    if (ready() || failure) return;
    failure = why;
    show(); // or when the body is parsed, if it is not there yet
  };
  let stall = setTimeout(() => fail("timed out"), STALL_MS);
  const alive = () => {
    clearTimeout(stall);
    stall = setTimeout(() => fail("timed out"), STALL_MS);
  };

  const whenParsed = () => {
    prepareForm();
    byId("boot-reload")?.addEventListener("click", () => location.reload());
    show();
  };
  if (document.readyState === "loading") {
    // "interactive" comes as soon as parsing ends, before deferred and module scripts run.
    document.addEventListener("readystatechange", whenParsed, { once: true });
  } else {
    whenParsed();
  }

  // --- progress
  // PyScript reports its stages while Pyodide boots ("Loading Pyodide", "Loaded Storage", ...).
  addEventListener("py:progress", (event) => {
    alive();
    const message = byId("boot-message");
    if (message && !ready() && !failure && typeof event.detail === "string") {
      message.textContent = `Loading Python runtime… (${event.detail.toLowerCase()})`;
    }
  });
  // static/pyodide-early.mjs counts the runtime's bytes as they arrive (bytes as sent).
  let downloadStarted = null;
  const megabytes = (bytes) => (bytes / 1e6).toFixed(1);
  addEventListener("pychat:download", (event) => {
    alive();
    const { received, total } = event.detail;
    const bar = byId("boot-progress");
    if (!bar || ready() || failure || !total) return;
    downloadStarted ??= performance.now();
    const done = received >= total;
    if (bar.hidden && (done || performance.now() - downloadStarted < PROGRESS_AFTER_MS)) return;
    const percent = Math.min(100, Math.round((received / total) * 100));
    bar.hidden = false;
    bar.setAttribute("aria-valuenow", String(percent));
    bar.setAttribute("aria-valuetext", `${megabytes(received)} of ${megabytes(total)} MB`);
    bar.firstElementChild.style.width = `${percent}%`;
    const text = byId("boot-progress-text");
    text.hidden = false;
    text.textContent = done
      ? "Downloaded. Starting Python…"
      : `${megabytes(received)} of ${megabytes(total)} MB`;
  });

  // A runtime file that fails to load (404, network) fires `error` on its element. Those that
  // failed before this script ran are in the resource timeline instead.
  addEventListener("error", (event) => {
    const target = event.target;
    if (target && (target.tagName === "SCRIPT" || target.tagName === "LINK")) {
      fail(`could not load ${target.src || target.href}`);
    }
  }, true);
  // The runtime's own downloads (static/pyodide-early.mjs), even if they failed before this ran.
  addEventListener("pychat:runtime-failed", (event) => fail(event.detail));
  const earlier = document.documentElement.dataset.runtimeFailed;
  if (earlier) fail(earlier);
  addEventListener("unhandledrejection", (event) => {
    if (!ready()) fail(String(event.reason));
  });

  // PyScript shows Python errors only as a .py-error element.
  new MutationObserver(() => {
    if (!ready() && document.querySelector(".py-error")) fail("python error during start-up");
  }).observe(document.documentElement, { childList: true, subtree: true });
})();
