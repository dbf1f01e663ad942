"""JSON errors: every failure the server reports has the same small shape.

``{"error": {"code": "invalid_credentials", "message": "Wrong user name or password."}}``
"""

from __future__ import annotations

from aiohttp import web


def json_error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.json_response(
        {"error": {"code": code, "message": message}}, status=status, headers=headers
    )
