// The physical floor for page start-up: the same self-hosted Pyodide, no PyScript, no app.
import { loadPyodide } from "../../vendor/pyodide/314.0.7/pyodide.mjs";

const pyodide = await loadPyodide({ indexURL: new URL("../../vendor/pyodide/314.0.7/", import.meta.url).href });
const two = pyodide.runPython("1+1");
window.__floorDone = performance.now();
document.body.dataset.ready = two === 2 ? "true" : "wrong";
