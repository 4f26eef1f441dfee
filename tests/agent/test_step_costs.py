"""Issue 27: the money of an agent run agrees everywhere, to the cent (Decimal): the
steps as priced, the session's meter, F7's breakdown by step kind (a real Textual
screen) and `rung cost` (the history in a real SQLite file) — over a real run on a
three-rung ladder whose plan and act steps land on different rungs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from textual.app import App
from textual.widgets import DataTable, Static

from rung.cli.history import report
from rung.engine.agent.loop import Agent
from rung.engine.agent.setup import agent_session
from rung.engine.config import data_dir, load_config
from rung.engine.ladder import Ladder
from rung.engine.session import Session
from rung.engine.store import open_store
from rung.engine.trusted_hosts import trust_configured
from rung.tiers.pricing import format_usd, usd_text
from rung.tui.cost_screen import CostScreen
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_ask_agent import project
from tests.agent.test_step_routing import ladder_config


async def test_steps_meter_f7_and_rung_cost_agree_by_step_kind(
    tmp_path: Path, servers, monkeypatch
) -> None:
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deepseek-test-1234567890")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-1234567890")
    premium = ScriptedModel([Turn(calls=[("read", {"path": "calc.py"})])], dialect="anthropic")
    cheap = ScriptedModel(
        [Turn(calls=[("search", {"pattern": "def add"})]), Turn(text="add subtracts.")]
    )
    root = project(tmp_path)
    ladder_config(tmp_path, {"anthropic": servers(premium).url, "deepseek": servers(cheap).url})
    config = load_config()
    for provider in ("deepseek", "anthropic"):
        trust_configured(config, provider)
    ladder = Ladder(config)
    session = Session(config, "agent", history=True)
    agent = Agent(ladder, session, agent_session(config, root, None, mode="accept-edits"))
    try:
        result = await agent.run("What does add do?")
    finally:
        await ladder.aclose()
        session.recorder.flush(5)  # type: ignore[union-attr]
    assert result.reason == "answered", result.message
    by_kind: dict[str, Decimal] = {}
    for step in result.steps:
        assert step.cost is not None and step.cost > 0
        by_kind[step.kind] = by_kind.get(step.kind, Decimal(0)) + step.cost
    assert [s.kind for s in result.steps] == ["plan", "act", "act"]
    total = sum(by_kind.values(), Decimal(0))
    assert result.cost == total

    # The meter (the status line's figure) holds the same steps, kinds and all.
    assert session.meter.totals().spent == total
    assert [r.step_kind for r in session.meter.records] == [s.kind for s in result.steps]

    # F7: one line by step kind, with the same amounts.
    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(CostScreen(session.meter))

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        line = str(app.screen.query_one("#cost-steps", Static).render())
        assert f"plan 1 {format_usd(by_kind['plan'])} (anthropic 1)" in line, line
        assert f"act 2 {format_usd(by_kind['act'])} (deepseek 2)" in line, line
        table = app.screen.query_one(DataTable)
        assert [table.get_row_at(i)[2] for i in range(table.row_count)] == [
            "plan", "act", "act",
        ]  # fmt: skip
    session.close()

    # `rung cost`: today's breakdown by step kind, read back from the history file.
    store = open_store(data_dir())
    try:
        today = report(store)["today"]
    finally:
        store.close()
    steps = today["by_step_kind"]
    assert {k: v["usd"] for k, v in steps.items()} == {  # type: ignore[union-attr]
        k: usd_text(v) for k, v in by_kind.items()
    }
    assert today["total_usd"] == usd_text(total)
