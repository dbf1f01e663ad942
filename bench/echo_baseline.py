"""Baseline for bench/server_load.py: a minimal echo server on the ``websockets`` library.

    .venv/bin/python bench/echo_baseline.py PORT

Same settings as ours where they matter: no compression, 64 KiB frames, pings every 20 s.
It echoes every text frame back, which is the least any chat server can do per message.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from websockets.asyncio.server import serve


async def echo(ws) -> None:
    async for message in ws:
        await ws.send(message)


async def main(port: int) -> None:
    stop = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set_result, None)
    async with serve(
        echo,
        "127.0.0.1",
        port,
        compression=None,
        max_size=64 * 1024 + 1,
        ping_interval=20,
        ping_timeout=20,
        backlog=2048,
    ):
        print(f"echo baseline on ws://127.0.0.1:{port}/", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
