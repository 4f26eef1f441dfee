"""A server's tools as agent tools: the dispatcher runs them like the built-in ones
(schema check, permission, run, then sanitise, bound and mask the result).

Names are ``SERVER__TOOL`` cut to the providers' rule (``^[a-zA-Z0-9_-]{1,64}$``);
descriptions and schemas are bounded (a server's text goes into every request's prefix);
the list is sorted so the prefix stays byte for byte the same and prompt caching holds.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rung.engine.agent.base import Need, Plan, ToolContext, ToolResult, failed
from rung.engine.safe_text import for_terminal, one_line
from rung.tiers.base import ToolSpec

if TYPE_CHECKING:
    from rung.engine.mcp.client import McpServer, RemoteTool

SEPARATOR = "__"
MAX_NAME = 64
MAX_DESCRIPTION = 1024  # characters of a server's description of one tool
MAX_SCHEMA_BYTES = 16 * 1024  # a bigger argument schema is replaced by "any object"
MAX_TOOLS = 64  # per server: the first by name are offered (each one is in every request)
_BAD_NAME_CHARS = re.compile(r"[^A-Za-z0-9_-]")
_NUMERIC = ("minimum", "maximum", "minLength", "maxLength")


def tool_name(server: str, tool: str, taken: set[str]) -> str:
    """``server__tool`` as a provider accepts it, unique among ``taken``."""
    name = _BAD_NAME_CHARS.sub("_", f"{server}{SEPARATOR}{tool}")
    digest = hashlib.sha256(f"{server}/{tool}".encode()).hexdigest()
    if len(name) > MAX_NAME:
        name = f"{name[: MAX_NAME - 9]}_{digest[:8]}"
    if name in taken:  # two tools that differ only in characters a name cannot hold
        name = f"{name[: MAX_NAME - 9]}_{digest[:8]}"
    return name


def bounded_description(server: str, text: str, note: str = "") -> str:
    body = for_terminal(text.strip()) or "(no description)"
    if len(body) > MAX_DESCRIPTION:
        body = body[:MAX_DESCRIPTION] + "…"
    return f"[MCP server {server}] {body}{note}"


def bounded_schema(schema: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """An object schema safe to send and to check calls against, and a note for the
    description when it had to be replaced."""
    try:
        size = len(json.dumps(schema, ensure_ascii=False))
    except (TypeError, ValueError):
        size = MAX_SCHEMA_BYTES + 1
    if size > MAX_SCHEMA_BYTES or schema.get("type", "object") != "object":
        any_object = {"type": "object", "properties": {}}
        return (
            any_object,
            " (Its argument schema was too large or not an object; pass a JSON object.)",
        )
    clean = copy.deepcopy(schema)
    clean["type"] = "object"
    properties = clean.get("properties")
    properties = properties if isinstance(properties, dict) else {}
    for key, spec in list(properties.items()):
        if not isinstance(spec, dict):
            properties[key] = {}
            continue
        for bound in _NUMERIC:
            value = spec.get(bound)
            if bound in spec and (isinstance(value, bool) or not isinstance(value, int | float)):
                del spec[bound]
    clean["properties"] = properties
    required = clean.get("required")
    if required is not None:
        clean["required"] = (
            [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
        )
    return clean, ""


def _argument_line(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, ensure_ascii=False, sort_keys=True)


@dataclass(frozen=True, eq=False)
class McpTool:
    """One server tool, shaped like ``registry.BuiltinTool`` for the dispatcher."""

    name: str
    description: str
    parameters: dict[str, Any]
    server: McpServer
    remote: RemoteTool
    needs: Need = Need.MCP

    @property
    def read_only(self) -> bool:
        """The server says the tool only reads (plan mode offers only these)."""
        return self.remote.read_only

    @property
    def module(self) -> McpTool:
        """The dispatcher calls ``tool.module.plan``: this tool plans its own calls."""
        return self

    @property
    def subject(self) -> str:
        """What ``mcp:`` rules match: ``SERVER/TOOL``."""
        return f"{self.server.name}/{self.remote.name}"

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, copy.deepcopy(self.parameters))

    def plan(self, arguments: dict[str, Any], context: ToolContext) -> Plan | ToolResult:
        shown = _argument_line(arguments)
        summary = f"mcp {self.subject} {one_line(shown, 80)}"
        if self.server.state == "failed":
            return failed(
                f"The MCP server {self.server.name} is not available: {self.server.reason}",
                f"{summary} → server failed",
            )

        async def execute() -> ToolResult:
            outcome = await self.server.call(self.remote.name, arguments)
            return ToolResult(outcome.text, summary + (" → error" if outcome.is_error else ""),
                              is_error=outcome.is_error)  # fmt: skip

        detail = (
            f"MCP server: {self.server.name} ({self.server.config.describe()})\n"
            f"tool: {self.remote.name}\narguments:\n"
            f"{json.dumps(arguments, ensure_ascii=False, indent=2, sort_keys=True)}"
        )
        return Plan(Need.MCP, self.subject, summary, execute, detail=detail,
                    read_only=self.read_only)  # fmt: skip


def server_tools(server: McpServer, taken: set[str]) -> list[McpTool]:
    """The running server's tools as agent tools, sorted by their names."""
    made: list[McpTool] = []
    for remote in sorted(server.tools, key=lambda t: t.name)[:MAX_TOOLS]:
        name = tool_name(server.name, remote.name, taken)
        taken.add(name)
        schema, note = bounded_schema(remote.schema)
        description = bounded_description(server.name, remote.description, note)
        made.append(McpTool(name, description, schema, server, remote))
    return made


def sorted_tools(tools: Iterable[McpTool]) -> list[McpTool]:
    return sorted(tools, key=lambda t: t.name)
