"""F9 on the agent's answer, then a chat-only question (F11): the chat is asked with the
answer F9 put on screen, not the one it replaced (one conversation: what is on screen
is what the model sees).

Real parts: the real app driven by Pilot on a local / DeepSeek / Anthropic Auto ladder,
real scripted tool-calling servers on 127.0.0.1, the real SQLite history, a real git
project."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rung.tui.widgets.messages import MessageList
from tests.agent.helpers import git_project
from tests.agent.scripted_model import ScriptedModel, ToolsOrPlain, Turn
from tests.conftest import wait_for
from tests.test_agent_tui_steps import three_rung_app


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deepseek-test-1234567890")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-1234567890")
    return root


def text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


async def test_a_chat_question_after_f9_sees_the_escalated_answer(
    tmp_path: Path, servers, project: Path
) -> None:
    premium = ToolsOrPlain([
        Turn(calls=[("read", {"path": "src/calc.py"})]),  # plan
        Turn(text="add subtracts: a bug."),  # the answer F9 asked for
    ], dialect="anthropic", answer=lambda n: "Because a - b.")  # fmt: skip
    cheap = ScriptedModel([Turn(text="It adds.")])
    app = three_rung_app(tmp_path, servers, premium, cheap)
    async with app.run_test(size=(120, 40)) as pilot:
        items = app.chat.query_one(MessageList).assistant_items
        await pilot.press(*"What does add do?", "enter")
        await wait_for(lambda: bool(cheap.bodies), timeout=60)
        await wait_for(lambda: not app.chat.busy, timeout=60)
        await pilot.press("f9")
        await wait_for(lambda: len(premium.bodies) == 2, timeout=60)
        await wait_for(lambda: not app.chat.busy, timeout=60)
        assert items()[-1].text == "add subtracts: a bug."
        await pilot.press("f11", "f4")  # chat only, on the Anthropic rung
        assert not app.chat.agent_on
        await pilot.press(*"why?", "enter")
        await wait_for(lambda: items()[-1].text == "Because a - b.", timeout=60)
    said = [(m["role"], text_of(m)) for m in premium.plain[0]["messages"]]
    assert said == [
        ("user", "What does add do?"),
        ("assistant", "add subtracts: a bug."),
        ("user", "why?"),
    ]
