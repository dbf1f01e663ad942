// The page until Python runs: which first view to show, a sign-in form that can be used at
// once but never submits natively, the runtime download's progress, and what went wrong if it
// did. Python owns everything after it marks <body data-ready="true">; it still decides
// sign-in state (body[data-auth]) itself.
//
// Two kinds of trouble, told apart because they need different things from the user:
// - failed (body[data-ready="failed"], #boot-failed): a runtime file answered with an error,
//   Python failed while starting, or the download stalled: no byte for STALL_MS. Reload.
// - interrupted (#boot[data-state="interrupted"]): the line dropped (the browser went offline,
//   or a download ended without an answer). Said at once; when the line is back the page
//   starts again by itself, and the HTTP cache answers for every file that had arrived.
//   data-ready stays "false": nothing has failed that the line coming back will not mend.
//
// Loaded async (a file, because the CSP forbids inline scripts), so it may run before or after
// the body is parsed: everything below looks elements up when it needs them.
(() => {
  "use strict";
  // No byte of the runtime for this long, while it is still arriving, is a stalled download.
  // A line slow enough to pause this long between bytes is not one the runtime arrives over;
  // much shorter, and a congested mobile cell's pauses of several seconds would fail pages
  // that were getting there.
  const STALL_MS = 20000;
  // Once every byte has arrived only the runtime's own start is left, which reports stages
  // and is CPU: this long without any sign of life means it hangs.
  const HUNG_MS = 120000;
  const PROGRESS_AFTER_MS = 1000; // a download shorter than this needs no progress bar
  // How often a dropped line is tried again when the browser does not say it is back (a
  // server that went away, a captive portal): the first wait, doubled up to the last.
  const PROBE_FIRST_MS = 2000;
  const PROBE_LAST_MS = 30000;
  // Starts again by itself at most this many times in a row (sessionStorage), then fails: a
  // line that cuts every download is not one waiting helps.
  const RESUMES_MAX = 3;
  const RESUMES_KEY = "pychat.boot.resumes";
  const TYPED_KEY = "pychat.boot.username"; // the typed user name, across a resume (not secret)
  const byId = (id) => document.getElementById(id);
  const state = () => (document.body ? document.body.dataset.ready : undefined);
  const ready = () => state() === "true";

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
  const session = (verb, key, value) => {
    try {
      return sessionStorage[`${verb}Item`](key, value);
    } catch {
      return null; // no storage: nothing carried across a resume
    }
  };

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
      const typed = session("get", TYPED_KEY);
      session("remove", TYPED_KEY);
      if (typed && !byId("username").value) {
        byId("username").value = typed; // typed before the page started again
        byId("password").focus();
      }
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
  let failure = null;
  let interruption = null;
  const bootCard = () => byId("boot");
  const showReload = () => {
    const reload = byId("boot-reload");
    if (reload) reload.hidden = false;
  };
  const show = () => {
    if (!document.body || ready()) return;
    if (failure && state() !== "failed" && byId("boot-failed")) {
      document.body.dataset.ready = "failed";
      bootCard().dataset.state = "failed";
      byId("boot-message").textContent = "The app could not start.";
      byId("boot-failed").hidden = false;
      byId("boot-progress").hidden = true;
      byId("boot-progress-text").hidden = true;
      showReload();
      const spinner = document.querySelector("#boot .spinner");
      if (spinner) spinner.hidden = true;
      console.warn("start-up failed:", failure);
    } else if (!failure && interruption && bootCard() && bootCard().dataset.state !== "interrupted") {
      bootCard().dataset.state = "interrupted";
      byId("boot-message").textContent = "The download stopped because the connection dropped. "
        + "It goes on by itself when you are back online.";
      byId("boot-progress-text").hidden = true;
      showReload();
      console.warn("start-up interrupted:", interruption);
    }
  };
  const fail = (why) => {
    if (ready() || failure || interruption) return; // what a dropped line breaks is not a failure
    failure = why;
    show(); // or when the body is parsed, if it is not there yet
  };

  // A line that drops: said at once, tried again until it is back, then the page starts again.
  let probeWait = PROBE_FIRST_MS;
  let probeTimer = null;
  const resume = () => {
    const resumes = Number(session("get", RESUMES_KEY)) || 0;
    if (resumes >= RESUMES_MAX) {
      interruption = null;
      return fail(`the download was cut ${resumes + 1} times`);
    }
    session("set", RESUMES_KEY, String(resumes + 1));
    const typed = byId("username")?.value;
    if (typed) session("set", TYPED_KEY, typed);
    byId("boot-message").textContent = "Connected again. Starting…";
    location.reload(); // every file that had arrived comes from the HTTP cache
  };
  // Any answer at all (even an error status) means the line carries requests again. HEAD of the
  // page itself: a few hundred bytes, and no runtime file asked twice.
  const probe = async () => {
    clearTimeout(probeTimer);
    if (!interruption || ready()) return;
    try {
      await fetch(location.href, { method: "HEAD", cache: "no-store" });
      resume();
    } catch {
      probeTimer = setTimeout(probe, probeWait);
      probeWait = Math.min(probeWait * 2, PROBE_LAST_MS);
    }
  };
  // `broken`: a download was lost, so only starting again mends it. A browser that only said
  // it went offline may be back before anything was lost, and then the page carries on.
  let broken = false;
  const interrupt = (why, { lost = true } = {}) => {
    if (ready() || failure) return;
    broken ||= lost;
    if (interruption) return;
    interruption = why;
    clearTimeout(stall);
    show();
    if (navigator.onLine) probeTimer = setTimeout(probe, probeWait); // else the `online` event
  };
  addEventListener("offline", () => interrupt("the browser went offline", { lost: false }));
  addEventListener("online", () => {
    if (!interruption || ready() || failure) return;
    if (broken) return probe();
    interruption = null; // nothing was lost: the downloads go on
    bootCard().dataset.state = "loading";
    byId("boot-message").textContent = "Loading Python runtime…";
    byId("boot-reload").hidden = true;
    alive();
  });
  // What a dropped line makes of a failed fetch, whoever reports it.
  const NETWORK_ERROR = /Failed to fetch|NetworkError|network error|Load failed|ERR_INTERNET_DISCONNECTED/i;
  const trouble = (why) => (!navigator.onLine || NETWORK_ERROR.test(why) ? interrupt(why) : fail(why));

  // Stalls: no byte for STALL_MS while bytes are still due; then HUNG_MS of no sign of life.
  let downloading = true;
  const stalled = () => {
    if (!navigator.onLine) return interrupt("the browser went offline and the download stalled");
    fail(downloading ? `no byte of the runtime for ${STALL_MS / 1000} s` : "the runtime stopped starting");
  };
  let stall = setTimeout(stalled, STALL_MS);
  const alive = () => {
    if (interruption || failure) return;
    clearTimeout(stall);
    stall = setTimeout(stalled, downloading ? STALL_MS : HUNG_MS);
  };
  // Every runtime file that finishes is a sign of life too (those not counted byte by byte).
  try {
    new PerformanceObserver(() => alive()).observe({ type: "resource" });
  } catch {
    // no resource timing: the counted downloads and PyScript's stages still say it is alive
  }

  const whenParsed = () => {
    prepareForm();
    byId("boot-reload")?.addEventListener("click", () => {
      session("remove", RESUMES_KEY); // the user's own reload starts the count again
      location.reload();
    });
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
    if (message && !ready() && !failure && !interruption && typeof event.detail === "string") {
      message.textContent = `Loading Python runtime… (${event.detail.toLowerCase()})`;
    }
  });
  // static/pyodide-early.mjs counts the runtime's bytes as they arrive (bytes as sent).
  let downloadStarted = null;
  // The total grows while the runtime's files become known one by one (each as its download
  // starts), which on a busy machine can come after some bytes of another: the bar never goes
  // back, it waits for the bytes to catch up.
  let shownPercent = 0;
  const megabytes = (bytes) => (bytes / 1e6).toFixed(1);
  addEventListener("pychat:download", (event) => {
    const { received, total } = event.detail;
    downloading = received < total;
    alive();
    const bar = byId("boot-progress");
    if (!bar || ready() || failure || interruption || !total) return;
    downloadStarted ??= performance.now();
    const done = received >= total;
    if (bar.hidden && (done || performance.now() - downloadStarted < PROGRESS_AFTER_MS)) return;
    const percent = Math.max(shownPercent, Math.min(100, Math.round((received / total) * 100)));
    shownPercent = percent;
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
  // failed before this script ran are in the resource timeline instead. The event does not say
  // which it was; asking for the file again does (without the cache, so only its head).
  addEventListener("error", async (event) => {
    const target = event.target;
    if (!target || (target.tagName !== "SCRIPT" && target.tagName !== "LINK")) return;
    const url = target.src || target.href;
    if (!navigator.onLine) return interrupt(`could not load ${url} (offline)`);
    try {
      const answer = await fetch(url, { method: "HEAD", cache: "no-store" });
      if (!answer.ok) return fail(`could not load ${url} (HTTP ${answer.status})`);
      interrupt(`could not load ${url} (it arrives now)`);
    } catch (error) {
      interrupt(`could not load ${url} (${error})`);
    }
  }, true);
  // The runtime's own downloads (static/pyodide-early.mjs), even if that happened before this ran.
  addEventListener("pychat:runtime-failed", (event) => fail(event.detail));
  addEventListener("pychat:runtime-interrupted", (event) => interrupt(event.detail));
  const { runtimeFailed, runtimeInterrupted } = document.documentElement.dataset;
  if (runtimeFailed) fail(runtimeFailed);
  if (runtimeInterrupted) interrupt(runtimeInterrupted);
  addEventListener("unhandledrejection", (event) => {
    if (!ready()) trouble(String(event.reason));
  });

  // PyScript shows Python errors only as a .py-error element. Once the page is up the count of
  // resumes in a row starts again.
  const watch = new MutationObserver(() => {
    if (ready()) {
      clearTimeout(stall);
      clearTimeout(probeTimer);
      session("remove", RESUMES_KEY);
      return watch.disconnect();
    }
    const error = document.querySelector(".py-error");
    if (error) trouble(error.textContent || "python error during start-up");
  });
  watch.observe(document.documentElement, {
    childList: true, subtree: true, attributes: true, attributeFilter: ["data-ready"],
  });
})();
