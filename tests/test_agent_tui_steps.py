"""Per-step routing in the chat screen (issue 27), on the real app: a three-rung Auto
ladder (the embedded model, DeepSeek and Anthropic on scripted tool-calling servers),
the agent on. Each step's header names its kind and rung; the status line carries the
context meter; the last step ends with the all-premium what-if; F9 redoes the agent's
answer one rung up; /compact in an agent chat condenses the agent's own steps."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rung.engine.config import load_config
from rung.engine.trusted_hosts import trust_configured
from rung.tui.app import RungApp
from rung.tui.widgets.messages import MessageItem, MessageList
from tests.agent.helpers import git_project
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_step_routing import ladder_config
from tests.conftest import wait_for


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deepseek-test-1234567890")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-1234567890")
    return root


def three_rung_app(
    tmp_path: Path, servers, premium: ScriptedModel, cheap: ScriptedModel
) -> RungApp:  # type: ignore[no-untyped-def]
    """The chat app on a local / deepseek / anthropic Auto ladder, the agent on."""
    ladder_config(
        tmp_path,
        {"anthropic": servers(premium).url, "deepseek": servers(cheap).url},
        '[agent]\nin_chat = "on"\n',
    )
    config = load_config()
    for provider in ("deepseek", "anthropic"):
        trust_configured(config, provider)
    return RungApp(config)


async def test_steps_route_f9_escalates_and_compact_condenses_the_agents_steps(
    tmp_path: Path, servers, project: Path
) -> None:
    premium = ScriptedModel(
        [
            Turn(calls=[("read", {"path": "src/calc.py"})]),  # plan
            Turn(text="add subtracts: a bug."),  # the answer F9 asked for
        ],
        dialect="anthropic",
    )
    cheap = ScriptedModel([Turn(text="It adds.")])
    app = three_rung_app(tmp_path, servers, premium, cheap)
    states: list[str | None] = []
    show_status = app.show_status

    def recorded(state: str | None = None, **changes: object) -> None:
        states.append(state)
        show_status(state, **changes)

    app.show_status = recorded  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"What does add do?", "enter")
        await wait_for(lambda: bool(cheap.bodies), timeout=60)
        await wait_for(lambda: not app.chat.busy, timeout=60)
        steps = app.chat.query_one(MessageList).assistant_items()
        assert [s.meta_text.split()[0] for s in steps] == ["anthropic", "deepseek"]
        assert "plan" in steps[0].meta_text and "act" in steps[1].meta_text
        note = steps[-1].shelved().note
        assert "this run $" in note and "all on claude-sonnet-4-6" in note, note
        # The context meter: the step's request size against its rung's window.
        meter = re.compile(r"agent step 2 · context \d+(\.\d)?k/64k$")  # deepseek-chat: 64k
        assert any(meter.match(state or "") for state in states), states

        # F9: the agent's answer again, one rung up.
        await pilot.press("f9")
        await wait_for(lambda: len(premium.bodies) == 2, timeout=60)
        await wait_for(lambda: not app.chat.busy, timeout=60)
        steps = app.chat.query_one(MessageList).assistant_items()
        assert steps[-1].text == "add subtracts: a bug."
        assert "anthropic" in steps[-1].meta_text and "escalated from deepseek" in (
            steps[-1].meta_text
        )
        assert len(cheap.bodies) == 1 and premium.problems == [] and cheap.problems == []

        # /compact in an agent chat: the agent's own steps (too few to condense yet).
        await pilot.press(*"/compact", "enter")
        # It says so in the conversation (a line, not a passing toast).
        await wait_for(lambda: any(m.role == "notice" and "nothing to condense" in m.text
                                   for m in app.chat.query(MessageItem)))  # fmt: skip
        assert app.chat.agent is not None and len(app.chat.agent.transcript) >= 3


async def test_f9_after_an_agent_turn_without_an_answer_says_so(
    tmp_path: Path, servers, project: Path
) -> None:
    broken = ScriptedModel([], dialect="anthropic")  # answers in the wrong dialect: fails
    cheap = ScriptedModel([])
    app = three_rung_app(tmp_path, servers, broken, cheap)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"What does add do?", "enter")
        await wait_for(lambda: bool(broken.bodies), timeout=60)
        await wait_for(lambda: not app.chat.busy, timeout=60)
        await pilot.press("f9")
        await wait_for(lambda: any("ended without an answer" in n.message
                                   for n in app._notifications))  # fmt: skip
        assert len(broken.bodies) == 1 and cheap.bodies == []  # nothing was sent again
