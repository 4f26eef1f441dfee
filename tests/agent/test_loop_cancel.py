"""Esc (``Agent.cancel``) inside a step and inside a tool call: the real loop, the real
OpenAI dialect against a scripted local server, the real dispatcher and sandbox."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from rung.engine.agent.events import AgentDone, StepPriced, ToolCallStarted
from rung.engine.agent.loop import Agent
from rung.engine.agent.sandbox import probe
from rung.engine.agent.setup import agent_session
from rung.engine.build_tiers import RungOverrides
from rung.engine.config import load_config
from rung.engine.ladder import Ladder
from rung.engine.session import Session
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_ask_agent import project
from tests.fakes import openai_stream


def make(root: Path, url: str, *allow: str) -> tuple[Agent, list[object]]:
    config = load_config()
    ladder = Ladder(config, RungOverrides("custom", "m", url + "/v1"), only_override=True)
    tools = agent_session(config, root, None, mode="accept-edits", allow=allow)
    events: list[object] = []
    return Agent(ladder, Session(config, "agent"), tools, [events.append]), events


async def until(check, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.02)


@pytest.mark.skipif(probe().sandbox is None, reason="no working bwrap here")
async def test_esc_while_a_command_runs_kills_it_and_ends_the_turn_cancelled(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    model = ScriptedModel([Turn(calls=[("run", {"command": "sleep 2 && touch late.txt"})])])
    agent, events = make(root, servers(model).url, "run:sleep *", "run:touch *")
    task = asyncio.create_task(agent.run("wait, then touch"))
    await until(lambda: any(isinstance(e, ToolCallStarted) for e in events))
    await asyncio.sleep(0.5)  # the command is running
    agent.cancel()
    result = await asyncio.wait_for(task, 10)
    assert result.reason == "cancelled"
    assert isinstance(events[-1], AgentDone) and events[-1].reason == "cancelled"
    await asyncio.sleep(2.5)
    assert not (root / "late.txt").exists()  # its whole process group was killed
    last = agent.transcript[-1]
    assert last.role == "tool" and "Cancelled by the user" in last.content
    # The transcript stays well formed: the call is answered, and the next turn can go on.
    assert agent.transcript[-2].tool_calls[0].id == last.tool_call_id
    await agent.ladder.aclose()
    agent.session.close()


async def test_esc_while_the_model_streams_ends_the_step_at_once_and_prices_it(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    stalled = openai_stream(["Let me think", " about this"], stall_after=1, stall=10)
    model = ScriptedModel([Turn(raw=stalled)])
    agent, events = make(root, servers(model).url)
    task = asyncio.create_task(agent.run("think"))
    await until(lambda: len(model.bodies) == 1)
    await asyncio.sleep(0.3)
    started = time.monotonic()
    agent.cancel()
    result = await asyncio.wait_for(task, 5)
    assert time.monotonic() - started < 2
    assert result.reason == "cancelled" and len(result.steps) == 1
    assert result.steps[0].finish_reason == "interrupted"
    assert result.steps[0].usage.input_tokens > 0  # what it used is counted
    assert not any(isinstance(e, StepPriced) and e.finish_reason != "interrupted" for e in events)
    # The meter (F7, the cost line) knows the stopped step's kind like any other's.
    assert [r.step_kind for r in agent.session.meter.records] == ["plan"]
    assert result.steps[0].kind == "plan"
    await agent.ladder.aclose()
    agent.session.close()
