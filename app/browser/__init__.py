"""The only package that touches the browser (``js``, ``pyodide``): thin adapters.

Each module turns browser callbacks into events for a pure core and performs the effects the
core returns; none of them decides anything.  Start-up (listed in ``pyscript.toml``):
:mod:`.dom`, :mod:`.proxies`, :mod:`.timers`, :mod:`.storage`, :mod:`.http`, :mod:`.loader`
and :mod:`.shell`.  Fetched after sign-in: :mod:`.chat` (the chat's entry, which owns the
socket registry), :mod:`.chat_connection` (with :mod:`.tab_lock` and :mod:`.tab_channel`, which
share it between tabs), :mod:`.chat_panel`, :mod:`.markdown_install`.
Preview mode only: :mod:`.preview_toolbar`.
"""
