"""MCP in the chat screen, on the real app: a scripted model (real local HTTP server)
calls the real stdio demo server's tool through the agent; the approval dialog shows the
server, the tool and the arguments; the result reaches the model; a new conversation
(Ctrl+N) stops the server."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rung.engine.build_tiers import RungOverrides
from rung.engine.config import load_config
from rung.tui.app import RungApp
from rung.tui.widgets.status import StatusBar
from tests.agent.helpers import git_project
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.conftest import wait_for
from tests.mcp.helpers import DEMO
from tests.test_agent_tui_approval import asked, shown


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-agent-tui")
    config = tmp_path / "config" / "rung" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[mcp.servers.demo]\ncommand = "{sys.executable}"\nargs = ["{DEMO}", "stdio"]\n'
    )
    return root


async def test_the_chat_agent_asks_for_and_runs_an_mcp_tool_then_stops_the_server(
    servers, project: Path
) -> None:
    model = ScriptedModel([
        Turn(calls=[("demo__echo", {"text": "hello from mcp"})]),
        Turn(text="The server said hello.", expect=("hello from mcp",)),
    ])  # fmt: skip
    api = servers(model)
    app = RungApp(load_config(), RungOverrides(tier="openai", base_url=api.url + "/v1"))
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.chat.query_one(StatusBar)
        await pilot.press("f11")
        await wait_for(lambda: "agent ask" in str(status.render()))
        await pilot.press(*"say hello", "enter")
        screen = await asked(app)
        detail = shown(screen, "#approval-detail-text")
        assert "MCP server: demo" in detail and "tool: echo" in detail
        assert "hello from mcp" in detail
        assert "mcp:demo/echo" in shown(screen, "#approval-always")
        await pilot.press("y")
        await wait_for(lambda: not app.chat.busy, timeout=60)
        assert model.problems == []
        server = app.chat.agent.tools.mcp.servers["demo"]
        assert server.state == "running"
        await pilot.press("ctrl+n")
        await wait_for(lambda: server.state == "stopped", timeout=30)


def server_children() -> list[str]:
    """The demo servers this test process started and that are still running."""
    import os

    found = []
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit():
                continue
            stat = (entry / "stat").read_text()
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, ValueError, IndexError):
            continue
        if parent == os.getpid() and "demo_server.py" in command:
            found.append(command)
    return found


async def test_init_offers_read_only_mcp_tools_and_stops_their_server_after(
    servers, project: Path
) -> None:
    from rung.tui.review_screen import ReviewScreen

    reply = "A first one.\n\n```markdown\n# demo\n\nAnswer: 42.\n```\n"
    model = ScriptedModel([
        Turn(calls=[("demo__read_fixture", {})]),
        Turn(text=reply, expect=("the answer is 42",)),
    ])  # fmt: skip
    api = servers(model)
    app = RungApp(load_config(), RungOverrides(tier="openai", base_url=api.url + "/v1"))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"/init", "enter")
        screen = await asked(app)  # read-only by the server's word: still asked
        assert "tool: read_fixture" in shown(screen, "#approval-detail-text")
        await pilot.press("y")
        await wait_for(lambda: isinstance(app.screen, ReviewScreen), timeout=60)
        await wait_for(lambda: server_children() == [], timeout=30)
    assert model.problems == []
    offered = {t["function"]["name"] for t in model.bodies[0]["tools"]}
    assert "demo__read_fixture" in offered and "demo__note" not in offered
