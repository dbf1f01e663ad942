"""The server: an aiohttp application built by :func:`backend.app.create_app`."""
