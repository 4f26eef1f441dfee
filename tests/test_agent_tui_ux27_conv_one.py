"""One conversation whoever answers: an agent turn and a chat-only turn (F11) in the same
chat reach the model as one conversation, as the screen shows it. The chat sees the
agent's question and final answer; the agent sees the chat's questions and answers.

Real parts: the real app driven by Pilot, a real scripted OpenAI-compatible server on
127.0.0.1 (agent requests carry tools, chat requests do not), the real SQLite history,
a real git project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rung.engine.build_tiers import RungOverrides
from rung.engine.config import load_config
from rung.tui.app import RungApp
from rung.tui.widgets.messages import MessageList
from tests.agent.helpers import git_project
from tests.agent.scripted_model import ToolsOrPlain, Turn
from tests.conftest import wait_for


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-ux27-conv")
    return root


def said(body: dict[str, Any]) -> list[tuple[str, str]]:
    """The request's user and assistant texts, in order (system and tool rows left out)."""
    return [(m["role"], m.get("content") or "") for m in body["messages"]
            if m["role"] in ("user", "assistant")]  # fmt: skip


async def test_agent_and_chat_turns_are_one_conversation(servers, project: Path) -> None:
    both = ToolsOrPlain([
        Turn(calls=[("read", {"path": "src/calc.py"})]),
        Turn(text="Fixed add in calc.py.", expect=("return a - b",)),
        Turn(text="src/calc.py and tests."),
    ], answer=lambda n: f"Chat answer {n}.")  # fmt: skip
    server = servers(both)
    config = load_config()
    config.set("agent", "in_chat", "on")
    app = RungApp(config, RungOverrides(tier="openai", base_url=server.url + "/v1"))
    async with app.run_test(size=(120, 40)) as pilot:
        items = app.chat.query_one(MessageList).assistant_items

        async def ask(text: str, count: int) -> None:
            await pilot.press(*text, "enter")
            await wait_for(lambda: len(items()) == count and items()[-1].status == "done",
                           timeout=30)  # fmt: skip
            await wait_for(lambda: not app.chat.busy)

        await ask("test_add fails, fix it", 2)
        await pilot.press("f11")
        assert not app.chat.agent_on
        await ask("thanks, what did you change?", 3)
        await ask("and which file was it?", 4)
        await pilot.press("f11")
        assert app.chat.agent_on
        await ask("list the files please", 5)
        assert items()[-1].text == "src/calc.py and tests."

    # The chat saw the agent's question and its final answer, then its own exchange.
    assert said(both.plain[0]) == [
        ("user", "test_add fails, fix it"),
        ("assistant", "Fixed add in calc.py."),
        ("user", "thanks, what did you change?"),
    ]
    assert said(both.plain[1])[-3:] == [
        ("user", "thanks, what did you change?"),
        ("assistant", "Chat answer 1."),
        ("user", "and which file was it?"),
    ]
    assert said(both.plain[1])[:2] == said(both.plain[0])[:2]
    # The agent saw its own earlier turn whole (the call and its result) and both chat
    # exchanges, in the order they happened.
    sent = both.bodies[2]
    assert [m["role"] for m in sent["messages"]][1:4] == ["user", "assistant", "tool"]
    assert "return a - b" in sent["messages"][3]["content"]
    assert [t for t in said(sent) if t[1]] == [
        ("user", "test_add fails, fix it"),
        ("assistant", "Fixed add in calc.py."),
        ("user", "thanks, what did you change?"),
        ("assistant", "Chat answer 1."),
        ("user", "and which file was it?"),
        ("assistant", "Chat answer 2."),
        ("user", "list the files please"),
    ]
    assert both.problems == []
