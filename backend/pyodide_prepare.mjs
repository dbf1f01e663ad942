// Makes the page's two runtime files that depend on the app, from the pinned Pyodide:
//
//   node pyodide_prepare.mjs <dir> <roots.txt> <stdlib_prune.py>
//
// where <dir> holds the served runtime (pyodide.mjs, pyodide.asm.*, python_stdlib.zip).
//
// 1. app-stdlib.zip (deflated) and app-stdlib.stored.zip: Pyodide's standard library cut to
//    the modules the page imports (backend/stdlib_prune.py says how). The pruning runs in
//    Pyodide because the sources are Python 3.14, which only 3.14's parser reads.
// 2. snapshot.raw: a memory snapshot of an interpreter freshly started on that cut library.
//    Starting the interpreter (the wasm's own start-up, then CPython's) takes about 1.7 s of the
//    page's main thread on our test machines; restoring this takes about 0.15 s. The page
//    (static/pyodide-early.mjs) passes it to loadPyodide as `_loadSnapshot` on links where its
//    bytes cost less than that. Pyodide checks the build id stored in it and refuses a snapshot
//    of any other build. The snapshot must be made on the very zip the page mounts: CPython's
//    zip importer keeps the archive's directory (offsets) in the heap that is saved here.
//
// Made under Node because set-up has it (npm ci) and no browser: the snapshot holds only the
// Python heap of an interpreter that has run nothing yet, so it does not depend on where it
// was made (the page's JavaScript side is rebuilt at load). backend/runtime.py runs this, then
// compresses what it wrote.
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [dir, rootsFile, pruneScript] = process.argv.slice(2).map((arg) => resolve(arg));
const { loadPyodide } = await import(pathToFileURL(`${dir}/pyodide.mjs`).href);

const full = await loadPyodide({ indexURL: `${dir}/` });
full.FS.writeFile("/tmp/roots.txt", readFileSync(rootsFile));
full.FS.writeFile("/tmp/stdlib_prune.py", readFileSync(pruneScript));
full.runPython(`
import runpy, sys
sys.argv = ["stdlib_prune.py", "/lib/python314.zip", "/tmp/roots.txt", "/tmp/deflated.zip",
            "/tmp/stored.zip"]
runpy.run_path("/tmp/stdlib_prune.py", run_name="__main__")
`);
writeFileSync(`${dir}/app-stdlib.zip`, full.FS.readFile("/tmp/deflated.zip"));
writeFileSync(`${dir}/app-stdlib.stored.zip`, full.FS.readFile("/tmp/stored.zip"));

const cut = await loadPyodide({
  indexURL: `${dir}/`,
  stdLibURL: `${dir}/app-stdlib.zip`,
  _makeSnapshot: true,
});
writeFileSync(`${dir}/snapshot.raw`, cut.makeMemorySnapshot());
