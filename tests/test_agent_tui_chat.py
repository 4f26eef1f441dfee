"""The agent in the chat screen, on the real app: a real scripted model server speaking
OpenAI's streamed tool calls, a real git project, the real loop and dispatcher. F11
turns the agent on; each tool call is one line that expands; an edit is asked in the
approval dialog; each step shows its own cost and the cost line follows; Esc stops it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import Static

from rung.engine.build_tiers import RungOverrides
from rung.engine.config import load_config
from rung.tui.agent_view import ToolCallLine
from rung.tui.app import RungApp
from rung.tui.approval import ApprovalScreen
from rung.tui.help import HelpScreen
from rung.tui.widgets.messages import MessageList
from rung.tui.widgets.meter import CostBar
from rung.tui.widgets.status import StatusBar
from tests.agent.helpers import git_project
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.conftest import wait_for
from tests.fakes import openai_stream

FIX = {"path": "src/calc.py", "old_string": "a - b", "new_string": "a + b"}


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-agent-tui")
    return root


def make_app(servers, model, in_chat: bool = False) -> tuple[RungApp, object]:  # type: ignore[no-untyped-def]
    server = servers(model)
    config = load_config()
    config.set("agent", "in_chat", in_chat)
    app = RungApp(config, RungOverrides(tier="openai", base_url=server.url + "/v1"))
    return app, server


def lines(app: RungApp) -> list[ToolCallLine]:
    return list(app.chat.query(ToolCallLine))


async def test_agent_reads_asks_edits_and_prices_each_step(servers, project: Path) -> None:
    model = ScriptedModel([
        Turn(calls=[("read", {"path": "src/calc.py"})]),
        Turn(calls=[("edit", FIX)], expect=("return a - b",)),
        Turn(text="Fixed add: it subtracted.", expect=("a + b",)),
    ])  # fmt: skip
    app, server = make_app(servers, model)
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.chat.query_one(StatusBar)
        assert "agent" not in str(status.render())
        await pilot.press("f11")
        await wait_for(lambda: "agent ask" in str(status.render()))
        await pilot.press(*"fix add", "enter")
        await wait_for(lambda: isinstance(app.screen, ApprovalScreen), timeout=30)
        assert [line.tool for line in lines(app)] == ["read", "edit"]
        assert lines(app)[0].summary.startswith("read src/calc.py")
        await pilot.press("y")
        await wait_for(lambda: not app.chat.busy, timeout=30)
        assert "a + b" in (project / "src/calc.py").read_text()
        steps = app.chat.query_one(MessageList).assistant_items()
        assert len(steps) == 3
        assert all("agent step" in s.meta_text and "$" in s.meta_text for s in steps)
        assert steps[-1].text == "Fixed add: it subtracted."
        assert steps[-1].status == "done"
        # Three paid steps: the cost line counts them.
        meter = app.chat.query_one(CostBar)
        assert "$" in str(meter.render())
        assert len(app.session.meter.records) == 3
        # A line expands (Enter) to the call's full input and output.
        first = lines(app)[0]
        first.focus()
        await pilot.press("enter")
        assert first.expanded
        detail = str(first.query_one(".call-detail", Static).content)
        assert '"path": "src/calc.py"' in detail and "return a - b" in detail
        await pilot.press("enter")
        assert not first.expanded
    assert model.problems == []
    assert all(json.loads(r.body).get("tools") for r in server.requests)  # type: ignore[attr-defined]


async def test_chat_only_by_default_and_the_key_is_in_f1(servers, project: Path) -> None:
    def plain(request):  # type: ignore[no-untyped-def]
        return openai_stream(["Just ", "chat."])

    app, server = make_app(servers, plain)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"hello", "enter")
        items = app.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: bool(items()) and items()[0].status == "done")
        assert "tools" not in json.loads(server.requests[0].body)  # type: ignore[attr-defined]
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        assert "toggle-agent" in {row[2] for row in app.screen.rows}


async def test_escape_stops_the_agent_mid_step(servers, project: Path) -> None:
    model = ScriptedModel([
        Turn(calls=[("list", {"path": "."})]),
        Turn(raw=openai_stream(["Thinking ", "hard", "..."], stall_after=2, stall=30)),
    ])  # fmt: skip
    app, _ = make_app(servers, model)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f11", *"look around", "enter")
        items = app.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: len(items()) == 2 and "hard" in items()[1].text, timeout=30)
        await pilot.press("escape")
        await wait_for(lambda: not app.chat.busy, timeout=10)
        assert items()[1].status == "cancelled"
        assert "Stopped (Esc)" in items()[1].shown_source
        assert lines(app)[0].output is not None  # the finished call stays shown
        # The app goes on: chat-only again answers (the server's script is over).
        await pilot.press("f11")
        assert not app.chat.agent_on


async def test_escape_stops_a_running_command_and_its_line_says_so(servers, project) -> None:
    model = ScriptedModel([Turn(calls=[("run", {"command": "sleep 30"})])])
    app, _ = make_app(servers, model)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f11", *"wait a bit", "enter")
        await wait_for(lambda: isinstance(app.screen, ApprovalScreen), timeout=30)
        await pilot.pause()
        await pilot.press("y")
        await wait_for(lambda: not isinstance(app.screen, ApprovalScreen))
        await pilot.pause(0.5)
        assert app.chat.busy and lines(app)[0].output is None  # the command is running
        await pilot.press("escape")
        await wait_for(lambda: not app.chat.busy, timeout=10)
        line = lines(app)[0]
        assert line.is_error and line.summary.endswith("→ stopped")
        assert "…" not in str(line.query_one(".call-line", Static).content)


async def test_escalate_waits_for_the_agent_and_a_new_chat_stops_it(servers, project) -> None:
    model = ScriptedModel([
        Turn(raw=openai_stream(["Working ", "on", "..."], stall_after=2, stall=30)),
    ])  # fmt: skip
    app, server = make_app(servers, model)
    notes: list[str] = []
    original = app.notify

    def notify(message, *args, **kwargs):  # type: ignore[no-untyped-def]
        notes.append(str(message))
        return original(message, *args, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f11", *"do it", "enter")
        items = app.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: bool(items()) and "on" in items()[0].text, timeout=30)
        await pilot.press("f9")
        await wait_for(lambda: any("The agent is working" in n for n in notes))
        assert app.chat.agent_running and len(server.requests) == 1  # type: ignore[attr-defined]
        await pilot.press("ctrl+n")
        await wait_for(lambda: not app.chat.busy, timeout=10)
        assert app.chat.agent is None and not items()


async def test_agent_in_chat_config_starts_with_the_agent_on(servers, project: Path) -> None:
    model = ScriptedModel([Turn(text="Nothing to change.")])
    app, server = make_app(servers, model, in_chat=True)
    async with app.run_test(size=(120, 40)) as pilot:
        status = app.chat.query_one(StatusBar)
        await wait_for(lambda: "agent ask" in str(status.render()))
        await pilot.press(*"anything to fix?", "enter")
        items = app.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: bool(items()) and items()[0].status == "done", timeout=30)
        assert "agent step 1" in items()[0].meta_text
    assert json.loads(server.requests[0].body)["tools"]  # type: ignore[attr-defined]


def test_the_chat_screen_loads_the_agent_only_when_used() -> None:
    """Importing the agent (its tools, sandbox probe, dispatcher) with the chat screen
    cost 150-400 ms before the first frame; it loads on the first agent question."""
    import subprocess
    import sys

    code = (
        "import sys, rung.tui.app;"
        "print(sorted(m for m in ('rung.engine.agent', 'rung.engine.edits') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stderr


async def test_the_status_line_says_when_commands_are_not_sandboxed(
    servers, project: Path, monkeypatch
) -> None:
    from rung.engine.agent.sandbox import probe

    monkeypatch.setenv("RUNG_NO_SANDBOX", "1")  # as on a machine without user namespaces
    probe(refresh=True)
    try:
        model = ScriptedModel([Turn(text="ok")])
        app, _ = make_app(servers, model)
        async with app.run_test(size=(120, 40)) as pilot:
            status = app.chat.query_one(StatusBar)
            await pilot.press("f11")
            await wait_for(lambda: "agent ask · commands not sandboxed" in str(status.render()))
            await pilot.press(*"/mode plan", "enter")
            await wait_for(lambda: "agent plan · commands not sandboxed" in str(status.render()))
    finally:
        monkeypatch.delenv("RUNG_NO_SANDBOX")
        probe(refresh=True)
