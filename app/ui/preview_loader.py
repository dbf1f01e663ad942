"""Preview mode: when it is on, and which files it downloads (never in the normal start-up).

On with ``?preview=1``, off with ``?preview=0``; otherwise the build decides (a build made for
previews marks ``<html data-preview="default">``)::

    >>> requested("?preview=1", default=False), requested("?x=1&preview=0", default=True)
    (True, False)
"""

from __future__ import annotations

PREVIEW_FILES: tuple[str, ...] = (
    "app/preview/__init__.py",
    "app/wire/guide.py",
    "app/wire/client_frames.py",
    "app/wire/agent_runs.py",
    "app/wire/frames.py",
    "app/wire/close_codes.py",
    "app/preview/server.py",
    "app/preview/content.py",
    "app/preview/states.py",
    "app/browser/preview_toolbar.py",
    "app/net/link.py",
)
ENTRY = "app.browser.preview_toolbar"


def requested(search: str, default: bool) -> bool:
    """Whether the page at ``location.search`` runs in preview mode."""
    for pair in search.removeprefix("?").split("&"):
        key, _, value = pair.partition("=")
        if key == "preview":
            return value not in ("0", "false", "no", "off")
    return default
