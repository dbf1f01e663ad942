"""Typed keys for what the app factory stores on the aiohttp application."""

from __future__ import annotations

from aiohttp import web

from backend.config import Settings
from backend.hub import Hub
from backend.storage import Storage

SETTINGS = web.AppKey("settings", Settings)
STORAGE = web.AppKey("storage", Storage)
HUB = web.AppKey("hub", Hub)
