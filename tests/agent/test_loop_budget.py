"""The daily budget between agent steps sees what another Rung process spent meanwhile
(the history re-read on a thread while the tools run): the real loop, the real OpenAI
dialect on a scripted local server, a real SQLite history shared with "another process"
(a second connection)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from rung.engine.agent import money
from rung.engine.agent.events import StepPriced
from rung.engine.config import data_dir
from rung.engine.store import open_store
from rung.tiers.base import Usage
from rung.tiers.meter import MessageCost
from rung.tiers.pricing import Cost
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_ask_agent import project
from tests.agent.test_loop_cancel import make


def spent_elsewhere(usd: str) -> None:
    """A reply another Rung process recorded (its own connection to the history)."""
    store = open_store(data_dir())
    record = MessageCost("anthropic", "api", "anthropic", "claude", Usage(10, 10),
                         Cost(Decimal(usd), True, "test"), Cost(Decimal(usd), True, "test"),
                         datetime.now(UTC), 0.0, "stop")  # fmt: skip
    store.add_reply(store.start_session("tui"), "elsewhere", record)
    store.close()


@pytest.mark.parametrize("reread_s", [0.0, 3600.0])
async def test_spend_by_another_process_mid_turn_stops_the_next_step(
    tmp_path: Path, servers, monkeypatch: pytest.MonkeyPatch, reread_s: float
) -> None:
    monkeypatch.setattr(money, "BUDGET_REREAD_S", reread_s)
    root = project(tmp_path)  # prices "m" at $1 / $2 per million tokens: $0.0011 a step
    config = tmp_path / "config" / "rung" / "config.toml"
    config.write_text(config.read_text() + '\n[budget]\ndaily_usd = "0.01"\n')
    model = ScriptedModel([Turn(calls=[("list", {"pattern": f"*{i}*"})]) for i in range(3)])
    agent, _ = make(root, servers(model).url)

    def on_event(event: object) -> None:
        if isinstance(event, StepPriced) and event.step == 1:
            spent_elsewhere("0.02")  # the chat screen spent past today's budget meanwhile

    agent.listeners.append(on_event)
    result = await agent.run("explore")
    await agent.ladder.aclose()
    agent.session.close()
    if reread_s == 0.0:
        assert result.reason == "budget" and len(model.bodies) == 1
        assert "daily budget" in result.message
    else:  # not re-read within the turn: the figure read at its start holds
        assert len(model.bodies) == 4 and result.reason == "answered"


async def test_a_budget_reached_after_an_edit_stops_before_the_next_step_with_the_edit_whole(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)  # $0.0011 a step
    config = tmp_path / "config" / "rung" / "config.toml"
    config.write_text(config.read_text() + '\n[budget]\nsession_usd = "0.001"\n')
    edit = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}
    model = ScriptedModel([Turn(calls=[("edit", edit)]), Turn(text="never asked")])
    agent, _ = make(root, servers(model).url)
    result = await agent.run("fix add")
    await agent.ladder.aclose()
    agent.session.close()
    assert result.reason == "budget" and "session budget" in result.message
    assert len(model.bodies) == 1  # the second step was never sent
    # The edit the first step asked for landed whole; the transcript answers its call.
    assert (root / "calc.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert agent.transcript[-1].role == "tool" and not agent.transcript[-1].is_error


async def test_max_cost_stops_before_a_paid_step_that_would_pass_it(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)  # $0.0011 a step
    model = ScriptedModel([Turn(calls=[("list", {"pattern": f"*{i}*"})]) for i in range(5)])
    agent, _ = make(root, servers(model).url)
    agent.money.max_cost = Decimal("0.003")
    result = await agent.run("explore")
    await agent.ladder.aclose()
    agent.session.close()
    assert result.reason == "budget", result.message
    assert len(model.bodies) == 2  # $0.0022 spent; a third step (~$0.0011) would pass $0.003
    assert result.message.startswith("stopped before step 3: this run cost $0.0022")
    assert "over $0.003" in result.message
