"""One MCP server's connection, on the official SDK (``mcp`` 2.x: ``Client`` over its
stdio or streamable-HTTP transport; imported here, when a server first starts).

The SDK's client is an async context that must be entered and left by the same task, so
each server has one task that holds it open (``_serve``) while calls are made from the
agent's task. Every wait is bounded by the server's ``timeout``: starting it, listing
its tools, each call. A hung server fails the call with a clear message; a server that
dies (a crash, a dropped connection) is restarted once, and the next death leaves it
"failed" with the reason and its log. A call that a death cut short is never repeated:
it may have had effects.

Stdio servers get an explicit environment: a few basics (PATH, HOME, LANG, ...) and the
server's own ``env``, never the whole of Rung's (which holds provider keys). Their
stderr goes to ``<data dir>/mcp/NAME.log``. The glue to the SDK is in ``sdk``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rung.engine.mcp.config import KEY_PREFIX, ServerConfig, ServerConfigError, resolve_secrets
from rung.engine.mcp.sdk import (
    StdioTransport,
    basic_env,
    is_connection_lost,
    load_sdk,
    quiet_sdk_logs,
    result_text,
    why,
)

MAX_PAGES = 20  # tools/list pages read from one server
MAX_LOG_BYTES = 1024 * 1024  # a log past this is moved to NAME.log.1 when the server starts
MIN_MASKED = 4  # a keyring value at least this long is masked in what the server says
STOP_GRACE = 10.0  # seconds the SDK may take to stop a server (close stdin, TERM, KILL)


@dataclass(frozen=True)
class RemoteTool:
    """A tool as the server lists it."""

    name: str
    description: str
    schema: dict[str, Any]
    read_only: bool  # the server's readOnlyHint (its word, not checked)


@dataclass(frozen=True)
class Outcome:
    text: str
    is_error: bool


class ServerFailed(Exception):
    """The server cannot be used; the message says why, for the user and the model."""


class McpServer:
    """One configured server: ``await ensure()`` starts it (once), ``call`` runs a tool,
    ``stop`` ends it. ``state`` is stopped, starting, running or failed (``reason``)."""

    def __init__(
        self,
        config: ServerConfig,
        log_dir: Path,
        secret: Callable[[str], str | None] = lambda _entry: None,
        cwd: Path | None = None,
    ) -> None:
        self.config = config
        self.log_path = Path(log_dir) / f"{config.name}.log"
        self.secret = secret
        self.cwd = cwd
        self.state = "stopped"
        self.reason = ""
        self.tools: list[RemoteTool] = []
        self.deaths = 0
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None
        self._lock = asyncio.Lock()
        self._secrets: set[str] = set()  # values put in its headers or env from the keyring

    @property
    def name(self) -> str:
        return self.config.name

    # -- starting ---------------------------------------------------------------------
    async def ensure(self) -> None:
        """Running, or ``ServerFailed`` with the reason (a failed server stays failed)."""
        async with self._lock:
            if self.state == "running":
                return
            if self.state == "failed":
                raise ServerFailed(self.reason)
            await self._start()

    async def _start(self) -> None:
        self.state = "starting"
        try:
            await self._connect()
        except asyncio.CancelledError:  # Esc while starting: no half-started server left
            await asyncio.shield(self._teardown())
            raise

    async def _connect(self) -> None:
        timeout = self.config.start_timeout
        try:
            # The SDK's import takes 1-3 s (pydantic models, starlette, httpx2): on a
            # thread, so the chat screen keeps drawing while the first server starts.
            quiet_sdk_logs(self.log_path.parent)
            await asyncio.to_thread(load_sdk)
        except ImportError as exc:
            self._fail(f"the MCP SDK cannot be imported ({exc}); reinstall Rung")
        try:
            target = self._target()
        except ServerConfigError as exc:
            self._fail(str(exc))
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[Any] = loop.create_future()
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self._serve(target, ready, self._stop))
        try:
            self._client = await asyncio.wait_for(asyncio.shield(ready), timeout)
            self.tools = await asyncio.wait_for(self._list_tools(), timeout)
        except TimeoutError:
            await self._teardown()
            self._fail(f"it did not start within {timeout:g} s{self._log_hint()}")
        except ServerFailed as exc:
            await self._teardown()
            self._fail(str(exc))
        except Exception as exc:
            await self._teardown()
            self._fail(f"{why(exc)}{self._log_hint()}")
        self.state, self.reason = "running", ""

    def _fail(self, reason: str) -> None:
        self.state, self.reason = "failed", reason
        raise ServerFailed(reason)

    def _log_hint(self) -> str:
        if self.config.transport != "stdio":
            return ""
        last = ""
        with contextlib.suppress(OSError), self.log_path.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - 2000))
            lines = log.read().decode("utf-8", "replace").strip().splitlines()
            last = lines[-1].strip()[:200] if lines else ""
        said = f"; it said: {last}" if last else ""
        return f"{said} (log: {self.log_path})"

    def _target(self) -> Any:
        """The SDK's server description (stdio) or transport (HTTP)."""
        config = self.config

        def lookup(entry: str) -> str | None:
            found = self.secret(KEY_PREFIX + entry)
            if found and len(found) >= MIN_MASKED:
                self._secrets.add(found)  # masked wherever the server echoes it
            return found

        if config.command:
            from mcp import StdioServerParameters

            env = basic_env(resolve_secrets(config.env, lookup))
            return StdioServerParameters(
                command=config.command, args=list(config.args), env=env,
                cwd=str(self.cwd) if self.cwd else None, encoding_error_handler="replace",
            )  # fmt: skip
        headers = resolve_secrets(config.headers, lookup)
        return ("http", config.url, headers)

    async def _serve(self, target: Any, ready: asyncio.Future[Any], stop: asyncio.Event) -> None:
        """Hold the SDK's client open until ``stop`` (or the connection ends)."""
        from mcp import Client
        from mcp_types import Implementation

        info = Implementation(name="rung", version="0")
        log = None
        try:
            async with contextlib.AsyncExitStack() as stack:
                if isinstance(target, tuple):  # streamable HTTP, with its own headers
                    import httpx2
                    from mcp.client.streamable_http import streamable_http_client
                    from mcp.shared._httpx_utils import create_mcp_http_client

                    _, url, headers = target
                    seconds = self.config.timeout
                    timeout = httpx2.Timeout(seconds, read=max(300.0, seconds))
                    http = await stack.enter_async_context(create_mcp_http_client(headers, timeout))
                    server: Any = streamable_http_client(url, http_client=http)
                else:
                    log = self._open_log()
                    stack.callback(log.close)
                    server = StdioTransport(target, log)
                client = await stack.enter_async_context(
                    Client(server, read_timeout_seconds=self.config.timeout, client_info=info)
                )
                if not ready.done():
                    ready.set_result(client)
                await stop.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(ServerFailed(f"{why(exc)}{self._log_hint()}"))
            if isinstance(exc, asyncio.CancelledError):
                raise

    def _open_log(self) -> Any:
        self.log_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            if self.log_path.stat().st_size > MAX_LOG_BYTES:
                os.replace(self.log_path, self.log_path.with_suffix(".log.1"))
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return os.fdopen(fd, "a", encoding="utf-8", errors="replace")

    async def _list_tools(self) -> list[RemoteTool]:
        found: dict[str, RemoteTool] = {}
        cursor: str | None = None
        for _ in range(MAX_PAGES):
            page = await self._client.list_tools(cursor=cursor)
            for tool in page.tools:
                annotations = getattr(tool, "annotations", None)
                read_only = bool(getattr(annotations, "read_only_hint", False))
                schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
                found.setdefault(tool.name, RemoteTool(tool.name, tool.description or "",
                                                       schema, read_only))  # fmt: skip
            cursor = page.next_cursor
            if not cursor:
                break
        return [found[name] for name in sorted(found)]

    # -- calling ----------------------------------------------------------------------
    async def call(self, tool: str, arguments: dict[str, Any]) -> Outcome:
        """Run ``tool``; never raises for the server's failures (only CancelledError)."""
        name, timeout = self.name, self.config.timeout
        try:
            await self.ensure()
        except ServerFailed as exc:
            return Outcome(f"The MCP server {name} is not available: {exc}", True)
        client = self._client
        try:
            result = await asyncio.wait_for(
                client.call_tool(tool, arguments, read_timeout_seconds=timeout), timeout + 2
            )
        except TimeoutError:
            return self._timed_out(tool)
        except Exception as exc:
            from mcp.shared.exceptions import MCPError
            from mcp_types import REQUEST_TIMEOUT

            if isinstance(exc, MCPError) and exc.code == REQUEST_TIMEOUT:
                return self._timed_out(tool)
            if not is_connection_lost(exc):
                refused = f"The MCP server {name} refused the call to {tool}: {why(exc)}"
                refused = self.masked(refused)
                return Outcome(refused, True)
            return Outcome(await self._died(tool, exc), True)
        return Outcome(self.masked(result_text(result)), bool(getattr(result, "is_error", False)))

    def masked(self, text: str) -> str:
        """``text`` with every keyring value this server was given masked (a server may
        echo its token; the dispatcher masks only what looks like a key)."""
        from rung.engine.secrets import mask

        for value in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(value, mask(value))
        return text

    def _timed_out(self, tool: str) -> Outcome:
        return Outcome(
            f"The MCP server {self.name} did not answer {tool} within "
            f"{self.config.timeout:g} s; the call was abandoned (the server may still be "
            "working on it). Go on without it or try something else.",
            True,
        )

    async def _died(self, tool: str, exc: BaseException) -> str:
        """The server stopped during a call: restart it once; the message for the model."""
        cause = f"{why(exc)}{self._log_hint()}"
        async with self._lock:
            await self._teardown()
            self.deaths += 1
            first = f"The MCP server {self.name} stopped during the call to {tool} ({cause})."
            if self.deaths > 1:
                self.state = "failed"
                self.reason = f"it stopped again ({cause}); it is not restarted a second time"
                return (f"{first} It stopped before too, so it is not restarted: its "
                        "tools fail from now on.")  # fmt: skip
            try:
                await self._start()
            except ServerFailed as again:
                return f"{first} Restarting it failed: {again}"
        return f"{first} It was restarted; the call was not repeated (it may have had effects)."

    # -- stopping ---------------------------------------------------------------------
    async def _teardown(self) -> None:
        task, stop, connected = self._task, self._stop, self._client is not None
        self._client = self._task = self._stop = None
        if stop is not None:
            stop.set()  # a connected client leaves its context: the SDK stops the server
        if task is not None and not task.done():
            if not connected:
                task.cancel()  # stuck connecting (a hung start): nothing to close politely
            done, _ = await asyncio.wait({task}, timeout=STOP_GRACE)
            if not done:
                task.cancel()
                await asyncio.wait({task}, timeout=STOP_GRACE)
        if task is not None and task.done() and not task.cancelled():
            task.exception()  # retrieved: its failure was already told
        if self.state != "failed":
            self.state = "stopped"

    async def stop(self) -> None:
        async with self._lock:
            await self._teardown()
