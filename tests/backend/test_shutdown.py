"""A real server.py told to stop (SIGTERM) closes every socket with 1012."""

from __future__ import annotations

import asyncio
import json
import signal

from websockets.asyncio.client import connect

from backend.auth import COOKIE_NAME
from tests.backend.wsclient import close_code
from tests.support import PASSWORD, ServerProcess, add_user, session_token


async def test_graceful_shutdown_sends_1012(tmp_path):
    db = tmp_path / "app.db"
    add_user(db, "ada", PASSWORD)
    server = ServerProcess(db).start()
    try:
        token = session_token(server)
        url = server.url.replace("http://", "ws://") + "/api/ws?tab=t"
        async with connect(
            url, origin=server.url, additional_headers={"Cookie": f"{COOKIE_NAME}={token}"}
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "welcome"
            server.proc.send_signal(signal.SIGTERM)
            assert await close_code(ws, 10) == 1012
        await asyncio.to_thread(server.proc.wait, 10)
        assert server.proc.returncode == 0
    finally:
        server.stop()
