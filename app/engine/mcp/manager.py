"""Every MCP server of one agent session: which are configured (the config file's, and
a trusted project ``.mcp.json``'s), starting them together on first use, their tools as
agent tools, stopping them with the session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rung.engine.mcp.config import MCP_JSON, ServerConfig, project_servers, servers_from_raw
from rung.engine.mcp.trust import TrustStore


@dataclass(frozen=True)
class ProjectFile:
    """A project's ``.mcp.json``: its servers, and whether the user trusted it as it is."""

    path: Path
    trusted: bool
    servers: list[ServerConfig]
    problems: list[str]


def project_file(root: Path, data_dir: Path) -> ProjectFile | None:
    path = Path(root) / MCP_JSON
    if not path.is_file():
        return None
    servers, problems = project_servers(path)
    return ProjectFile(path, TrustStore(data_dir).trusted(root, path), servers, problems)


def untrusted_notice(found: ProjectFile) -> str:
    return (
        f"{found.path} is not trusted, so its MCP servers were not started (they would run "
        "programs the repository chose); review it, then run `rung mcp trust`"
    )


def configured_servers(
    raw: dict[str, Any], root: Path | None, data_dir: Path
) -> tuple[list[ServerConfig], list[str]]:
    """The config file's servers and, when the user trusted it, the project's
    ``.mcp.json`` ones (a name in both: the config file's wins), sorted by name; and
    what the user should be told (bad tables, an untrusted ``.mcp.json``)."""
    servers, problems = servers_from_raw(raw)
    found = project_file(root, data_dir) if root is not None else None
    if found is not None and not found.trusted:
        problems.append(untrusted_notice(found))
    elif found is not None:
        problems += found.problems
        names = {s.name for s in servers}
        servers += [s for s in found.servers if s.name not in names]
    return sorted(servers, key=lambda s: s.name), problems


class McpManager:
    def __init__(
        self,
        servers: list[ServerConfig],
        log_dir: Path,
        secret: Callable[[str], str | None] = lambda _entry: None,
        cwd: Path | None = None,
    ) -> None:
        from rung.engine.mcp.client import McpServer

        self.servers = {s.name: McpServer(s, log_dir, secret, cwd) for s in servers if s.enabled}
        self.disabled = [s.name for s in servers if not s.enabled]

    async def start(self) -> tuple[list[Any], list[str]]:
        """Start every server together (each bounded by its timeout); their tools as
        agent tools (sorted by server, then tool) and a line for each that failed."""
        from rung.engine.mcp.client import ServerFailed
        from rung.engine.mcp.tools import MAX_TOOLS, server_tools

        order = sorted(self.servers)
        results = await asyncio.gather(
            *(self.servers[n].ensure() for n in order), return_exceptions=True
        )
        tools: list[Any] = []
        problems: list[str] = []
        taken: set[str] = set()
        for name, result in zip(order, results, strict=True):
            if isinstance(result, ServerFailed):
                problems.append(f"MCP server {name} failed: {result}")
            elif isinstance(result, BaseException):
                raise result
            else:
                server = self.servers[name]
                tools += server_tools(server, taken)
                if len(server.tools) > MAX_TOOLS:
                    problems.append(
                        f"MCP server {name} lists {len(server.tools)} tools; the first "
                        f"{MAX_TOOLS} by name are offered to the model"
                    )
        return tools, problems

    async def aclose(self) -> None:
        """Stop every server (each bounded)."""
        await asyncio.gather(*(s.stop() for s in self.servers.values()), return_exceptions=True)


def key_lookup(config: Any) -> Callable[[str], str | None]:
    """Keys for ``${keyring:ENTRY}`` (account ``mcp:ENTRY``): the keyring, or the opt-in
    key file, as provider keys; read when a server starts, never at Rung's start."""

    def lookup(account: str) -> str | None:
        from rung.engine.config import data_dir
        from rung.engine.secrets import KeyStore

        found = KeyStore(data_dir(), config.get("secrets", "plaintext_file")).get(account)
        return found.value if found and not found.problem else None

    return lookup
