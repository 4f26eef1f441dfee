"""The real MCP servers of these tests: the SDK-written demo server over stdio, and over
streamable HTTP on 127.0.0.1 (a subprocess on a free port)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rung.engine.mcp.config import ServerConfig

DEMO = Path(__file__).parent / "servers" / "demo_server.py"
TOKEN = "mcp-test-token-7f3a9c"


def stdio_config(name: str = "demo", timeout: float = 20.0, **env: str) -> ServerConfig:
    return ServerConfig(name, command=sys.executable, args=(str(DEMO), "stdio"), env=env,
                        timeout=timeout)  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def http_server(token: str | None = TOKEN) -> Iterator[str]:
    """The demo server over streamable HTTP; its URL (stopped afterwards)."""
    port = free_port()
    args = [sys.executable, str(DEMO), "http", str(port), *([token] if token else [])]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, "the HTTP MCP server did not start"
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
