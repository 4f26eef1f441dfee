"""Run by test_mcp_client.py in a fresh interpreter (the SDK not yet imported): start the
demo server while a ticker runs on the same event loop; print the longest gap between
ticks in milliseconds (a chat screen that stops drawing for that long)."""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rung.engine.mcp.client import McpServer
from tests.mcp.helpers import stdio_config


async def main(log_dir: str) -> None:
    assert "mcp" not in sys.modules
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.05)  # ticking before the server starts
    server = McpServer(stdio_config(), Path(log_dir))
    await server.ensure()
    await server.stop()
    ticker.cancel()
    print(round(max(gaps) * 1000))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
