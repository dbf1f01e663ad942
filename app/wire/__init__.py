"""Wire facts that the page, the server and the preview's simulated server must agree on.

Close codes, limits, URLs, frame shapes and the guide agent's words, written once.  Pure Python
with no imports beyond the standard library: the page loads it (see ``pyscript.toml`` and the
loaders in :mod:`app.ui`), ``backend/`` imports it (and nothing else of ``app/``), and
``tests/contract`` holds both servers to it.
"""
