// Starts the Python runtime while PyScript itself is still loading.
//
// PyScript imports the module named by `interpreter` in pyscript.toml and calls its
// `loadPyodide(options)` only after its own core has been fetched, evaluated and has read its
// config: about 150 to 200 ms on our test machines in which the runtime's files sit in the
// cache, already downloaded, and nothing compiles them. This module is that `interpreter`.
// index.html also loads it as an async module script, so its first evaluation, as soon as it
// arrives, starts the served Pyodide's own `loadPyodide`. When PyScript later imports it (the
// same URL, so the same module instance) and calls `loadPyodide`, it gets the runtime that is
// already booting, with PyScript's output handlers attached.
//
// Nothing else changes: the same exact-pinned Pyodide from our origin, the same options
// PyScript would pass (indexURL; stdout and stderr, attached below); a failure still rejects
// the promise PyScript awaits, so its error reporting and boot.js's watchdog still apply.
import { loadPyodide as loadServedPyodide, version } from "../vendor/pyodide/314.0.7/pyodide.mjs";

export { version };

// Lines printed before PyScript attaches its handlers (normally none) go to the console.
let stdout = (line) => console.log(line);
let stderr = (line) => console.error(line);

const booting = loadServedPyodide({
  indexURL: new URL("../vendor/pyodide/314.0.7/", import.meta.url).href,
  stdout: (line) => stdout(line),
  stderr: (line) => stderr(line),
});
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
