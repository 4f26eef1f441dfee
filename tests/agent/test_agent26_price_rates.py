"""Prices summed from a model's per-million prices (tiers/price_rates.py): the same
Decimal genai-prices computes, to the digit, for every model it knows, without its per-call
decomposition (~0.5 ms a price, at least two prices an agent step)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from decimal import Decimal

import genai_prices
import pytest
from genai_prices import data_snapshot
from genai_prices.types import TieredPrices

from rung.tiers.base import Usage
from rung.tiers.pricing import genai_price
from rung.tiers.providers import PROVIDERS

WHEN = datetime(2026, 6, 1, 12, tzinfo=UTC)


def slow(price_id: str | None, model: str, usage: Usage) -> Decimal | None:
    values = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
              "cache_read_tokens": usage.cached_input_tokens,
              "cache_write_tokens": usage.cache_write_tokens}  # fmt: skip
    try:
        result = genai_prices.calc_price(
            genai_prices.Usage(**values), model, provider_id=price_id, genai_request_timestamp=WHEN
        )
    except Exception:
        return None
    return Decimal(result.total_price)


def usages(seed: int, count: int) -> list[Usage]:
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        inp = rng.choice([0, 1, 17, 999, 12_345, 150_000, 250_000, 1_500_000])
        read = rng.randint(0, inp)
        write = rng.randint(0, inp - read)
        found.append(Usage(inp, rng.randint(0, 40_000), cached_input_tokens=read,
                           cache_write_tokens=write))  # fmt: skip
    return found


def rung_models() -> list[tuple[str, str]]:
    """Every model genai-prices lists for the providers Rung prices through it."""
    snapshot = data_snapshot.get_snapshot()
    ids = {p.price_id for p in PROVIDERS.values() if p.price_id}
    return [(p.id, m.id) for p in snapshot.providers if p.id in ids for m in p.models]


def test_every_rung_providers_model_prices_exactly_as_genai_prices() -> None:
    models = rung_models()
    assert len(models) > 50
    for n, (price_id, model) in enumerate(models):
        for usage in usages(n, 6):
            mine, theirs = genai_price(price_id, model, usage, WHEN), slow(price_id, model, usage)
            assert (mine, str(mine)) == (theirs, str(theirs)), (price_id, model, usage)


def test_a_linear_price_is_computed_without_genai_prices_after_the_first(monkeypatch) -> None:
    calls = []
    original = genai_prices.calc_price

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls.append(args[1])
        return original(*args, **kwargs)

    monkeypatch.setattr(genai_prices, "calc_price", counting)
    genai_price("deepseek", "deepseek-chat", Usage(10, 10), WHEN)  # rates read (and checked)
    calls.clear()
    for usage in usages(7, 100):
        assert genai_price("deepseek", "deepseek-chat", usage, WHEN) is not None
    assert calls == []


@pytest.mark.parametrize(("price_id", "model"), [("anthropic", "claude-sonnet-4-5")])
def test_a_tiered_price_keeps_genai_prices_own_calculation(price_id: str, model: str) -> None:
    snapshot = data_snapshot.get_snapshot()
    _, found = snapshot.find_provider_model(model, None, price_id, None)
    assert any(isinstance(v, TieredPrices) for v in vars(found.get_prices(WHEN)).values())
    big, small = Usage(300_000, 1_000), Usage(100_000, 1_000)
    assert genai_price(price_id, model, big, WHEN) == slow(price_id, model, big)
    # Past the tier's threshold the rate per token changes: not a line.
    per_big = genai_price(price_id, model, big, WHEN) / 300_000  # type: ignore[operator]
    per_small = genai_price(price_id, model, small, WHEN) / 100_000  # type: ignore[operator]
    assert per_big != per_small
