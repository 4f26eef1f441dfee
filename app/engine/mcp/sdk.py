"""The SDK glue for ``client``: importing it (on a thread, once), keeping its log off
the terminal, a stdio server's environment, its errors as sentences, a tool result as
text, and the stdio transport with stderr to the server's log."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

# What a stdio server inherits from Rung's environment; anything else it needs goes in
# its `env` (secrets as ${keyring:ENTRY}).
BASIC_ENV = ("PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM", "LANG", "LC_ALL",
             "LC_CTYPE", "TZ", "TMPDIR")  # fmt: skip
MAX_RESULT_CHARS = 1_000_000  # of a tool's result kept before masking and bounding
_sdk_log: Any = None


def quiet_sdk_logs(log_dir: Path) -> None:
    """The SDK logs a server's protocol errors (a line on stdout that is not JSON-RPC)
    with tracebacks; with no handler Python prints them on Rung's stderr, over the chat
    screen. They go to ``<log dir>/sdk.log`` instead (once per process)."""
    global _sdk_log
    if _sdk_log is not None:
        return
    import logging

    log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        handler: logging.Handler = logging.FileHandler(log_dir / "sdk.log", delay=True)
    except OSError:
        handler = logging.NullHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    for name in ("mcp", "mcp_types"):
        logger = logging.getLogger(name)
        logger.addHandler(handler)
        logger.propagate = False
    _sdk_log = handler


def load_sdk() -> None:
    """Import the parts of the SDK a connection uses (once; later calls are free)."""
    import mcp
    import mcp.client.stdio
    import mcp.client.streamable_http
    import mcp.shared._httpx_utils  # noqa: F401


def basic_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: os.environ[k] for k in BASIC_ENV if k in os.environ}
    return env | extra


def leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for e in exc.exceptions for leaf in leaves(e)]
    return [exc]


def why(exc: BaseException) -> str:
    """A sentence for an SDK or transport failure (the innermost real cause)."""
    found = [e for e in leaves(exc) if not isinstance(e, asyncio.CancelledError)] or [exc]
    leaf = found[0]
    if isinstance(leaf, FileNotFoundError):
        return f"the program was not found ({leaf.filename or leaf})"
    if isinstance(leaf, PermissionError):
        return f"the program cannot be run ({leaf.strerror or leaf})"
    text = str(leaf).strip() or type(leaf).__name__
    return text if len(text) < 300 else text[:300] + "…"


def is_connection_lost(exc: BaseException) -> bool:
    from mcp.shared.exceptions import MCPError
    from mcp_types import CONNECTION_CLOSED

    if isinstance(exc, MCPError):
        return exc.code == CONNECTION_CLOSED
    return True  # not an answer from the server: the transport broke


def result_text(result: Any) -> str:
    """A CallToolResult as text for the model: text parts as they are, other parts named."""
    parts: list[str] = []
    for item in getattr(result, "content", None) or []:
        kind = getattr(item, "type", "")
        if kind == "text":
            parts.append(str(getattr(item, "text", "")))
        elif kind in ("image", "audio"):
            size = len(getattr(item, "data", "") or "")
            parts.append(f"[{kind}: {getattr(item, 'mime_type', '?')}, {size} base64 chars]")
        elif kind == "resource":
            resource = getattr(item, "resource", None)
            text = getattr(resource, "text", None)
            uri = getattr(resource, "uri", "")
            parts.append(str(text) if text is not None else f"[resource {uri}]")
        elif kind == "resource_link":
            parts.append(f"[link {getattr(item, 'uri', '')}]")
        else:
            parts.append(f"[{kind or 'unknown'} content]")
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False, sort_keys=True))
    text = "\n".join(parts) if parts else "(no output)"
    if len(text) > MAX_RESULT_CHARS:  # masked and sanitised next: not 100 MB of it
        cut = len(text) - MAX_RESULT_CHARS
        text = f"{text[:MAX_RESULT_CHARS]}\n… {cut} more characters of the result cut …"
    return text


class StdioTransport:
    """The SDK's stdio transport with stderr to the server's log (``Client`` given a
    ``StdioServerParameters`` would send it to Rung's own stderr, the user's screen)."""

    def __init__(self, params: Any, log: Any) -> None:
        from mcp.client.stdio import stdio_client

        self._context = stdio_client(params, errlog=log)

    async def __aenter__(self) -> Any:
        return await self._context.__aenter__()

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._context.__aexit__(*exc)
