"""A server's tools as the model sees them: names a provider accepts, descriptions and
schemas bounded, at most MAX_TOOLS per server, and a server's odd schema never breaking
the dispatcher's argument check (a server is not started: its listing is set as the SDK
would have read it)."""

from __future__ import annotations

import re
from pathlib import Path

from rung.engine.mcp.client import McpServer, RemoteTool
from rung.engine.mcp.tools import MAX_DESCRIPTION, MAX_TOOLS, server_tools
from tests.agent.helpers import dispatcher, git_project
from tests.mcp.helpers import stdio_config

PROVIDER_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")


def listed(tmp_path: Path, *tools: RemoteTool, name: str = "demo") -> McpServer:
    server = McpServer(stdio_config(name), tmp_path)
    server.tools = list(tools)
    return server


def test_names_fit_the_providers_rule_and_stay_unique(tmp_path: Path) -> None:
    long = "x" * 80
    server = listed(
        tmp_path,
        RemoteTool(long + "a", "", {}, False),
        RemoteTool(long + "b", "", {}, False),
        RemoteTool("with.dot", "", {}, False),
        RemoteTool("with/slash", "", {}, False),
        RemoteTool("with_slash", "", {}, False),
        name="github-enterprise_1",
    )
    names = [t.name for t in server_tools(server, set())]
    assert all(PROVIDER_NAME.match(n) for n in names)
    assert len(set(names)) == len(names) == 5
    assert "github-enterprise_1__with_dot" in names


def test_descriptions_and_schemas_are_bounded_and_tools_capped(tmp_path: Path) -> None:
    huge = {"type": "object", "properties": {f"p{i}": {"type": "string", "description": "d" * 100}
                                             for i in range(400)}}  # fmt: skip
    many = [RemoteTool(f"t{i:03}", "", {}, True) for i in range(MAX_TOOLS + 10)]
    server = listed(
        tmp_path,
        RemoteTool("big", "\x1b[31mred\x1b[0m " + "w" * 5000, huge, True),
        *many,
    )
    tools = server_tools(server, set())
    assert len(tools) == MAX_TOOLS
    big = next(t for t in tools if t.name == "demo__big")
    assert len(big.description) < MAX_DESCRIPTION + 200 and "\x1b" not in big.description
    assert big.parameters == {"type": "object", "properties": {}}
    assert "too large" in big.description
    assert [t.name for t in tools] == sorted(t.name for t in tools)


async def test_a_servers_unusual_schema_does_not_break_the_argument_check(tmp_path: Path) -> None:
    schema = {
        "type": "object",
        "properties": {"q": {"type": ["string", "null"]}, "n": {"type": "integer", "minimum": "0"},
                       "bad": "not a schema"},
        "required": ["q", 7],
    }  # fmt: skip
    server = listed(tmp_path, RemoteTool("search", "Search.", schema, True))
    d = dispatcher(git_project(tmp_path))
    d.add_tools(server_tools(server, set()))
    result = await d.call("demo__search", {"q": None, "n": 3})
    # Checked, then judged: nobody can be asked here, so it is denied, not crashed.
    assert result.is_error and "nobody can be asked" in result.text
    missing = await d.call("demo__search", {"n": 3})
    assert missing.is_error and "`q` is required" in missing.text


def test_a_result_is_text_for_the_model_and_a_huge_one_is_cut_early() -> None:
    from mcp_types import CallToolResult, ImageContent, TextContent

    from rung.engine.mcp.sdk import MAX_RESULT_CHARS, result_text

    mixed = CallToolResult(content=[
        TextContent(type="text", text="first"),
        ImageContent(type="image", data="QUJD", mime_type="image/png"),
    ])  # fmt: skip
    assert result_text(mixed) == "first\n[image: image/png, 4 base64 chars]"
    structured = CallToolResult(content=[], structured_content={"b": 2, "a": 1})
    assert result_text(structured) == '{"a": 1, "b": 2}'
    huge = CallToolResult(content=[TextContent(type="text", text="x" * (3 * MAX_RESULT_CHARS))])
    text = result_text(huge)
    assert len(text) < MAX_RESULT_CHARS + 100
    assert text.endswith(f"… {2 * MAX_RESULT_CHARS} more characters of the result cut …")
