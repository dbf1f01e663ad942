"""Choosing the persistence by URL: ``sqlite:///path`` (embedded) or ``redis://…`` (shared).

>>> sqlite_path("sqlite:///data/pychat.db"), sqlite_path("sqlite:////var/lib/pychat.db")
('data/pychat.db', '/var/lib/pychat.db')
"""

from __future__ import annotations

from backend.storage import Storage

SQLITE = "sqlite:///"
REDIS = ("redis://", "rediss://", "unix://")


def sqlite_path(url: str) -> str:
    return url.removeprefix(SQLITE)


def open_storage(url: str, settings) -> Storage:
    """The storage for ``url``; its persistence opens its resources now and frees them in
    :meth:`Storage.close`."""
    if url.startswith(SQLITE):
        from backend.sqlite_storage import SqlitePersistence

        return Storage(SqlitePersistence(sqlite_path(url), settings.clock), settings)
    if url.startswith(REDIS):
        from backend.redis_storage import RedisPersistence

        return Storage(RedisPersistence(url, settings.clock), settings)
    raise ValueError(f"unknown storage {url!r}: use sqlite:///PATH or redis://HOST:PORT/DB")
