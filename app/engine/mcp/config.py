"""``[mcp.servers.NAME]`` tables, read from the config file as written (``config.raw``):
the schema of the other sections has no table of tables.

    [mcp.servers.files]
    command = "npx"
    args = ["-y", "@modelcontextprotocol/server-filesystem", "/home/me/notes"]
    env = { LOG_LEVEL = "warn" }

    [mcp.servers.tracker]
    url = "https://mcp.example.com/mcp"
    headers = { Authorization = "Bearer ${keyring:tracker}" }
    timeout = 60          # seconds a call may take (default 60)
    start_timeout = 30    # seconds to start and list tools (default 30)

Secrets never go in the file: ``${keyring:ENTRY}`` in a header or ``env`` value is
replaced, when the server starts, by the key stored with ``rung mcp key ENTRY`` (the OS
keyring, service ``rung``, account ``mcp:ENTRY``; the opt-in key file where there is no
keyring). A value that looks like a key is reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT = 60.0  # seconds one call may take
DEFAULT_START_TIMEOUT = 30.0  # seconds to start a server and list its tools (npx may fetch)
MAX_TIMEOUT = 600.0
# A letter first (Gemini's function names must start with one); short, to leave room for
# the tool's own name in a 64-character name.
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
KEYRING_REF = re.compile(r"\$\{keyring:([A-Za-z0-9_.-]{1,64})\}")
KEY_PREFIX = "mcp:"  # the keyring account of ENTRY is mcp:ENTRY (never a provider's)
MCP_JSON = ".mcp.json"


@dataclass(frozen=True)
class ServerConfig:
    name: str
    command: str | None = None  # stdio: the program
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # added to the basic variables
    url: str | None = None  # streamable HTTP
    headers: Mapping[str, str] = field(default_factory=dict)
    enabled: bool = True
    timeout: float = DEFAULT_TIMEOUT
    start_timeout: float = DEFAULT_START_TIMEOUT
    source: str = "config"  # "config" or the path of the project's .mcp.json

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "http"

    def describe(self) -> str:
        """One line for lists: the command or the URL (never header or env values)."""
        if self.command:
            return " ".join([self.command, *self.args])
        return self.url or ""


class ServerConfigError(ValueError):
    pass


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ServerConfigError(f"{what} must be a list of strings")
    return tuple(value)


def _table(value: Any, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ServerConfigError(f"{what} must be a table of strings")
    return dict(value)


def _seconds(table: dict[str, Any], key: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ServerConfigError(f"`{key}` must be a number of seconds")
    if not 0 < value <= MAX_TIMEOUT:
        raise ServerConfigError(f"`{key}` must be more than 0 and at most {MAX_TIMEOUT:g}")
    return float(value)


def parse_server(name: str, table: Any, source: str = "config") -> ServerConfig:
    """One server's table. Raises ``ServerConfigError`` saying what is wrong."""
    if not NAME.match(name):
        raise ServerConfigError(
            f"the server name {name!r} must start with a letter and use only letters, "
            "digits, '_' and '-' (at most 32)"
        )
    if not isinstance(table, dict):
        raise ServerConfigError("must be a table")
    known = {"command", "args", "env", "url", "headers", "enabled", "timeout", "start_timeout"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise ServerConfigError(f"has unknown key(s) {', '.join(unknown)}")
    command, url = table.get("command"), table.get("url")
    if (command is None) == (url is None):
        raise ServerConfigError("needs either `command` (a stdio server) or `url` (HTTP)")
    if command is not None and (not isinstance(command, str) or not command.strip()):
        raise ServerConfigError("`command` must be a program name")
    if url is not None and (
        not isinstance(url, str) or not url.startswith(("http://", "https://"))
    ):
        raise ServerConfigError("`url` must start with http:// or https://")
    enabled = table.get("enabled", True)
    if not isinstance(enabled, bool):
        raise ServerConfigError("`enabled` must be true or false")
    timeout = _seconds(table, "timeout", DEFAULT_TIMEOUT)
    start_timeout = _seconds(table, "start_timeout", DEFAULT_START_TIMEOUT)
    return ServerConfig(
        name,
        command=command,
        args=_strings(table.get("args", []), "`args`"),
        env=_table(table.get("env", {}), "`env`"),
        url=url,
        headers=_table(table.get("headers", {}), "`headers`"),
        enabled=enabled,
        timeout=timeout,
        start_timeout=start_timeout,
        source=source,
    )


def servers_from_raw(raw: Mapping[str, Any]) -> tuple[list[ServerConfig], list[str]]:
    """The ``[mcp.servers.*]`` of a config file as read, sorted by name, and a message
    for each table that is not a server (that server is left out, nothing else)."""
    problems: list[str] = []
    section = raw.get("mcp", {})
    if not isinstance(section, dict):
        return [], ["[mcp] must be a table; no MCP servers were read"]
    tables = section.get("servers", {})
    if not isinstance(tables, dict):
        return [], ["[mcp] servers must be a table of servers; none were read"]
    servers: list[ServerConfig] = []
    for name in sorted(tables):
        try:
            servers.append(parse_server(str(name), tables[name]))
        except ServerConfigError as exc:
            problems.append(f"[mcp.servers.{name}] {exc}; that server is left out")
    problems += [p for s in servers for p in literal_secrets(s)]
    return servers, problems


def literal_secrets(server: ServerConfig) -> list[str]:
    """A warning for each header or env value that holds what looks like a key."""
    from rung.engine.secrets import mask_secrets

    found = []
    for kind, values in (("headers", server.headers), ("env", server.env)):
        for key, value in values.items():
            bare = KEYRING_REF.sub("", value)
            if mask_secrets(bare) != bare:
                found.append(
                    f"[mcp.servers.{server.name}] {kind}.{key} holds what looks like a key "
                    f"in the file: store it with `rung mcp key {server.name}` and write "
                    f'"${{keyring:{server.name}}}" instead'
                )
    return found


def project_servers(path: Path) -> tuple[list[ServerConfig], list[str]]:
    """The servers of a project's ``.mcp.json`` (``{"mcpServers": {NAME: {...}}}``)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return [], [f"{path}: cannot be read ({exc}); its servers are left out"]
    tables = data.get("mcpServers") if isinstance(data, dict) else None
    if not isinstance(tables, dict):
        return [], [f"{path}: has no mcpServers table; nothing to use"]
    servers: list[ServerConfig] = []
    problems: list[str] = []
    for name in sorted(tables):
        table = tables[name]
        if isinstance(table, dict):  # the common format's "type" is implied by its keys
            table = {k: v for k, v in table.items() if k != "type"}
        try:
            servers.append(parse_server(str(name), table, source=str(path)))
        except ServerConfigError as exc:
            problems.append(f"{path}: server {name!r} {exc}; it is left out")
    return servers, problems


def resolve_secrets(values: Mapping[str, str], lookup: Any) -> dict[str, str]:
    """``values`` with each ``${keyring:ENTRY}`` replaced by ``lookup(ENTRY)``; raises
    ``ServerConfigError`` naming the entry when it is not stored (never the value)."""

    def one(match: re.Match[str]) -> str:
        found = lookup(match.group(1))
        if not found:
            raise ServerConfigError(
                f"the key {match.group(1)!r} is not stored: run `rung mcp key {match.group(1)}`"
            )
        return str(found)

    return {k: KEYRING_REF.sub(one, v) for k, v in values.items()}
