// The physical floor for page start-up: the same self-hosted Pyodide, no PyScript, no app.
// With ?snapshot it starts from the app's memory snapshot on the app's cut standard library
// (the snapshot was made on that zip), as static/pyodide-early.mjs's snapshot path does.
import { loadPyodide } from "../../vendor/pyodide/314.0.7/pyodide.mjs";

const indexURL = new URL("../../vendor/pyodide/314.0.7/", import.meta.url).href;
const options = { indexURL };
if (new URLSearchParams(location.search).has("snapshot")) {
  options.stdLibURL = `${indexURL}app/stdlib.zip`;
  options._loadSnapshot = fetch(`${indexURL}app/snapshot.gz`).then(async (response) => {
    const bytes = new Uint8Array(await response.arrayBuffer());
    const gzipped = bytes[0] === 0x1f && bytes[1] === 0x8b; // our server sends it br-decoded
    return gzipped ? new Response(new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"))).arrayBuffer() : bytes;
  });
}
const pyodide = await loadPyodide(options);
const two = pyodide.runPython("1+1");
window.__floorDone = performance.now();
document.body.dataset.ready = two === 2 ? "true" : "wrong";
