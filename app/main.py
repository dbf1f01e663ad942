"""Page entry point, run by PyScript (``<script type="py" src="app/main.py">``).

Kept to one call so that nothing happens at import time anywhere else.
"""

from app.browser.shell import boot

shell = await boot()  # noqa: F704 - PyScript runs this file with top-level await
