"""Issue 27: every agent step on the cheapest rung that can do it. The real loop, a real
three-rung ladder (the embedded local model, DeepSeek and Anthropic, the two paid ones
served by scripted tool-calling servers on 127.0.0.1, each in its own dialect), real
tools in a temp git project with a failing test: plans go to the premium rung, acting
to the cheap one, the transcript crosses dialects well formed, and the fix lands."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from rung.engine.agent.events import StepPriced, StepStarted
from rung.engine.agent.loop import Agent
from rung.engine.agent.run_cost import all_on, whatif_line
from rung.engine.agent.sandbox import probe
from rung.engine.agent.setup import agent_session
from rung.engine.agent.steps import ToolOutcome, step_kind
from rung.engine.config import data_dir, load_config
from rung.engine.ladder import Ladder
from rung.engine.session import Session, price_book
from rung.engine.store import open_store
from rung.engine.trusted_hosts import trust_configured
from rung.tiers.base import Usage
from rung.tiers.router import Rung
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_ask_agent import CALC, PYTEST, project

needs_sandbox = pytest.mark.skipif(probe().sandbox is None, reason="no working bwrap here")
ALLOW = ("run:python3 -m pytest*",)


# -- step kinds (pure) --------------------------------------------------------------------
def test_step_kinds_follow_what_the_turn_did() -> None:
    ran_red = [ToolOutcome("run", False, exit_code=1)]
    ran_green = [ToolOutcome("run", False, exit_code=0)]
    read = [ToolOutcome("read", False)]
    assert step_kind(1, [], "", False, 10)[0] == "plan"
    assert step_kind(2, read, "", False, 10)[0] == "act"
    # A red test run before any edit reproduces the problem (part of the plan); after the
    # edits it means the change did not work: plan again.
    assert step_kind(3, ran_red, "", False, 10)[0] == "act"
    assert step_kind(5, ran_red, "", True, 10) == ("plan", "a command failed after the edits")
    assert step_kind(3, [ToolOutcome("run", True)], "", True, 10)[0] == "plan"  # a timeout
    assert step_kind(3, [ToolOutcome("edit", True)], "", False, 10)[0] == "act"  # no match
    assert step_kind(3, read, "That did not work; let me rethink.", False, 10)[0] == "plan"
    assert step_kind(4, ran_green, "", True, 10)[0] == "answer"
    assert step_kind(4, ran_green, "", False, 10)[0] == "act"  # nothing edited yet
    assert step_kind(9, read, "", False, 0)[0] == "answer"  # the limit's last step


# -- a real ladder ----------------------------------------------------------------------
DEFAULT_RUNGS = '"local", "deepseek", "anthropic"'


def ladder_config(tmp_path: Path, urls: dict[str, str], extra: str = "", rungs: str = "") -> None:
    config = tmp_path / "config" / "rung" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f"[ladder]\nrungs = [{rungs or DEFAULT_RUNGS}]\n"
        f'[providers.deepseek]\nbase_url = "{urls["deepseek"]}/v1"\nmodel = "deepseek-chat"\n'
        f'[providers.anthropic]\nbase_url = "{urls["anthropic"]}/v1"\n'
        'model = "claude-sonnet-4-6"\n' + extra
    )


def make_agent(tmp_path: Path, monkeypatch, urls: dict[str, str], extra: str = "", rungs: str = ""):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deepseek-test-1234567890")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-1234567890")
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    root = project(tmp_path)
    ladder_config(tmp_path, urls, extra, rungs)
    config = load_config()
    for provider in ("deepseek", "anthropic"):  # the user put these URLs there
        trust_configured(config, provider)
    ladder = Ladder(config)
    tools = agent_session(config, root, None, mode="accept-edits", allow=ALLOW)
    events: list[Any] = []
    return root, Agent(ladder, Session(config, "agent"), tools, [events.append]), events


async def run(agent: Agent, question: str):  # type: ignore[no-untyped-def]
    try:
        return await agent.run(question)
    finally:
        await agent.ladder.aclose()
        agent.session.close()


def started(events: list[Any]) -> list[tuple[str, str]]:
    return [(e.kind, e.rung) for e in events if isinstance(e, StepStarted)]


def paired(body: dict[str, Any]) -> bool:
    """Every Anthropic tool_result answers a tool_use of the message before it."""
    messages = body["messages"]
    for i, m in enumerate(messages):
        for block in m["content"] if isinstance(m["content"], list) else []:
            if block.get("type") == "tool_result":
                before = messages[i - 1]["content"]
                ids = {b.get("id") for b in before if b.get("type") == "tool_use"}
                if block["tool_use_id"] not in ids:
                    return False
    return True


@needs_sandbox
async def test_plans_go_premium_acting_goes_cheap_and_the_fix_lands(
    tmp_path: Path, servers, monkeypatch
) -> None:
    wrong = {"path": "calc.py", "old_string": "a - b", "new_string": "b - a"}
    undo_wrong = {"path": "calc.py", "old_string": "b - a", "new_string": "a + b"}
    premium = ScriptedModel(
        [
            Turn(calls=[("read", {"path": "calc.py"})]),  # plan: the first step
            Turn(calls=[("edit", undo_wrong)], expect=("1 failed",)),  # plan: the fix failed
        ],
        dialect="anthropic",
    )
    cheap = ScriptedModel(
        [
            # act: reproduce the failure (a red run before any edit is not a failed plan)
            Turn(calls=[("run", {"command": PYTEST})], expect=("return a - b",)),
            Turn(calls=[("edit", wrong)], expect=("1 failed",)),  # act: a wrong fix
            Turn(calls=[("run", {"command": PYTEST})], expect=("b - a",)),  # act
            Turn(calls=[("run", {"command": PYTEST})], expect=("a + b",)),  # act
            Turn(text="Fixed add; the test passes.", expect=("1 passed",)),  # answer
        ]
    )
    urls = {"anthropic": servers(premium).url, "deepseek": servers(cheap).url}
    root, agent, events = make_agent(tmp_path, monkeypatch, urls)
    result = await run(agent, "The test fails. Fix calc.py.")
    assert result.reason == "answered", result.message
    assert premium.problems == [] and cheap.problems == []
    assert started(events) == [
        ("plan", "anthropic"), ("act", "deepseek"), ("act", "deepseek"), ("act", "deepseek"),
        ("plan", "anthropic"), ("act", "deepseek"), ("answer", "deepseek"),
    ]  # fmt: skip
    assert (root / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    # The premium rung's second request carries the cheap rung's steps in its own
    # dialect: every tool result answers a call of the message before it.
    assert paired(premium.bodies[1])
    # Each step says why: its kind, and why this rung (a price, the bar it clears).
    reasons = [e.reason for e in events if isinstance(e, StepStarted)]
    assert reasons[0].startswith("first step of the task: anthropic")
    assert reasons[4].startswith("a command failed after the edits: anthropic")
    assert "deepseek" in reasons[1] and ("bar" in reasons[1] or "cached" in reasons[1])
    kinds = [s.kind for s in result.steps]
    assert kinds == ["plan", "act", "act", "act", "plan", "act", "answer"]
    # The what-if: the same run all on the premium rung costs more, and says on what.
    assert result.premium_model == "claude-sonnet-4-6"
    assert result.cost is not None and result.premium_usd is not None
    assert result.premium_usd > result.cost


async def test_config_fixes_a_step_kind_to_a_rung(tmp_path: Path, servers, monkeypatch) -> None:
    premium = ScriptedModel(
        [Turn(calls=[("read", {"path": "calc.py"})]), Turn(text="It subtracts.")],
        dialect="anthropic",
    )
    cheap = ScriptedModel([])
    urls = {"anthropic": servers(premium).url, "deepseek": servers(cheap).url}
    _, agent, events = make_agent(
        tmp_path, monkeypatch, urls, '[agent]\nact = "anthropic"\nanswer = "anthropic"\n'
    )
    result = await run(agent, "What does add do?")
    assert result.reason == "answered", result.message
    assert started(events) == [("plan", "anthropic"), ("act", "anthropic")]
    assert "[agent] act = anthropic" in [e for e in events if isinstance(e, StepStarted)][1].reason
    assert cheap.bodies == []  # never asked


async def test_a_fixed_rung_that_cannot_be_used_falls_back_to_auto_and_says_so(
    tmp_path: Path, servers, monkeypatch
) -> None:
    premium = ScriptedModel([Turn(calls=[("read", {"path": "calc.py"})])], dialect="anthropic")
    cheap = ScriptedModel([Turn(text="It subtracts.")])
    urls = {"anthropic": servers(premium).url, "deepseek": servers(cheap).url}
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # on the ladder, with no key
    rungs = '"local", "deepseek", "anthropic", "openai"'
    _, agent, events = make_agent(tmp_path, monkeypatch, urls, '[agent]\nact = "openai"\n', rungs)
    result = await run(agent, "What does add do?")
    assert result.reason == "answered", result.message
    second = [e for e in events if isinstance(e, StepStarted)][1]
    assert second.rung == "deepseek"
    assert second.reason.startswith("follows the plan: [agent] act = openai unusable")


async def test_a_pinned_rung_takes_every_step(tmp_path: Path, servers, monkeypatch) -> None:
    premium = ScriptedModel([])
    cheap = ScriptedModel([Turn(calls=[("read", {"path": "calc.py"})]), Turn(text="It subtracts.")])
    urls = {"anthropic": servers(premium).url, "deepseek": servers(cheap).url}
    _, agent, events = make_agent(tmp_path, monkeypatch, urls)
    agent.ladder.mode = "deepseek"  # pinned, as F-keys or `--tier` do
    result = await run(agent, "What does add do?")
    assert result.reason == "answered", result.message
    assert started(events) == [("plan", "deepseek"), ("act", "deepseek")]
    assert premium.bodies == []


async def test_quality_zero_means_cheapest_always(tmp_path: Path, servers, monkeypatch) -> None:
    premium = ScriptedModel([])
    cheap = ScriptedModel([Turn(calls=[("read", {"path": "calc.py"})]), Turn(text="It subtracts.")])
    urls = {"anthropic": servers(premium).url, "deepseek": servers(cheap).url}
    # The local rung is left off: at quality 0 it would be the cheapest of all.
    _, agent, events = make_agent(tmp_path, monkeypatch, urls)
    agent.router.quality = 0.0
    agent.ladder.names.remove("local")
    result = await run(agent, "What does add do?")
    assert result.reason == "answered", result.message
    assert started(events) == [("plan", "deepseek"), ("act", "deepseek")]


def test_the_whatif_of_a_run_on_one_rung_is_what_it_cost() -> None:
    """Priced as the router prices a step, a run that never left the rung (prompts
    under the cache minimum) costs all-on-that-rung exactly what it cost."""
    prices = price_book(load_config())
    openai = Rung("openai", "api", provider="openai", model="gpt-5.4-mini")
    usages = [Usage(900, 40), Usage(1000, 30), Usage(1010, 60)]
    steps = [StepPriced(i, "openai", "gpt-5.4-mini", None, u, False, "stop", "act")
             for i, u in enumerate(usages, 1)]  # fmt: skip
    now = datetime.now(UTC)
    real = sum((prices.api_cost("openai", "gpt-5.4-mini", u, now).usd for u in usages),
               Decimal(0))  # fmt: skip
    assert real > 0 and all_on(steps, openai, prices) == real
    assert whatif_line(Decimal("0.41"), Decimal("1.73"), "claude-opus-4-7") == (
        "this run $0.41; all on claude-opus-4-7 ~$1.73"
    )


async def test_f9_redoes_the_answer_one_rung_up_and_teaches_the_step_router(
    tmp_path: Path, servers, monkeypatch
) -> None:
    premium = ScriptedModel(
        [
            Turn(calls=[("read", {"path": "calc.py"})]),  # plan
            Turn(text="add returns a - b: it subtracts, a bug."),  # the answer, redone
            Turn(calls=[("list", {"pattern": "*.py"})]),  # next turn's plan
            Turn(text="Two Python files."),  # its act step, floored by F9
        ],
        dialect="anthropic",
    )
    cheap = ScriptedModel([Turn(text="It adds.")])  # the answer the user escalates
    urls = {"anthropic": servers(premium).url, "deepseek": servers(cheap).url}
    _, agent, events = make_agent(tmp_path, monkeypatch, urls)
    agent.session = Session(agent.ladder.config, "agent", history=True)
    first = await agent.run("What does add do?")
    assert first.reason == "answered" and first.text == "It adds."
    assert started(events) == [("plan", "anthropic"), ("act", "deepseek")]
    events.clear()
    redone = await agent.escalate()
    assert not isinstance(redone, str), redone
    assert redone.reason == "answered" and "subtracts" in redone.text
    step = next(e for e in events if isinstance(e, StepStarted))
    assert (step.kind, step.rung) == ("act", "anthropic")
    assert "escalated from deepseek (F9)" in step.reason
    # The model saw the transcript without the escalated answer.
    assert "It adds." not in str(premium.bodies[1]["messages"])
    # The router learned: the next turn's act step goes to anthropic too.
    events.clear()
    later = await run(agent, "How many Python files are there?")
    assert later.reason == "answered", later.message
    assert started(events) == [("plan", "anthropic"), ("act", "anthropic")]
    assert (
        "F9 taught act >= anthropic" in [e for e in events if isinstance(e, StepStarted)][1].reason
    )
    assert len(cheap.bodies) == 1 and premium.problems == []
    # ... and the chat's router holds a lesson for similar questions.
    assert agent.ladder.lessons.current()
    # The escalated answer is paid for but not read back as part of the conversation.
    store = open_store(data_dir())
    try:
        rows = store.replies_since()
        assert [r.tier for r in rows if r.superseded] == ["deepseek"]
    finally:
        store.close()


async def test_f9_with_nothing_to_escalate_says_why(tmp_path: Path, servers, monkeypatch) -> None:
    urls = {"anthropic": servers(ScriptedModel([])).url, "deepseek": servers(ScriptedModel([])).url}
    _, agent, _ = make_agent(tmp_path, monkeypatch, urls)
    assert await agent.escalate() == "nothing to escalate yet: no agent turn has answered"
    await agent.ladder.aclose()
