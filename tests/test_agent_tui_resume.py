"""A resumed agent session (Ctrl+S's sessions list, `rung --continue`) shows its steps'
tool lines again, folded and expandable as they were live, and the agent's next turn
goes on from the stored transcript: the model sees the earlier calls and results.

Real parts: two runs of the real app on one real SQLite history, a scripted
OpenAI-compatible model server on 127.0.0.1 speaking streamed tool calls, a real git
project."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from rung.engine.build_tiers import RungOverrides
from rung.engine.config import load_config
from rung.tui.agent_view import ToolCallLine
from rung.tui.app import RungApp
from rung.tui.widgets.messages import MessageItem, MessageList
from tests.agent.helpers import git_project
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.conftest import wait_for


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-agent-resume")
    return root


def make_app(url: str, resume: int | None = None) -> RungApp:
    config = load_config()
    config.set("agent", "in_chat", "on")
    return RungApp(config, RungOverrides(tier="openai", base_url=url + "/v1"), resume=resume)


async def test_a_resumed_agent_session_shows_its_tool_lines_and_goes_on(
    servers, project: Path
) -> None:
    model = ScriptedModel([
        Turn(calls=[("read", {"path": "src/calc.py"}), ("search", {"pattern": "def add"})]),
        Turn(text="add subtracts.", expect=("return a - b",)),
        # The next turn, after the restart: the earlier call and its result are sent.
        Turn(text="Still subtracts."),
    ])  # fmt: skip
    server = servers(model)
    first = make_app(server.url)
    async with first.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"what is wrong with add?", "enter")
        items = first.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: len(items()) == 2 and items()[1].status == "done", timeout=30)
        live = [(line.summary, line.output) for line in first.chat.query(ToolCallLine)]
        session_id = first.session.session_id
    assert len(live) == 2 and session_id is not None

    again = make_app(server.url, resume=session_id)
    async with again.run_test(size=(120, 40)) as pilot:
        messages = again.chat.query_one(MessageList)
        await wait_for(lambda: len(messages.assistant_items()) == 2)
        await pilot.pause()
        lines = list(again.chat.query(ToolCallLine))
        # The same lines as live, in their place: right after the step that made them.
        assert [(line.summary, line.output) for line in lines] == live
        assert lines[0].summary.startswith("read src/calc.py")
        order = [w for w in messages.children if isinstance(w, MessageItem | ToolCallLine)]
        step_one = messages.assistant_items()[0]
        assert order.index(lines[0]) == order.index(step_one) + 1
        # Folded, and Enter expands one to the call's input and output.
        assert not lines[0].expanded
        lines[0].focus()
        await pilot.press("enter")
        detail = str(lines[0].query_one(".call-detail", Static).content)
        assert '"path": "src/calc.py"' in detail and "return a - b" in detail
        # The agent goes on from the stored transcript.
        again.chat.query_one("#prompt").focus()
        await pilot.press(*"and now?", "enter")
        await wait_for(lambda: len(messages.assistant_items()) == 3, timeout=30)
        await wait_for(lambda: messages.assistant_items()[2].status == "done", timeout=30)
    sent = model.bodies[2]["messages"]
    assert [m["role"] for m in sent][1:] == ["user", "assistant", "tool", "tool", "assistant",
                                              "user"]  # fmt: skip
    assert "return a - b" in sent[3]["content"]
    assert model.problems == []
