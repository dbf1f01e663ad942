// Starts the Python runtime while PyScript itself is still loading, from a memory snapshot.
//
// PyScript imports the module named by `interpreter` in pyscript.toml and calls its
// `loadPyodide(options)` only after its own core has been fetched, evaluated and has read its
// config: 150 to 300 ms on our test machines in which nothing starts the runtime. This module
// is that `interpreter`. index.html also loads it as an async module script, so its first
// evaluation, as soon as it arrives, starts the served Pyodide's own `loadPyodide`. When
// PyScript later imports it (the same URL, so the same module instance) and calls
// `loadPyodide`, it gets the runtime that is already booting, with its output handlers attached.
//
// The runtime starts from `snapshot.gz`, a memory snapshot of a freshly started interpreter
// that set-up made with the same pinned Pyodide (backend/pyodide_snapshot.mjs): restoring it
// skips most of the interpreter's ~1.7 s start. If the snapshot is missing or refused (Pyodide
// checks that it comes from this very build), the runtime starts the normal way; the page
// records which on the Performance timeline (`pyodide:snapshot` or `pyodide:fresh`).
import { loadPyodide as loadServedPyodide, version } from "../vendor/pyodide/314.0.7/pyodide.mjs";

export { version };

const INDEX_URL = new URL("../vendor/pyodide/314.0.7/", import.meta.url).href;

// Lines printed before PyScript attaches its handlers (normally none) go to the console.
let stdout = (line) => console.log(line);
let stderr = (line) => console.error(line);

const start = (options) =>
  loadServedPyodide({
    indexURL: INDEX_URL,
    stdout: (line) => stdout(line),
    stderr: (line) => stderr(line),
    ...options,
  });

// index.html preloads it (marked optional: a missing snapshot is not a failed start). It is a
// gzip file, inflated here, so that every host sends 6 MiB rather than 30.
// A host that labels .gz files `Content-Encoding: gzip` has the browser inflate it on the way,
// so the bytes decide: inflate only what still starts with gzip's magic number.
const fetchSnapshot = async () => {
  const response = await fetch(`${INDEX_URL}snapshot.gz`);
  if (!response.ok) throw new Error(`snapshot.gz: HTTP ${response.status}`);
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

// A snapshot is the interpreter as set-up left it, so two things in it describe the machine
// that made it rather than this page, and are renewed here:
// - the shared generator of `random`: without a fresh seed every page would draw the same
//   numbers (CPython's string-hash seed is fixed in the snapshot too; that one only matters
//   against hash flooding, which a page does not face);
// - the time zone: the C library reads it once (set-up's, usually UTC), and Python's `time`
//   copies it at import. Emscripten's own `_tzset_js` refills the C library's variables from
//   this browser; a second, fresh `time` module reads them as a start would, and `time` takes
//   its values. Offsets were right before (localtime asks the browser each time); zone names
//   and time.timezone were not.
const RENEW = `
import importlib.util, random, time
random.seed()
fresh = importlib.util.module_from_spec(importlib.util.find_spec("time"))
fresh.__spec__.loader.exec_module(fresh)  # CPython's own start-up reading of the time zone
for name in ("timezone", "altzone", "daylight", "tzname"):
    setattr(time, name, getattr(fresh, name))
del fresh, name
`;
const adoptThisPage = (pyodide) => {
  pyodide._api.config._loadSnapshot = null;  // its 30 MiB are in the heap now; let them go
  const module = pyodide._module;
  const names = module._tzname >>> 2;
  module.__tzset_js(module._timezone, module._daylight, module.HEAPU32[names], module.HEAPU32[names + 1]);
  pyodide.runPython(RENEW);
};

const fromSnapshot = async () => {
  const pyodide = await start({ _loadSnapshot: fetchSnapshot() });
  adoptThisPage(pyodide);  // if this fails, the restored runtime is not used
  return pyodide;
};

const booting = fromSnapshot().then(
  (pyodide) => {
    performance.mark("pyodide:snapshot");
    return pyodide;
  },
  (error) => {
    console.warn("Python runtime: starting without the snapshot:", error);
    performance.mark("pyodide:fresh");
    return start({});
  },
);
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
