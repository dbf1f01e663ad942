"""Which files make up the lazily loaded chat, and the order to write them.

Kept out of pyscript.toml's start-up list: the page fetches these (in parallel) only once the
auth snapshot is authenticated, writes them to the interpreter's file system, invalidates the
import caches and imports :data:`ENTRY`.
"""

from __future__ import annotations

CHAT_FILES: tuple[str, ...] = (
    "app/wire/close_codes.py",
    "app/wire/frames.py",
    "app/wire/agent_runs.py",
    "app/net/close_policy.py",
    "app/net/link.py",
    "app/net/connection.py",
    "app/net/registry.py",
    "app/net/leadership.py",
    "app/chat/__init__.py",
    "app/chat/protocol.py",
    "app/chat/cut.py",
    "app/chat/conversation.py",
    "app/chat/status.py",
    "app/chat/markdown.py",
    "app/chat/session.py",
    "app/chat/sharing.py",
    "app/chat/view.py",
    "app/browser/markdown_install.py",
    "app/browser/tab_lock.py",
    "app/browser/tab_channel.py",
    "app/browser/chat_connection.py",
    "app/browser/chat_panel.py",
    "app/browser/chat.py",
)
ENTRY = "app.browser.chat"
