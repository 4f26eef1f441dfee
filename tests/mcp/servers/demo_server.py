"""A real MCP server written with the SDK (mcp 2.x MCPServer), for Rung's MCP tests.

    python demo_server.py stdio                 # over stdin/stdout
    python demo_server.py http PORT [TOKEN]     # streamable HTTP on 127.0.0.1:PORT/mcp;
                                                # with TOKEN, requests must carry
                                                # "Authorization: Bearer TOKEN"

Tools: echo, add, read_fixture (read-only, say so in their annotations), environment
(the variables the server sees), check_env, crash (exits mid-call), sleep (hangs), leak (returns a
key-shaped string), note (not read-only).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp_types import ToolAnnotations

FIXTURE = Path(__file__).with_name("fixture.txt")
READ_ONLY = ToolAnnotations(read_only_hint=True)

server = MCPServer("rung-demo")


@server.tool(annotations=READ_ONLY)
def echo(text: str) -> str:
    """Return the text as it was sent."""
    return text


@server.tool(annotations=READ_ONLY)
def add(a: int, b: int) -> str:
    """Add two integers."""
    return str(a + b)


@server.tool(annotations=READ_ONLY)
def read_fixture() -> str:
    """Read the server's fixture file."""
    return FIXTURE.read_text(encoding="utf-8")


@server.tool(annotations=READ_ONLY)
def environment() -> str:
    """The names and values of the environment variables this server sees."""
    return "\n".join(f"{k}={v}" for k, v in sorted(os.environ.items()))


@server.tool(annotations=READ_ONLY)
def check_env(name: str, value: str) -> str:
    """Whether the variable `name` holds exactly `value`."""
    return "match" if os.environ.get(name) == value else "differs"


@server.tool()
def crash() -> str:
    """Exit the server process in the middle of the call."""
    print("demo server: crashing on purpose", file=sys.stderr, flush=True)
    os._exit(3)


@server.tool()
def sleep(seconds: float = 3600) -> str:
    """Hang for a long time."""
    time.sleep(seconds)
    return "woke up"


@server.tool(annotations=READ_ONLY)
def leak() -> str:
    """Return text holding a key-shaped secret."""
    return "the key is sk-proj-abcdefghijklmnopqrstuvwxyz0123456789 keep it safe"


@server.tool()
def note(text: str) -> str:
    """Write a note (not read-only)."""
    return f"noted: {text}"


def _http(port: int, token: str | None) -> None:
    import uvicorn
    from starlette.responses import PlainTextResponse

    app = server.streamable_http_app()

    async def guarded(scope, receive, send):  # type: ignore[no-untyped-def]
        if scope["type"] == "http" and token is not None:
            headers = dict(scope.get("headers") or [])
            if headers.get(b"authorization") != f"Bearer {token}".encode():
                await PlainTextResponse("unauthorized", status_code=401)(scope, receive, send)
                return
        await app(scope, receive, send)

    uvicorn.run(guarded, host="127.0.0.1", port=port, log_level="warning", lifespan="on")


if __name__ == "__main__":
    print(f"demo server: starting ({' '.join(sys.argv[1:])})", file=sys.stderr, flush=True)
    if sys.argv[1:2] == ["http"]:
        _http(int(sys.argv[2]), sys.argv[3] if len(sys.argv) > 3 else None)
    else:
        server.run("stdio")
