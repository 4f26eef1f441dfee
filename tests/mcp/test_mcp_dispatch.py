"""MCP tools through the agent's one dispatcher, against the real stdio demo server:
their names and order, the permission rules (`mcp:SERVER/TOOL` globs, deny beats allow,
plan mode), the approval dialog's content, and results made safe like any tool's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rung.engine.agent import Answer, Dispatcher, Mode
from rung.engine.agent.permissions import SavedRules
from rung.engine.agent.registry import TOOLS
from rung.engine.mcp.manager import McpManager
from tests.agent.helpers import Asker, dispatcher, git_project
from tests.mcp.helpers import stdio_config


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[McpManager]:
    found = McpManager([stdio_config()], tmp_path / "logs")
    yield found
    await found.aclose()


async def with_mcp(manager: McpManager, d: Dispatcher) -> Dispatcher:
    tools, problems = await manager.start()
    assert problems == []
    d.add_tools(tools)
    return d


async def test_mcp_tools_follow_the_builtin_ones_sorted_prefixed_and_bounded(
    tmp_path: Path, manager: McpManager
) -> None:
    d = await with_mcp(manager, dispatcher(git_project(tmp_path)))
    names = [t.name for t in d.tools()]
    builtin = [t.name for t in TOOLS]
    assert names[: len(builtin)] == builtin
    mcp = names[len(builtin) :]
    assert mcp == sorted(mcp) and {"demo__add", "demo__echo", "demo__note"} <= set(mcp)
    assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", n) for n in names)
    echo = next(t for t in d.tools() if t.name == "demo__echo")
    assert echo.description.startswith("[MCP server demo] Return the text")
    assert echo.parameters["required"] == ["text"]
    # The same list, byte for byte, from a second start (a stable, cacheable prefix).
    again = McpManager([stdio_config()], tmp_path / "logs2")
    try:
        tools, _ = await again.start()
    finally:
        await again.aclose()
    assert [t.spec() for t in tools] == [t.spec() for t in d.tools()[len(builtin) :]]


async def test_an_mcp_call_is_asked_showing_server_tool_and_arguments(
    tmp_path: Path, manager: McpManager
) -> None:
    ask = Asker(Answer.ONCE)
    d = await with_mcp(manager, dispatcher(git_project(tmp_path), ask=ask))
    result = await d.call("demo__echo", {"text": "hello mcp"})
    assert (result.text, result.is_error) == ("hello mcp", False)
    [request] = ask.asked
    assert request.tool == "demo__echo"
    assert "MCP server: demo" in request.detail and "tool: echo" in request.detail
    assert '"text": "hello mcp"' in request.detail
    assert request.always == ("mcp:demo/echo",)


async def test_always_allow_saves_an_mcp_rule_for_the_project(
    tmp_path: Path, manager: McpManager
) -> None:
    root = git_project(tmp_path)
    ask = Asker(Answer.ALWAYS)
    d = await with_mcp(manager, dispatcher(root, ask=ask))
    d.permissions.saved = SavedRules(tmp_path / "data", root)
    assert (await d.call("demo__echo", {"text": "a"})).text == "a"
    assert (await d.call("demo__echo", {"text": "b"})).text == "b"
    assert len(ask.asked) == 1
    assert [str(r) for r in SavedRules(tmp_path / "data", root).load()] == ["mcp:demo/echo"]


async def test_a_deny_rule_beats_an_allow_glob_and_the_call_never_runs(
    tmp_path: Path, manager: McpManager
) -> None:
    ask = Asker(Answer.ONCE)
    d = await with_mcp(
        manager,
        dispatcher(git_project(tmp_path), allow=("mcp:demo/*",), deny=("mcp:demo/cr*",), ask=ask),
    )
    denied = await d.call("demo__crash", {})
    assert denied.is_error and "deny mcp:demo/cr*" in denied.text and "not run" in denied.text
    server = manager.servers["demo"]
    assert server.deaths == 0 and server.state == "running"
    assert "crashing on purpose" not in server.log_path.read_text()
    allowed = await d.call("demo__add", {"a": 20, "b": 22})
    assert allowed.text == "42" and ask.asked == []  # the glob allowed it without asking


async def test_plan_mode_offers_and_runs_only_tools_the_server_marks_read_only(
    tmp_path: Path, manager: McpManager
) -> None:
    ask = Asker(Answer.ONCE)
    d = await with_mcp(manager, dispatcher(git_project(tmp_path), mode=Mode.PLAN, ask=ask))
    names = {t.name for t in d.tools()}
    assert "demo__echo" in names and "demo__note" not in names and "demo__crash" not in names
    refused = await d.call("demo__note", {"text": "x"})
    assert refused.is_error and "plan mode runs only MCP tools marked read-only" in refused.text
    assert ask.asked == []
    assert (await d.call("demo__echo", {"text": "ok"})).text == "ok"
    assert len(ask.asked) == 1  # read-only by the server's word: still asked


async def test_without_anyone_to_ask_an_mcp_call_is_denied_with_the_rule_to_allow_it(
    tmp_path: Path, manager: McpManager
) -> None:
    d = await with_mcp(manager, dispatcher(git_project(tmp_path)))
    result = await d.call("demo__echo", {"text": "x"})
    assert result.is_error and "nobody can be asked" in result.text
    assert "'mcp:demo/echo'" in result.text


async def test_an_mcp_result_is_masked_sanitised_and_bounded_like_any_tool_output(
    tmp_path: Path, manager: McpManager
) -> None:
    d = await with_mcp(
        manager, dispatcher(git_project(tmp_path), allow=("mcp:demo/*",), output_cap=60)
    )
    leaked = await d.call("demo__leak", {})
    assert "abcdefghijklmnopqrstuvwxyz0123456789" not in leaked.text
    assert "keep it safe" in leaked.text
    escape = await d.call("demo__echo", {"text": "\x1b[2Jcleared " + "y" * 200})
    assert "\x1b" not in escape.text and "characters cut" in escape.text
    wrong = await d.call("demo__add", {"a": "two"})
    assert wrong.is_error and "`a` must be integer" in wrong.text
