// Starts the Python runtime while PyScript itself is still loading, on the path that is fastest
// for this visit's link.
//
// PyScript imports the module named by `interpreter` in pyscript.toml and calls its
// `loadPyodide(options)` only after its own core has been fetched, evaluated and has read its
// config: 150 to 300 ms on our test machines in which nothing starts the runtime. This module
// is that `interpreter`. index.html also loads it as an async module script, so its first
// evaluation, as soon as it arrives, starts the runtime. When PyScript later imports it (the
// same URL, so the same module instance) and calls `loadPyodide`, it gets the runtime that is
// already booting, with its output handlers attached.
//
// Two start paths, both from the served, pinned Pyodide and the app's own cut standard library
// (app/stdlib.zip, backend/stdlib_prune.py):
// - normal: the interpreter starts itself, about 1.7 s of main thread on our test machines;
// - snapshot: it is restored from app/snapshot.gz, a memory snapshot set-up made of a freshly
//   started interpreter (backend/pyodide_prepare.mjs): about 0.15 s, but 4 MB more to fetch.
// The snapshot is worth its bytes only where they arrive in less time than it saves. So: a
// snapshot already in the HTTP cache is used at once (a repeat visit); otherwise the bytes of
// the runtime files already arriving measure the link, and the snapshot is fetched only when
// it would arrive within the CPU it saves on this machine. Once the page has settled, the snapshot is kept in
// Cache Storage for the next visit (fetched in the background after a normal start: low
// priority, not with Save-Data).
// `?start=normal` or `?start=snapshot` forces a path (benchmarks and tests). The page records
// which path it took on the Performance timeline (`pyodide:snapshot` or `pyodide:fresh`).
//
// The same counting drives the progress bar: `pychat:download` events on window carry
// `{received, total}` in bytes as sent (static/boot.js draws them).
import { loadPyodide as loadServedPyodide, version } from "../vendor/pyodide/314.0.7/pyodide.mjs";

export { version };

const INDEX_URL = new URL("../vendor/pyodide/314.0.7/", import.meta.url).href;
// The files set-up makes from the app change with it: the page names this module with the
// release (?v=..., backend/release.py), and the same goes on them, so the server can let the
// browser keep them.
const RELEASE = new URL(import.meta.url).search;
// By their names in the manifest.
const FILES = {
  "pyodide.asm.wasm": `${INDEX_URL}pyodide.asm.wasm`,
  "pyodide-lock.json": `${INDEX_URL}pyodide-lock.json`,
  "app/stdlib.zip": `${INDEX_URL}app/stdlib.zip${RELEASE}`,
  "app/snapshot.gz": `${INDEX_URL}app/snapshot.gz${RELEASE}`,
};
const nameOf = (url) => Object.keys(FILES).find((name) => FILES[name] === url);
// Sizes of every served variant of those files, written by set-up (backend/runtime.py).
const MANIFEST_URL = `${INDEX_URL}app/runtime.json${RELEASE}`;
// CPU a snapshot start saves over a normal one. It is CPU, so it depends on the machine and on
// how busy it is: the worker times a fixed loop (SPIN_ROUNDS) while its request is on the way,
// inside the same start-up the page is going through, and the saving is read off that. On our
// test machines (2 cores) the loop took 23 to 43 ms during a page start (node alone: 7 ms),
// and the snapshot saved 2.8 to 3.2 s (bare Pyodide cold on loopback: 5.06 s normal, 1.83 s
// from the snapshot; the app forced: 5.40 s and 2.60 s): 0.1 s per loop ms. Never less than
// SAVES_MIN_S (what it saves on a fast, quiet machine, and the figure without a worker), never
// more than SAVES_MAX_S (a phone that slow is on a line far too slow for the snapshot anyway).
const SAVES_S_PER_SPIN_MS = 0.1;
const SAVES_MIN_S = 1.2;
const SAVES_MAX_S = 5;
const SPIN_ROUNDS = 1e6;
// The link is judged when stdlib.zip has arrived, or at the latest this long after its headers.
const SAMPLE_MS = 1000;

// Lines printed before PyScript attaches its handlers (normally none) go to the console.
let stdout = (line) => console.log(line);
let stderr = (line) => console.error(line);

const original = globalThis.fetch.bind(globalThis);

// stdlib.zip is fetched in a worker, which stamps each chunk with the time it arrived. That
// worker's thread does nothing else, so its times are the network's; the main thread is busy
// evaluating PyScript's core while the runtime arrives, and bytes counted there wait for it (a
// 12.5 MB/s line was judged at 0.6 to 7 MB/s that way). Its entry on the worker's own resource
// timeline says whether the HTTP cache answered. The body comes back whole, without a copy.
const TIMED_FETCH = `
const now = () => performance.timeOrigin + performance.now();
onmessage = async ({ data: url }) => {
  try {
    const pending = fetch(url);
    const started = performance.now();
    let x = 1;
    for (let i = 0; i < ${SPIN_ROUNDS}; i++) x = (x * 1103515245 + 12345) | 0;
    const spinMs = performance.now() - started + (x & 0); // x is used: the loop is not dropped
    const response = await pending;
    const type = response.headers.get("content-type");
    postMessage({ status: response.status, type, at: now(), spinMs });
    if (!response.ok) return;
    const reader = response.body.getReader();
    const chunks = [];
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      received += value.byteLength;
      postMessage({ received, at: now() });
    }
    const body = new Uint8Array(received);
    let offset = 0;
    for (const chunk of chunks) {
      body.set(chunk, offset);
      offset += chunk.byteLength;
    }
    const entry = performance.getEntriesByName(response.url).at(-1);
    const cached = Boolean(entry && entry.transferSize < entry.encodedBodySize);
    postMessage({ body: body.buffer, cached, at: now() }, [body.buffer]);
  } catch (error) {
    postMessage({ error: String(error) });
  }
};
`;

// Of a file's `sent` bytes, those `received` of its `decoded` bytes stand for.
const sentPart = (received, file) => (Math.min(received, file.decoded) / file.decoded) * file.sent;

// Runtime downloads, counted as they arrive, for the progress bar and for judging the link.
// The files read on the main thread are read from a clone, so the response Pyodide consumes
// stays the browser's own (WebAssembly streaming compilation and its code cache need that),
// and the download never waits for Pyodide to start reading.
class Downloads {
  constructor(manifest) {
    this.manifest = manifest; // Promise<object | null>
    this.files = new Map(); // url -> {sent, decoded, received}
    this.listeners = new Set();
    this.drawQueued = false;
    // The worker's fetch, by its clock (ms since the epoch): {headAt, lastAt, received, done,
    // cached, spinMs}; null until its headers arrive.
    this.timed = null;
    // Rejects when a file the runtime cannot start without fails to arrive. Pyodide itself
    // would wait forever for a wasm that never came.
    this.failure = new Promise((_resolve, reject) => {
      this.fail = reject;
    });
    this.failure.catch(() => {});
  }

  fetch(url, { essential = true } = {}) {
    const response = original(url);
    response.then(
      (r) => {
        if (!r.ok) return essential && this.#failed(url, `HTTP ${r.status}`);
        // A body that stops arriving (the line dropped) errors this read as well.
        return this.#count(url, r.clone()).catch((error) => essential && this.#interrupted(url, error));
      },
      (error) => essential && this.#interrupted(url, error),
    );
    return response;
  }

  // The same, fetched and timed by a worker (TIMED_FETCH): a Response holding the whole body.
  // Without a worker (a host whose CSP refuses blob: workers) it is an ordinary fetch, and the
  // link is not judged.
  fetchTimed(url) {
    const untimed = (error) => {
      console.info("runtime download not timed:", String(error));
      return this.fetch(url);
    };
    let worker;
    try {
      worker = new Worker(URL.createObjectURL(new Blob([TIMED_FETCH], { type: "text/javascript" })));
    } catch (error) {
      return untimed(error);
    }
    return new Promise((resolve, reject) => {
      const stop = (report, why) => {
        worker.terminate();
        report(url, why);
        reject(new Error(why));
      };
      let file = null;
      let type = null;
      // The worker itself could not start (a policy refusing it): fetch the ordinary way.
      worker.onerror = (event) => {
        worker.terminate();
        resolve(untimed(event.message || "worker error"));
      };
      worker.onmessage = async ({ data }) => {
        // Its fetch or its body read threw: the network's doing, never an HTTP answer.
        if (data.error) return stop((u, why) => this.#interrupted(u, why), data.error);
        if (data.status !== undefined) {
          const ok = data.status >= 200 && data.status <= 299;
          if (!ok) return stop((u, why) => this.#failed(u, why), `HTTP ${data.status}`);
          type = data.type;
          this.timed = { headAt: data.at, lastAt: data.at, received: 0, done: false, cached: false };
          this.timed.spinMs = data.spinMs;
          // What the other runtime files had brought by now, by this thread's clock.
          this.timed.others = { at: performance.now(), sent: this.#sentReceived(url) };
          const sizes = (await this.manifest)?.[nameOf(url)];
          file = this.files.get(url) ?? { sent: 0, decoded: 0, received: 0 };
          // The browser inflates what the server compressed: sizes of its best form.
          [file.sent, file.decoded] = sizes?.br ?? sizes?.identity ?? [0, 0];
          file.received = 0;
          this.files.set(url, file);
          return this.#changed();
        }
        if (!this.timed) return;
        this.timed.lastAt = data.at;
        if (data.body) {
          worker.terminate();
          Object.assign(this.timed, { done: true, cached: data.cached, received: data.body.byteLength });
          if (file) file.received = file.decoded || data.body.byteLength;
          resolve(new Response(data.body, { headers: type ? { "content-type": type } : {} }));
        } else {
          this.timed.received = data.received;
          if (file) file.received = data.received;
        }
        this.#changed();
      };
      worker.postMessage(url);
    });
  }

  // The server answered a runtime file with an error: reloading will not help.
  #failed(url, why) {
    const reason = `could not load ${url} (${why})`;
    document.documentElement.dataset.runtimeFailed = reason; // boot.js may not be running yet
    dispatchEvent(new CustomEvent("pychat:runtime-failed", { detail: reason }));
    this.fail(new Error(reason));
  }

  // A runtime file stopped arriving without an answer (the line dropped): boot.js says so and
  // starts again when the line is back, from the HTTP cache for every file that had arrived.
  #interrupted(url, error) {
    const reason = `${url} stopped arriving (${String(error)})`;
    document.documentElement.dataset.runtimeInterrupted = reason;
    dispatchEvent(new CustomEvent("pychat:runtime-interrupted", { detail: reason }));
    this.fail(new Error(reason));
  }

  async #count(url, response) {
    if (!response.body) return;
    const sizes = (await this.manifest)?.[nameOf(url)];
    const coding = response.headers.get("content-encoding") || "identity";
    // A host that compresses on the fly: its own sent size, the file's own decoded size.
    const [sent, decoded] = sizes?.[coding] ?? [
      Number(response.headers.get("content-length")) || sizes?.identity?.[0] || 0,
      sizes?.identity?.[1] || 0,
    ];
    const file = { sent, decoded, received: 0 };
    this.files.set(url, file);
    const reader = response.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      file.received += value.byteLength;
      this.#changed();
    }
    file.received = file.decoded || file.received;
    this.#changed();
  }

  // Bytes as sent that have arrived of every file but `except`.
  #sentReceived(except) {
    let sent = 0;
    for (const [url, file] of this.files) {
      if (url !== except && file.decoded) sent += sentPart(file.received, file);
    }
    return sent;
  }

  // Bytes as sent: each file's decoded bytes so far, scaled by its sent/decoded ratio.
  get progress() {
    let received = 0;
    let total = 0;
    for (const file of this.files.values()) {
      if (!file.decoded) continue;
      received += sentPart(file.received, file);
      total += file.sent;
    }
    return { received, total };
  }

  #changed() {
    for (const listener of this.listeners) listener();
    if (this.drawQueued) return;
    this.drawQueued = true;
    requestAnimationFrame(() => {
      this.drawQueued = false;
      dispatchEvent(new CustomEvent("pychat:download", { detail: this.progress }));
    });
  }

  // Resolves with the link's rate in bytes as sent per second: the file the worker timed, once
  // it has all arrived or when SAMPLE_MS have passed since its headers (a line that slow gets
  // the normal start whatever its exact rate), plus what the other runtime files (the wasm)
  // brought while it came, over the longer of the two windows. The line carries both at once:
  // the worker's file alone was judged at a third of the line or less (a 100 Mbit/s line at 1
  // to 1.5 MB/s, loopback at 2.5 MB/s while the wasm compiled). Bytes the busy main thread has
  // not read yet are not counted, so this is still a floor of the line's rate: a misjudgement
  // costs the snapshot, never the normal start. Zero means nothing is known (no worker, the
  // file came from the HTTP cache, no headers within twice SAMPLE_MS), and gets the normal
  // start.
  rate(url) {
    return new Promise((resolve) => {
      const finish = () => {
        this.listeners.delete(check);
        clearTimeout(timer);
        const timed = this.timed;
        const file = this.files.get(url);
        const elapsed = timed ? timed.lastAt - timed.headAt : 0;
        if (!timed || timed.cached || !file?.decoded || elapsed <= 0) return resolve(0);
        const others = this.#sentReceived(url) - timed.others.sent;
        const span = Math.max(elapsed, performance.now() - timed.others.at);
        resolve(((sentPart(timed.received, file) + others) * 1000) / span);
      };
      const check = () => {
        const timed = this.timed;
        if (timed && (timed.done || timed.lastAt - timed.headAt >= SAMPLE_MS)) finish();
      };
      const timer = setTimeout(finish, SAMPLE_MS * 2);
      this.listeners.add(check);
      check();
    });
  }
}

const manifest = original(MANIFEST_URL)
  .then((r) => (r.ok ? r.json() : null))
  .then((files) => files, () => null);
const downloads = new Downloads(manifest);
// Started at once (they match index.html's preloads), handed to Pyodide when it asks.
const early = new Map([
  [FILES["pyodide.asm.wasm"], downloads.fetch(FILES["pyodide.asm.wasm"])],
  [FILES["pyodide-lock.json"], downloads.fetch(FILES["pyodide-lock.json"])],
  [FILES["app/stdlib.zip"], downloads.fetchTimed(FILES["app/stdlib.zip"])],
]);

// PyScript fetches the start-up Python files only once the runtime is up, a few at a time: on a
// 150 ms line, five rounds of requests after the long download. Asked for now, alongside it,
// they wait in the HTTP cache (the page names them with its release, so they may be kept).
const warmStartUpFiles = async () => {
  if (!RELEASE) return; // plain names (a static host): they would be asked again anyway
  try {
    const config = await (await original(new URL(`../pyscript.json${RELEASE}`, import.meta.url))).json();
    await Promise.all(
      Object.keys(config.files ?? {}).map(async (file) => {
        const response = await original(new URL(file, location.href), { priority: "low" });
        await response.arrayBuffer();
      }),
    );
  } catch (error) {
    console.info("start-up files not fetched early:", String(error)); // PyScript fetches them
  }
};
warmStartUpFiles();

// Pyodide fetches its files with the global fetch; the first request for each early file gets
// the response already on its way.
const claimEarly = (input, init) => {
  const url = String(input instanceof Request ? input.url : input);
  const response = early.get(url);
  if (response === undefined) return original(input, init);
  early.delete(url);
  return response;
};

// The first paint (the sign-in form) comes before the runtime's heavy start (compiling the 1.2 MB
// pyodide.asm.mjs holds the main thread): a frame, then a task after it. A tab in the
// background gets no frames at all, so it waits no more than a moment.
const afterFirstPaint = () =>
  new Promise((resolve) => {
    requestAnimationFrame(() => setTimeout(resolve, 0));
    setTimeout(resolve, 100);
  });

const start = (options) => {
  globalThis.fetch = claimEarly;
  const loading = loadServedPyodide({
    indexURL: INDEX_URL,
    stdLibURL: FILES["app/stdlib.zip"],
    stdout: (line) => stdout(line),
    stderr: (line) => stderr(line),
    ...options,
  });
  const pyodide = Promise.race([loading, downloads.failure]);
  const restore = () => {
    if (globalThis.fetch === claimEarly) globalThis.fetch = original;
  };
  pyodide.then(restore, restore);
  return pyodide;
};

// The snapshot as bytes. A gzip file the page inflates itself, so that every host sends 4-6 MB
// rather than 30; our server sends its brotli form instead, which the browser inflates on the
// way. So the bytes decide: inflate only what still starts with gzip's magic number.
const snapshotBytes = async (response) => {
  const reader = response.body.getReader();
  const first = await reader.read();
  const body = new ReadableStream({
    start(controller) {
      if (!first.done) controller.enqueue(first.value);
    },
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) controller.close();
      else controller.enqueue(value);
    },
  });
  const gzipped = !first.done && first.value[0] === 0x1f && first.value[1] === 0x8b;
  return new Response(gzipped ? body.pipeThrough(new DecompressionStream("gzip")) : body).arrayBuffer();
};

// A snapshot this browser kept from an earlier visit, read without asking the network (null when
// there is none). Cache Storage rather than the HTTP cache: only it can be asked "do you have
// it?" at no cost and without a failed request in the console. It exists only in secure
// contexts (https, localhost); elsewhere every visit judges the link.
const SNAPSHOT_CACHE = "pychat-runtime";
const cachedSnapshot = async () => {
  try {
    const cache = await caches.open(SNAPSHOT_CACHE);
    const [key] = await cache.keys();
    return (key && (await cache.match(key))) ?? null;
  } catch {
    return null;
  }
};

const choosePath = async () => {
  const forced = new URLSearchParams(location.search).get("start");
  if (forced === "normal") return { path: "normal" };
  const cached = await cachedSnapshot();
  if (cached) return { path: "snapshot", response: cached };
  if (forced === "snapshot") return { path: "snapshot" };
  if (navigator.connection?.saveData) return { path: "normal" };
  const [rate, files] = await Promise.all([downloads.rate(FILES["app/stdlib.zip"]), manifest]);
  const snapshotSent = files?.["app/snapshot.gz"]?.br?.[0] ?? files?.["app/snapshot.gz"]?.identity?.[0];
  if (!snapshotSent) return { path: "normal" };
  const spinMs = downloads.timed?.spinMs ?? 0;
  const saves = Math.min(SAVES_MAX_S, Math.max(SAVES_MIN_S, spinMs * SAVES_S_PER_SPIN_MS));
  const path = snapshotSent / rate <= saves ? "snapshot" : "normal";
  // How the link and the CPU were judged: for benchmarks, and for whoever wonders why a path
  // was taken.
  performance.mark("pyodide:link", {
    detail: { bytesPerSecond: Math.round(rate), spinMs: Math.round(spinMs * 10) / 10, saves, path },
  });
  return { path };
};

// A snapshot is the interpreter as set-up left it, so three things in it describe the machine
// that made it rather than this page, and are renewed here:
// - the shared generator of `random`: without a fresh seed every page would draw the same
//   numbers (CPython's string-hash seed is fixed in the snapshot too; that one only matters
//   against hash flooding, which a page does not face);
// - the time zone: the C library reads it once (set-up's, usually UTC), and Python's `time`
//   copies it at import. Emscripten's own `_tzset_js` refills the C library's variables from
//   this browser; a second, fresh `time` module reads them as a start would, and `time` takes
//   its values. Offsets were right before (localtime asks the browser each time); zone names
//   and time.timezone were not;
// - the zip importer's table of the standard library's members, read from the zip set-up
//   mounted: it is read again from the zip this page fetched (the same one, unless a cached
//   snapshot outlived a deploy).
const RENEW = `
import importlib.util, random, sys, time
random.seed()
fresh = importlib.util.module_from_spec(importlib.util.find_spec("time"))
fresh.__spec__.loader.exec_module(fresh)  # CPython's own start-up reading of the time zone
for name in ("timezone", "altzone", "daylight", "tzname"):
    setattr(time, name, getattr(fresh, name))
for path, finder in list(sys.path_importer_cache.items()):
    if path.endswith(".zip") and finder is not None:
        finder.invalidate_caches()
del fresh, name, path, finder
`;
const adoptThisPage = (pyodide) => {
  pyodide._api.config._loadSnapshot = null; // its 30 MiB are in the heap now; let them go
  const module = pyodide._module;
  const names = module._tzname >>> 2;
  module.__tzset_js(module._timezone, module._daylight, module.HEAPU32[names], module.HEAPU32[names + 1]);
  pyodide.runPython(RENEW);
};

const fromSnapshot = async (cached) => {
  const response = cached ?? downloads.fetch(FILES["app/snapshot.gz"], { essential: false }).then((r) => {
    if (!r.ok) throw new Error(`snapshot.gz: HTTP ${r.status}`);
    return r;
  });
  const pyodide = await start({ _loadSnapshot: Promise.resolve(response).then(snapshotBytes) });
  adoptThisPage(pyodide); // if this fails, the restored runtime is not used
  return pyodide;
};

// Once the page has settled and the main thread is idle: keep the current snapshot for the next
// visit, unless the one kept already is it (the manifest names its digest). On this visit's
// snapshot start the bytes come again from the HTTP cache; after a normal start they are the
// one download this costs, at low priority, and not with Save-Data.
const keepSnapshotForNextVisit = () => {
  if (navigator.connection?.saveData || !globalThis.caches) return;
  const keep = async () => {
    try {
      const digest = (await manifest)?.["app/snapshot.gz"]?.sha256;
      if (!digest) return;
      const key = `${INDEX_URL}app/snapshot.gz?sha256=${digest}`;
      const cache = await caches.open(SNAPSHOT_CACHE);
      if (!(await cache.match(key))) {
        const response = await original(FILES["app/snapshot.gz"], { priority: "low" });
        if (!response.ok) return;
        await cache.put(key, response);
        for (const old of await cache.keys()) if (old.url !== key) await cache.delete(old);
      }
      performance.mark("pyodide:snapshot-stored");
    } catch (error) {
      console.info("snapshot not kept for the next visit:", String(error));
    }
  };
  const whenSettled = () => {
    if (document.body?.dataset.ready !== "true") return false;
    (globalThis.requestIdleCallback ?? ((callback) => setTimeout(callback, 0)))(keep, { timeout: 2000 });
    return true;
  };
  if (whenSettled()) return;
  const observer = new MutationObserver(() => whenSettled() && observer.disconnect());
  observer.observe(document.documentElement, { attributes: true, subtree: true, attributeFilter: ["data-ready"] });
};

const normally = (why) => {
  if (why) console.warn("Python runtime: starting without the snapshot:", why);
  performance.mark("pyodide:fresh");
  return start({});
};

const booting = Promise.all([choosePath(), afterFirstPaint()]).then(([{ path, response }]) => {
  if (path !== "snapshot") return normally(null);
  return fromSnapshot(response).then(
    (pyodide) => {
      performance.mark("pyodide:snapshot");
      return pyodide;
    },
    (error) => normally(error),
  );
});
if (new URLSearchParams(location.search).get("start") !== "normal") {
  booting.then(keepSnapshotForNextVisit, () => {});
}
// Reported by PyScript when it awaits the runtime; not an "unhandled" rejection before that.
booting.catch(() => {});

// PyScript's call: the runtime already on its way, printing through PyScript's handlers.
export async function loadPyodide(options = {}) {
  const unsupported = Object.keys(options).filter((k) => !["indexURL", "stdout", "stderr"].includes(k));
  if (unsupported.length) {
    // The runtime was started without them; failing loudly beats ignoring them.
    throw new Error(`pyodide-early.mjs does not pass on: ${unsupported.join(", ")}`);
  }
  if (options.stdout) stdout = options.stdout;
  if (options.stderr) stderr = options.stderr;
  return booting;
}
