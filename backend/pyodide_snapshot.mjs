// Writes a memory snapshot of a freshly started Pyodide: `node pyodide_snapshot.mjs <dir>`,
// where <dir> holds the served runtime (pyodide.mjs, pyodide.asm.*, python_stdlib.zip); the
// snapshot goes to <dir>/snapshot.gz, gzipped (30 MiB raw, 6 MiB on the wire from any host).
//
// Starting the interpreter (the wasm's own start-up, then CPython's) takes about 1.7 s of the
// page's main thread on our test machines; restoring its memory from this file takes about
// 0.15 s. The page (static/pyodide-early.mjs) passes it to loadPyodide as `_loadSnapshot`.
// Pyodide checks the build id stored in it and refuses a snapshot of any other build, and
// the page then starts the interpreter the normal way.
//
// Made under Node because set-up has it (npm ci) and no browser: the snapshot holds only the
// Python heap of an interpreter that has run nothing yet, so it does not depend on where it was
// made (the page's JavaScript side is rebuilt at load). Run by backend/runtime.py.
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const dir = resolve(process.argv[2] ?? ".");
const { loadPyodide } = await import(pathToFileURL(`${dir}/pyodide.mjs`).href);
const pyodide = await loadPyodide({ indexURL: `${dir}/`, _makeSnapshot: true });
writeFileSync(`${dir}/snapshot.gz`, gzipSync(pyodide.makeMemorySnapshot(), { level: 9 }));
