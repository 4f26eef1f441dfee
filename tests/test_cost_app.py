"""The cost meter as a user sees it: `rung ask --json`, `rung cost`, the live meter,
the cost detail screen, budgets, and the SQLite history behind them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from textual.widgets import DataTable

from rung.engine.build_tiers import RungOverrides
from rung.engine.config import data_dir, load_config
from rung.engine.store import DB_NAME, SCHEMA_VERSION, open_store
from rung.tui.app import RungApp
from rung.tui.cost_screen import CostScreen
from rung.tui.widgets.meter import CostBar
from rung.tui.widgets.prompt import PromptInput
from tests.conftest import wait_for
from tests.fakes import ScriptedServer, Send, Sleep, anthropic_stream
from tests.test_cli import rung

# claude-sonnet-4-5: 1000 x 3 + 2000 x 3.75 + 5000 x 0.30 + 500 x 15 = $0.0195
SONNET_TURN = {"input_tokens": 1000, "cache_write": 2000, "cache_read": 5000, "output_tokens": 500}


@pytest.fixture
def anthropic_server() -> Iterator[ScriptedServer]:
    server = ScriptedServer(lambda r: anthropic_stream(["Hello", " there"], **SONNET_TURN))
    yield server
    server.close()


def write_config(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config" / "rung" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def ask_anthropic(tmp_path: Path, url: str, *extra: str):  # type: ignore[no-untyped-def]
    return rung(
        tmp_path,
        "ask",
        "--tier",
        "anthropic",
        "--base-url",
        url + "/v1",
        "--json",
        *extra,
        "hi",
        ANTHROPIC_API_KEY="sk-ant-test",
    )


def test_ask_json_reports_the_exact_cost(tmp_path: Path, anthropic_server) -> None:
    result = ask_anthropic(tmp_path, anthropic_server.url)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["cost_usd"] == "0.0195"
    assert data["cost_estimated"] is False


def test_rung_cost_sums_the_history(tmp_path: Path, anthropic_server) -> None:
    for _ in range(2):
        assert ask_anthropic(tmp_path, anthropic_server.url).returncode == 0
    assert rung(tmp_path, "ask", "--max-tokens", "4", "hi").returncode == 0  # local, $0
    result = rung(tmp_path, "cost", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    for period in ("today", "this_week", "all_time"):
        assert data[period]["total_usd"] == "0.0390"
        assert data[period]["messages"] == 3
        assert data[period]["by_tier"] == {"anthropic": "0.0390", "local": "0"}
    text = rung(tmp_path, "cost").stdout
    assert "Today: $0.039 over 3 replies" in text or "Today: $0.039" in text
    assert "claude-sonnet-4-5" in text
    lines = text.splitlines()
    local = next(line for line in lines if line.strip().startswith("local"))
    assert local.rstrip().endswith(" 1 reply"), local  # not "1 replies"
    assert any(line.rstrip().endswith(" 2 replies") for line in lines), text


def test_cut_stream_stays_estimated(tmp_path: Path) -> None:
    server = ScriptedServer(lambda r: anthropic_stream(["a ", "b ", "c"], cut_after=2))
    try:
        result = ask_anthropic(tmp_path, server.url)
    finally:
        server.close()
    assert result.returncode == 1
    data = json.loads(result.stdout)
    assert data["usage"]["estimated"] is True and data["cost_estimated"] is True
    assert data["usage"]["input_tokens"] == 25  # message_start's exact figure is kept
    assert data["cost_usd"] is not None and float(data["cost_usd"]) > 0
    report = json.loads(rung(tmp_path, "cost", "--json").stdout)
    assert report["today"]["estimated_messages"] == 1


def test_unknown_model_is_reported_as_unknown(tmp_path: Path) -> None:
    from tests.fakes import openai_stream

    server = ScriptedServer(
        lambda r: openai_stream(
            ["x"], usage={"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
        )
    )
    try:
        result = rung(
            tmp_path,
            "ask",
            "--tier",
            "custom",
            "--base-url",
            server.url + "/v1",
            "--model",
            "team-finetune-v3",
            "--json",
            "hi",
        )
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["cost_usd"] is None
    report = json.loads(rung(tmp_path, "cost", "--json").stdout)
    assert report["today"]["unknown_price_messages"] == 1
    assert report["today"]["total_usd"] == "0"


def test_config_price_override_is_used(tmp_path: Path, anthropic_server) -> None:
    write_config(tmp_path, '[prices."claude-sonnet-4-6"]\ninput = "1"\noutput = "1"\n')
    data = json.loads(ask_anthropic(tmp_path, anthropic_server.url).stdout)
    # 8000 prompt tokens (cache prices fall back to input) + 500 output, all at $1/M: the
    # user's price for the name they use wins over the model the provider reports.
    assert data["cost_usd"] == "0.0085"


def test_priced_by_the_model_the_provider_says_it_used(tmp_path: Path, anthropic_server) -> None:
    """Asked for Haiku; the provider answered with (and bills) Sonnet 4.5."""
    data = json.loads(
        ask_anthropic(tmp_path, anthropic_server.url, "--model", "claude-haiku-4-5").stdout
    )
    assert data["model"] == "claude-sonnet-4-5-20250929"
    assert data["cost_usd"] == "0.0195"  # Sonnet's prices, not Haiku's ($0.0065)


def test_daily_budget_stops_paid_rungs_headless(tmp_path: Path, anthropic_server) -> None:
    write_config(tmp_path, '[budget]\ndaily_usd = "0.01"\n')
    assert ask_anthropic(tmp_path, anthropic_server.url).returncode == 0  # $0.0195 spent
    blocked = ask_anthropic(tmp_path, anthropic_server.url)
    assert blocked.returncode == 1
    assert "daily budget of $0.01 is reached" in blocked.stderr and "--tier local" in blocked.stderr
    assert len(anthropic_server.requests) == 1  # the paid rung was not called
    assert rung(tmp_path, "ask", "--max-tokens", "3", "hi").returncode == 0  # local still works


def test_store_schema_is_versioned_and_in_wal_mode(tmp_path: Path) -> None:
    store = open_store(data_dir())
    assert store.schema_version == SCHEMA_VERSION == 7
    store.close()
    store = open_store(data_dir())  # reopening migrates nothing twice
    assert store.schema_version == SCHEMA_VERSION == 7
    store.close()
    db = sqlite3.connect(data_dir() / DB_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"sessions", "messages"} <= tables


def _app(url: str, monkeypatch, config: dict | None = None) -> RungApp:  # type: ignore[type-arg]
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    cfg = load_config()
    for (section, key), value in (config or {}).items():
        cfg.set(section, key, value)
    return RungApp(cfg, RungOverrides(tier="anthropic", base_url=url + "/v1"))


def bar_text(app: RungApp) -> str:
    return str(app.chat.query_one(CostBar).render())


async def test_meter_updates_while_the_reply_streams(monkeypatch) -> None:
    def slow(r):  # type: ignore[no-untyped-def]
        steps = anthropic_stream(["word "] * 30, **SONNET_TURN)
        return [
            s
            for step in steps
            for s in ((step, Sleep(0.05)) if isinstance(step, Send) else (step,))
        ]

    server = ScriptedServer(slow)
    try:
        app = _app(server.url, monkeypatch)
        async with app.run_test(size=(160, 40)) as pilot:
            assert "spent $0" in bar_text(app)
            await pilot.press(*"hello", "enter")
            await wait_for(lambda: "this reply ~$" in bar_text(app))
            assert app.chat.busy  # still streaming
            await wait_for(lambda: not app.chat.busy)
            await pilot.pause()
            text = bar_text(app)
            assert "spent $0.0195" in text and "this reply" not in text
            # vs Opus 4.7 (5/25, cache 0.5/6.25): 1000x5 + 2000x6.25 + 5000x0.5 + 500x25
            # = $0.0325, so $0.013 saved
            assert "saved $0.013 vs claude-opus-4-7" in text
            assert "anthropic $0.0195" in text
    finally:
        server.close()


async def test_cost_detail_screen_lists_every_message(anthropic_server, monkeypatch) -> None:
    app = _app(anthropic_server.url, monkeypatch)
    async with app.run_test(size=(160, 40)) as pilot:
        for _ in range(2):
            await pilot.press(*"hi", "enter")
            await wait_for(lambda: not app.chat.busy and len(app.chat.replies) >= 1)
        await wait_for(lambda: len(app.chat.replies) == 2 and not app.chat.busy)
        await pilot.press("f7")
        assert isinstance(app.screen, CostScreen)
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        row = table.get_row_at(0)
        assert row[2] == "anthropic" and row[7] == "$0.0195" and row[8] == "exact"
        assert row[4] == "8,000" and row[6] == "5,000"
        await pilot.press("escape")


async def test_budget_warns_then_blocks_paid_rungs(anthropic_server, monkeypatch) -> None:
    from decimal import Decimal

    app = _app(anthropic_server.url, monkeypatch, {("budget", "session_usd"): Decimal("0.024")})
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press(*"one", "enter")
        await wait_for(lambda: len(app.chat.replies) == 1 and not app.chat.busy)
        await pilot.pause()
        # $0.0195 of $0.024 is 81%: a warning, and the meter turns amber
        assert app.chat.query_one(CostBar).has_class("warn")
        assert any("81% of the session budget" in n.message for n in app._notifications)
        await pilot.press(*"two", "enter")
        await wait_for(lambda: len(app.chat.replies) == 2 and not app.chat.busy)
        await pilot.pause()
        assert app.chat.query_one(CostBar).has_class("over")
        await pilot.press(*"three", "enter")
        await pilot.pause()
        assert len(anthropic_server.requests) == 2  # the third was not sent
        assert app.chat.query_one(PromptInput).text == "three"  # nothing lost
        assert any("session budget of $0.024 is reached" in n.message for n in app._notifications)
