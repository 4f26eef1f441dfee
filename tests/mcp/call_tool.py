"""Run by test_mcp_client.py in a fresh interpreter: start the demo server (logs in
LOG_DIR) behind a shell that first writes a line that is not JSON-RPC on its stdout, call
each TOOL given (echo with the text "echoed", the others without arguments), print each
result's text on its own line."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from rung.engine.mcp.client import McpServer
from rung.engine.mcp.config import ServerConfig
from tests.mcp.helpers import DEMO


async def main(log_dir: str, tools: list[str]) -> None:
    noisy = f'echo "this is not json"; exec "{sys.executable}" "{DEMO}" stdio'
    server = McpServer(ServerConfig("demo", command="sh", args=("-c", noisy)), Path(log_dir))
    try:
        for tool in tools:
            outcome = await server.call(tool, {"text": "echoed"} if tool == "echo" else {})
            print(outcome.text, flush=True)
    finally:
        await server.stop()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2:]))
