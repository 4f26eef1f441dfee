"""One MCP server's connection against real servers written with the SDK: a stdio child
process and a streamable HTTP endpoint on 127.0.0.1; a crashing and a hung tool."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from rung.engine.mcp.client import McpServer, ServerFailed
from rung.engine.mcp.config import ServerConfig
from rung.engine.mcp.manager import McpManager
from tests.mcp.helpers import TOKEN, http_server, stdio_config


async def test_a_stdio_server_starts_on_first_use_lists_sorted_tools_and_answers(
    tmp_path: Path,
) -> None:
    server = McpServer(stdio_config(), tmp_path / "logs")
    assert server.state == "stopped"
    try:
        added = await server.call("add", {"a": 2, "b": 40})
        assert server.state == "running"
        assert (added.text, added.is_error) == ("42", False)
        names = [t.name for t in server.tools]
        assert names == sorted(names)
        assert {"add", "echo", "read_fixture"} <= set(names)
        assert {t.name: t.read_only for t in server.tools}["echo"] is True
        assert {t.name: t.read_only for t in server.tools}["note"] is False
        assert "the answer is 42" in (await server.call("read_fixture", {})).text
        assert (await server.call("echo", {"text": "hi there"})).text == "hi there"
        # Its stderr went to its own log, not the terminal.
        assert "demo server: starting" in (tmp_path / "logs" / "demo.log").read_text()
    finally:
        await server.stop()
    assert server.state == "stopped"


async def test_a_stdio_server_sees_only_the_basics_and_its_own_env_not_rungs_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-proj-parentsecret0123456789abcdef")
    monkeypatch.setenv("RUNG_PRIVATE_THING", "do-not-pass")
    monkeypatch.setenv("LANG", "C.UTF-8")
    server = McpServer(stdio_config(DEMO_SETTING="on"), tmp_path)
    try:
        seen = dict(
            line.split("=", 1) for line in (await server.call("environment", {})).text.splitlines()
        )
    finally:
        await server.stop()
    assert "OPENAI_API_KEY" not in seen and "RUNG_PRIVATE_THING" not in seen
    assert "parentsecret" not in repr(seen)
    assert seen["DEMO_SETTING"] == "on" and seen["LANG"] == "C.UTF-8" and "PATH" in seen


async def test_env_secrets_come_from_the_key_store_by_reference(tmp_path: Path) -> None:
    config = stdio_config(API_TOKEN="${keyring:demo}")
    server = McpServer(config, tmp_path, secret={"mcp:demo": "tok-123"}.get)
    try:
        seen = (await server.call("environment", {})).text
        check = await server.call("check_env", {"name": "API_TOKEN", "value": "tok-123"})
    finally:
        await server.stop()
    assert check.text == "match"  # the server was given the stored value
    assert "API_TOKEN=•••••••" in seen.splitlines()  # and what it says of it is masked
    missing = McpServer(config, tmp_path)  # nothing stored under mcp:demo
    outcome = await missing.call("echo", {"text": "x"})
    assert outcome.is_error and "rung mcp key demo" in outcome.text
    assert missing.state == "failed"


async def test_a_hung_call_fails_with_a_clear_message_within_the_timeout(tmp_path: Path) -> None:
    server = McpServer(stdio_config(timeout=1.5), tmp_path)
    try:
        await server.ensure()
        started = time.monotonic()
        outcome = await server.call("sleep", {"seconds": 30})
        took = time.monotonic() - started
    finally:
        await server.stop()
    assert outcome.is_error
    assert "did not answer sleep within 1.5 s" in outcome.text
    assert took < 5


async def test_a_server_that_hangs_while_starting_fails_within_its_start_timeout(
    tmp_path: Path,
) -> None:
    config = ServerConfig("stuck", command="sleep", args=("300",), start_timeout=1.5)
    server = McpServer(config, tmp_path)
    started = time.monotonic()
    outcome = await server.call("echo", {"text": "x"})
    took = time.monotonic() - started
    assert outcome.is_error and "did not start within 1.5 s" in outcome.text
    assert server.state == "failed"
    assert took < 8  # bounded: the start timeout, then the SDK's stop (stdin, TERM, KILL)


async def test_a_crashing_server_is_restarted_once_then_fails_clearly(tmp_path: Path) -> None:
    server = McpServer(stdio_config(), tmp_path)
    try:
        first = await server.call("crash", {})
        assert first.is_error
        assert "stopped during the call to crash" in first.text
        assert "was restarted; the call was not repeated" in first.text
        assert server.state == "running"
        assert (await server.call("echo", {"text": "back"})).text == "back"
        second = await server.call("crash", {})
        assert second.is_error and "not restarted" in second.text
        assert server.state == "failed" and "stopped again" in server.reason
        after = await server.call("echo", {"text": "x"})
        assert after.is_error and "not available" in after.text
    finally:
        await server.stop()
    assert "crashing on purpose" in (tmp_path / "demo.log").read_text()


async def test_a_server_that_cannot_start_is_failed_with_the_reason(tmp_path: Path) -> None:
    config = ServerConfig("gone", command=str(tmp_path / "no-such-program"), timeout=5)
    server = McpServer(config, tmp_path)
    with pytest.raises(ServerFailed, match="not found"):
        await server.ensure()
    assert server.state == "failed" and "not found" in server.reason
    manager = McpManager([config, stdio_config()], tmp_path)
    try:
        tools, problems = await manager.start()
    finally:
        await manager.aclose()
    assert problems and problems[0].startswith("MCP server gone failed:")
    assert {t.name for t in tools} >= {"demo__add", "demo__echo"}


async def test_a_streamable_http_server_with_a_header_from_the_key_store(tmp_path: Path) -> None:
    with http_server() as url:
        config = ServerConfig("web", url=url, headers={"Authorization": "Bearer ${keyring:web}"},
                              timeout=10)  # fmt: skip
        server = McpServer(config, tmp_path, secret={"mcp:web": TOKEN}.get)
        try:
            assert (await server.call("add", {"a": 1, "b": 2})).text == "3"
            assert "the answer is 42" in (await server.call("read_fixture", {})).text
            # The server echoing the token it was given: masked (not key-shaped, but known).
            echoed = (await server.call("echo", {"text": f"my token is {TOKEN}!"})).text
            assert TOKEN not in echoed and echoed.startswith("my token is ") and "…" in echoed
        finally:
            await server.stop()
        refused = McpServer(ServerConfig("web", url=url, timeout=10), tmp_path)
        outcome = await refused.call("add", {"a": 1, "b": 2})
        assert outcome.is_error and refused.state == "failed"
        assert "web is not available" in outcome.text
        await refused.stop()


def test_the_first_server_start_does_not_freeze_the_event_loop(tmp_path: Path) -> None:
    """The SDK's import (1-3 s here) happens on a thread: a chat screen keeps drawing."""
    script = Path(__file__).with_name("loop_gap.py")
    done = subprocess.run([sys.executable, str(script), str(tmp_path)], capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 700  # milliseconds without a tick (on the loop: ~1800-2900)


def test_a_server_writing_junk_on_stdout_prints_nothing_on_rungs_terminal(
    tmp_path: Path,
) -> None:
    """In a fresh interpreter (pytest's own log capture would hide what Python prints)."""
    script = Path(__file__).with_name("call_tool.py")
    done = subprocess.run([sys.executable, str(script), str(tmp_path), "echo"],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["echoed"]
    assert done.stderr == ""
    assert "Failed to parse" in (tmp_path / "sdk.log").read_text()


async def test_a_start_cancelled_part_way_leaves_nothing_running_and_starts_next_time(
    tmp_path: Path,
) -> None:
    """Esc during the agent's first turn: the next turn starts the server afresh."""
    import asyncio

    from rung.engine.agent.setup import AgentSession
    from tests.agent.helpers import dispatcher, git_project

    manager = McpManager([stdio_config()], tmp_path / "logs")
    session = AgentSession(dispatcher(git_project(tmp_path)), None, 10, [], manager)  # type: ignore[arg-type]
    server = manager.servers["demo"]
    try:
        first = asyncio.create_task(session.connect())
        while not server.log_path.exists():  # the server process is being started
            await asyncio.sleep(0.01)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert server.state == "stopped"
        assert await session.connect() == []
        assert server.state == "running"
        assert "demo__echo" in {t.name for t in session.dispatcher.tools()}
        assert await session.connect() is None  # once per session
    finally:
        await session.aclose()
