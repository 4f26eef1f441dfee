"""`rung cost --what-if`: the stored history priced again on every rung, exact for the
same model and labelled an estimate across models, with cache discounts, off-peak prices
by timestamp, GPU hours at the measured speed, and the break-even of a rented GPU."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rung.engine.config import Config, data_dir, load_config
from rung.engine.session import price_book
from rung.engine.store import Store, open_store
from rung.engine.whatif import measured_speeds, what_if
from rung.tiers.base import Usage
from rung.tiers.meter import CostMeter, MessageCost
from rung.tiers.pricing import genai_price
from tests.test_cli import rung

NOW = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
PEAK = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # inside DeepSeek's peak window
OFF_PEAK = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
# Stored Sonnet replies: one mostly read from the prompt cache, one not.
CACHED = Usage(input_tokens=10_000, output_tokens=500, cached_input_tokens=8_000)
PLAIN = Usage(input_tokens=2_000, output_tokens=300)


def ladder_config(*rungs: str) -> Config:
    config = load_config()
    config.set("ladder", "rungs", list(rungs))
    config.set("selfhosted", "model", "qwen-coder")
    config.providers["custom"] = {"base_url": "http://127.0.0.1:9/v1", "model": "team-model"}
    # A price with no cache price: cached input is paid in full.
    config.prices["team-model"] = {"input": Decimal("1.00"), "output": Decimal("2.00")}
    return config


def add(
    store: Store,
    config: Config,
    tier: str,
    kind: str,
    model: str,
    usage: Usage,
    when: datetime,
    busy_s: float = 0.0,
) -> MessageCost:
    meter = CostMeter(price_book(config), "anthropic", "claude-opus-4-7")
    record = meter.price(
        tier=tier, kind=kind, provider=tier, model=model, usage=usage, busy_s=busy_s, when=when
    )
    session = store.start_session("tui")
    store.add_user_message(session, "question")
    row = store.add_reply(session, "answer", record)
    store.db.execute("UPDATE messages SET created_at = ? WHERE id = ?", (when.isoformat(), row))
    return record


def sonnet_history(store: Store, config: Config) -> Decimal:
    paid = add(store, config, "anthropic", "api", "claude-sonnet-4-6", CACHED, PEAK)
    paid2 = add(store, config, "anthropic", "api", "claude-sonnet-4-6", PLAIN, OFF_PEAK)
    assert paid.cost.usd is not None and paid2.cost.usd is not None
    return paid.cost.usd + paid2.cost.usd


def test_same_model_is_exact_other_models_are_labelled_estimates() -> None:
    config = ladder_config("local", "selfhosted", "deepseek", "anthropic", "custom")
    store = open_store(data_dir())
    paid = sonnet_history(store, config)
    result = what_if(config, store, days=30, now=NOW)
    by = {r.target.name: r for r in result.targets}
    assert result.replies == 2 and result.paid == paid and result.output_tokens == 800
    # The same model, priced again: exactly what was paid.
    sonnet = by["anthropic"]
    assert sonnet.usd == paid and sonnet.exact and sonnet.label == "exact (same model)"
    # Opus (the reference) reads the cache at a tenth of its input price: 2,000 fresh
    # and 8,000 cached at $5 and $0.50, then 2,000 at $5; outputs at $25 a million.
    opus = by["reference"]
    assert opus.usd == Decimal("0.044") and not opus.exact
    assert opus.label == "estimate (other models' token counts; tokenizers differ)"
    # No cache price: cached input paid in full ($1 in, $2 out a million).
    assert by["custom"].usd == Decimal("0.0136")
    # Each reply at the price in force at its own time: DeepSeek's peak hours cost more.
    flash = by["deepseek"]
    expected = sum(
        genai_price("deepseek", "deepseek-v4-flash", u, when)  # type: ignore[misc]
        for u, when in ((CACHED, PEAK), (PLAIN, OFF_PEAK))
    )
    at_noon = sum(
        genai_price("deepseek", "deepseek-v4-flash", u, OFF_PEAK)  # type: ignore[misc]
        for u in (CACHED, PLAIN)
    )
    assert flash.usd == expected and expected != at_noon
    assert by["local"].usd == 0 and by["local"].label == "free"
    # Never $0 for what cannot be told: no self-hosted reply to measure its speed by.
    hosted = by["selfhosted"]
    assert hosted.unknown == 2 and hosted.label.startswith("price unknown")
    assert "no selfhosted replies in the history to measure its speed" in hosted.label
    # A rented GPU's break-even needs only its price; what it can make a day, its speed.
    assert result.break_even and all(b.reachable is None for b in result.break_even)
    store.close()


def test_gpu_hours_at_the_measured_speed_and_the_break_even() -> None:
    config = ladder_config("local", "selfhosted", "deepseek", "anthropic")
    store = open_store(data_dir())
    sonnet_history(store, config)
    # 1,000 output tokens in 10 busy seconds: 100 tokens/s, in the period and before it.
    add(store, config, "selfhosted", "selfhosted", "qwen-coder", Usage(1_000, 1_000), OFF_PEAK, 10)
    add(
        store,
        config,
        "selfhosted",
        "selfhosted",
        "qwen-coder",
        Usage(900, 1_000),
        NOW - timedelta(days=60),
        10,
    )
    assert measured_speeds(store.replies_since())["selfhosted"].tokens_per_s == 100
    result = what_if(config, store, days=30, now=NOW)
    by = {r.target.name: r for r in result.targets}
    hosted = by["selfhosted"]
    # Sonnet's 800 output tokens take 8 s at 100 tokens/s; its own reply took 10 s.
    assert hosted.gpu_hours == 18 / 3600
    # Each reply's GPU time is priced to 1e-10 USD (tiers/pricing.py time_priced).
    assert abs(hosted.usd - Decimal("2.50") * Decimal(18) / Decimal(3600)) <= Decimal("2e-10")
    assert (hosted.same_model, hosted.other_model) == (1, 2)
    sonnet = by["anthropic"]
    deal = next(b for b in result.break_even if b.api.name == "anthropic")
    per_token = sonnet.usd / 1_800
    assert deal.usd_per_output_token == per_token
    assert deal.tokens_per_day == Decimal("60.00") / per_token
    # 1,800 output tokens over the 2 days 16 hours the period's history covers.
    assert abs(float(deal.your_tokens_per_day) - 675) < 1e-6
    assert deal.capacity_per_day == 100 * 86_400
    store.close()


def seed_recent_history(tmp_path: Path) -> None:
    path = tmp_path / "config" / "rung" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '[ladder]\nrungs = ["local", "selfhosted", "deepseek", "anthropic"]\n'
        '[selfhosted]\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "qwen-coder"\n'
    )
    config = load_config()
    store = open_store(data_dir())
    now = datetime.now(UTC)
    add(store, config, "anthropic", "api", "claude-sonnet-4-6", PLAIN, now - timedelta(days=1))
    add(
        store,
        config,
        "selfhosted",
        "selfhosted",
        "qwen-coder",
        Usage(1_000, 1_000),
        now - timedelta(days=2),
        10,
    )
    add(store, config, "anthropic", "api", "claude-sonnet-4-6", CACHED, now - timedelta(days=20))
    store.close()


def test_cost_what_if_prints_a_table_and_json(tmp_path: Path) -> None:
    seed_recent_history(tmp_path)
    result = rung(tmp_path, "cost", "--what-if", "--days", "7")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "What if: the last 7 days" in out and "2 replies" in out  # the 20-day-old one is out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "exact for 1, estimate for 1 (tokenizers differ)" in lines["anthropic"]
    assert "GPU time: 0.004 h at the 100 tok/s measured over 1 reply" in lines["selfhosted"]
    assert "free" in lines["local"]
    assert "tokenizers differ" in lines["deepseek"] and "~$" in lines["deepseek"]
    assert "A GPU rented full-time against each API:" in out
    assert "a GPU at $2.50/h rented full-time ($60.00/day) costs more than deepseek-v4-flash" in out
    data = json.loads(rung(tmp_path, "cost", "--what-if", "--json").stdout)
    assert data["days"] == 30 and data["replies"] == 3
    targets = {t["rung"]: t for t in data["targets"]}
    assert targets["selfhosted"]["measured_tokens_per_s"] == 100
    assert targets["anthropic"]["exact"] is False and targets["local"]["usd"] == "0"
    assert {b["api_rung"] for b in data["break_even"]} == {"deepseek", "anthropic", "reference"}
    bad = rung(tmp_path, "cost", "--days", "7")
    assert bad.returncode == 2 and "--days goes with --what-if" in bad.stderr


def test_what_if_on_an_empty_history(tmp_path: Path) -> None:
    result = rung(tmp_path, "cost", "--what-if")
    assert result.returncode == 0, result.stderr
    assert "0 replies" in result.stdout and "Nothing to price again" in result.stdout
