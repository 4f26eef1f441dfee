"""Ctrl+N while the agent's step is streaming: the new chat starts at $0 with an empty
F7; the interrupted step is the old conversation's (in its stored history, where
`rung cost` counts it).

Real parts: the real app driven by Pilot, a real scripted OpenAI-compatible server on
127.0.0.1 whose second step stalls mid-stream, the real SQLite history, a real git
project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable

from rung.engine.build_tiers import RungOverrides
from rung.engine.config import data_dir, load_config
from rung.engine.store import open_store
from rung.tui.app import RungApp
from rung.tui.cost_screen import CostScreen
from rung.tui.widgets.messages import MessageList
from rung.tui.widgets.meter import CostBar
from tests.agent.helpers import git_project
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.conftest import wait_for
from tests.fakes import openai_stream


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-ux27-newchat")
    return root


async def new_chat_at_zero(app: RungApp, pilot: Any) -> int:
    """Ctrl+N while a reply streams: the new chat shows nothing, has spent nothing (its
    meter and cost line at $0). The old session's id."""
    old = app.session.session_id
    assert old is not None
    await pilot.press("ctrl+n")
    await wait_for(lambda: not app.chat.busy, timeout=10)
    await pilot.pause(0.3)
    assert app.chat.query_one(MessageList).assistant_items() == []
    assert app.session.meter.records == []
    line = str(app.chat.query_one(CostBar).render())
    assert line.startswith("spent $0  │  saved $0 ") and "in 0 · out 0" in line, line
    return old


async def test_ctrl_n_mid_step_leaves_the_step_with_the_old_chat(servers, project) -> None:
    model = ScriptedModel([
        Turn(calls=[("list", {"path": "."})]),
        Turn(raw=openai_stream(["Looking ", "closely", "..."], stall_after=2, stall=30)),
    ])  # fmt: skip
    server = servers(model)
    config = load_config()
    config.set("agent", "in_chat", "on")
    app = RungApp(config, RungOverrides(tier="openai", base_url=server.url + "/v1"))
    async with app.run_test(size=(120, 40)) as pilot:
        items = app.chat.query_one(MessageList).assistant_items
        await pilot.press(*"look around", "enter")
        await wait_for(lambda: len(items()) == 2 and "closely" in items()[1].text, timeout=30)
        old = await new_chat_at_zero(app, pilot)
        await pilot.press("f7")
        assert isinstance(app.screen, CostScreen)
        assert app.screen.query_one(DataTable).row_count == 0
        await pilot.press("escape")
    # The old session holds both steps, the second one interrupted and priced.
    store = open_store(data_dir())
    replies = [m for m in store.transcript(old) if m.role == "assistant"]
    assert [m.finish_reason for m in replies][-1] == "interrupted"
    assert replies[-1].input_tokens > 0


async def test_ctrl_n_mid_chat_reply_starts_the_new_chat_at_zero(servers, project) -> None:
    bodies: list[dict] = []

    def slow(request):  # type: ignore[no-untyped-def]
        bodies.append(request.json())
        if len(bodies) > 1:
            return openai_stream(["Fresh."])
        return openai_stream(["Thinking ", "slowly", "..."], stall_after=2, stall=30)

    server = servers(slow)
    app = RungApp(load_config(), RungOverrides(tier="openai", base_url=server.url + "/v1"))
    async with app.run_test(size=(120, 40)) as pilot:
        items = app.chat.query_one(MessageList).assistant_items
        await pilot.press(*"hello", "enter")
        await wait_for(lambda: len(items()) == 1 and "slowly" in items()[0].text, timeout=30)
        old = await new_chat_at_zero(app, pilot)
        # The new chat's first question goes alone: the old partial reply is not in it.
        await pilot.press(*"hi again", "enter")
        await wait_for(lambda: len(items()) == 1 and items()[0].status == "done", timeout=30)
        assert len(app.session.meter.records) == 1
    said = [(m["role"], m["content"]) for m in bodies[1]["messages"] if m["role"] != "system"]
    assert said == [("user", "hi again")]
    store = open_store(data_dir())
    replies = [m for m in store.transcript(old) if m.role == "assistant"]
    assert [m.finish_reason for m in replies] in (["cancelled"], ["interrupted"])
