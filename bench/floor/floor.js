// The physical floor for page start-up: the same self-hosted Pyodide, no PyScript, no app.
// With ?snapshot it starts from the same memory snapshot the app uses (static/pyodide-early.mjs),
// the floor for an app that starts that way.
import { loadPyodide } from "../../vendor/pyodide/314.0.7/pyodide.mjs";

const indexURL = new URL("../../vendor/pyodide/314.0.7/", import.meta.url).href;
const options = { indexURL };
if (new URLSearchParams(location.search).has("snapshot")) {
  options._loadSnapshot = fetch(`${indexURL}snapshot.gz`).then((response) =>
    new Response(response.body.pipeThrough(new DecompressionStream("gzip"))).arrayBuffer());
}
const pyodide = await loadPyodide(options);
const two = pyodide.runPython("1+1");
window.__floorDone = performance.now();
document.body.dataset.ready = two === 2 ? "true" : "wrong";
