"""The browser side of the chat app.

Everything here except :mod:`app.browser` is pure Python: it never imports ``js`` or
``pyscript`` and runs unchanged under CPython (``tests/``) and under Pyodide (the page).
"""
