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

from rung.engine.config import load_config
from rung.engine.trusted_hosts import trust_configured
from rung.tui.app import RungApp
from rung.tui.widgets.messages import MessageList
from tests.agent.helpers import git_project
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_step_routing import ladder_config
from tests.conftest import wait_for
from tests.fakes import Request, Step, anthropic_stream


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deepseek-test-1234567890")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-1234567890")
    return root


class Premium:
    """Agent requests (tools offered) go to the script; a chat request gets a plain
    answer, its body kept."""

    def __init__(self, script: list[Turn]) -> None:
        self.agent = ScriptedModel(script, dialect="anthropic")
        self.chat: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> list[Step]:
        body = request.json()
        if body.get("tools"):
            return self.agent(request)
        self.chat.append(body)
        return anthropic_stream(["Because a - b."])


def text_of(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


async def test_a_chat_question_after_f9_sees_the_escalated_answer(
    tmp_path: Path, servers, project: Path
) -> None:
    premium = Premium([
        Turn(calls=[("read", {"path": "src/calc.py"})]),  # plan
        Turn(text="add subtracts: a bug."),  # the answer F9 asked for
    ])  # fmt: skip
    cheap = ScriptedModel([Turn(text="It adds.")])
    ladder_config(
        tmp_path,
        {"anthropic": servers(premium).url, "deepseek": servers(cheap).url},
        '[agent]\nin_chat = "on"\n',
    )
    config = load_config()
    for provider in ("deepseek", "anthropic"):
        trust_configured(config, provider)
    app = RungApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        items = app.chat.query_one(MessageList).assistant_items
        await pilot.press(*"What does add do?", "enter")
        await wait_for(lambda: bool(cheap.bodies), timeout=60)
        await wait_for(lambda: not app.chat.busy, timeout=60)
        await pilot.press("f9")
        await wait_for(lambda: len(premium.agent.bodies) == 2, timeout=60)
        await wait_for(lambda: not app.chat.busy, timeout=60)
        assert items()[-1].text == "add subtracts: a bug."
        await pilot.press("f11", "f4")  # chat only, on the Anthropic rung
        assert not app.chat.agent_on
        await pilot.press(*"why?", "enter")
        await wait_for(lambda: items()[-1].text == "Because a - b.", timeout=60)
    said = [(m["role"], text_of(m)) for m in premium.chat[0]["messages"]]
    assert said == [
        ("user", "What does add do?"),
        ("assistant", "add subtracts: a bug."),
        ("user", "why?"),
    ]
