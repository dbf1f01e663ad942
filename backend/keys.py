"""Typed keys for what the app factory stores on the aiohttp application."""

from __future__ import annotations

import sqlite3

from aiohttp import web

from backend.config import Settings
from backend.hub import Hub
from backend.storage import Storage

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", sqlite3.Connection)  # the embedded database (absent with Redis)
STORAGE = web.AppKey("storage", Storage)
HUB = web.AppKey("hub", Hub)
