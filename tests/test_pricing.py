"""Money, checked against values computed by hand from the providers' price lists.

Prices used ($ per million tokens): claude-sonnet-4-5 3 in / 15 out / 0.30 cache read /
3.75 cache write (5 min) / 6 cache write (1 h); claude-opus-4-5 5 / 25; gpt-5 1.25 in /
0.125 cached / 10 out; deepseek-chat 0.27 / 0.07 hit / 1.10 out at peak, half that
16:30-00:30 UTC; gemini-2.5-flash 0.30 in / 0.03 cached / 2.50 out (thinking included).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from rung.tiers.anthropic import anthropic_usage
from rung.tiers.base import Usage
from rung.tiers.budget import Budget
from rung.tiers.gemini import gemini_usage
from rung.tiers.meter import CostMeter, MessageCost
from rung.tiers.openai import usage_from_openai
from rung.tiers.pricing import Cost, PriceBook, PriceOverride, format_usd

NOON = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
D = Decimal


def api(provider: str, model: str, usage: Usage, when: datetime = NOON) -> Cost:
    return PriceBook().cost(kind="api", provider=provider, model=model, usage=usage, when=when)


def test_anthropic_cache_writes_and_reads() -> None:
    usage = anthropic_usage(
        {
            "input_tokens": 1000,
            "cache_creation_input_tokens": 2000,
            "cache_read_input_tokens": 5000,
        },
        output_tokens=500,
    )
    assert usage.input_tokens == 8000  # the whole prompt, cache parts inside
    # 1000 x 3 + 2000 x 3.75 + 5000 x 0.30 + 500 x 15 = 19,500 per million
    cost = api("anthropic", "claude-sonnet-4-5", usage)
    assert cost.usd == D("0.0195") and cost.exact and cost.basis == "genai-prices"


def test_anthropic_one_hour_cache_writes_cost_twice_the_input() -> None:
    usage = anthropic_usage(
        {
            "input_tokens": 1000,
            "cache_creation_input_tokens": 2000,
            "cache_read_input_tokens": 5000,
            "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 2000},
        },
        output_tokens=500,
    )
    # 1000 x 3 + 2000 x 6 + 5000 x 0.30 + 500 x 15 = 24,000 per million
    assert api("anthropic", "claude-sonnet-4-5", usage).usd == D("0.024")


def test_openai_cached_and_reasoning_tokens() -> None:
    usage = usage_from_openai(
        {
            "prompt_tokens": 10000,
            "completion_tokens": 1000,
            "prompt_tokens_details": {"cached_tokens": 8000},
            "completion_tokens_details": {"reasoning_tokens": 400},
        }
    )
    # 2000 x 1.25 + 8000 x 0.125 + 1000 x 10 (reasoning is inside completion) = 13,500
    assert api("openai", "gpt-5", usage).usd == D("0.0135")


def test_deepseek_peak_and_off_peak() -> None:
    usage = usage_from_openai(
        {
            "prompt_tokens": 100000,
            "completion_tokens": 10000,
            "prompt_cache_hit_tokens": 60000,
            "prompt_cache_miss_tokens": 40000,
        }
    )
    # Peak: 40000 x 0.27 + 60000 x 0.07 + 10000 x 1.10 = 26,000 per million
    peak = api("deepseek", "deepseek-chat", usage, datetime(2026, 11, 23, 10, 0, tzinfo=UTC))
    # Off-peak (16:30-00:30 UTC): half of every price
    off = api("deepseek", "deepseek-chat", usage, datetime(2026, 11, 23, 18, 0, tzinfo=UTC))
    assert peak.usd == D("0.026")
    assert off.usd == D("0.013")


def test_gemini_thinking_tokens_are_billed_as_output() -> None:
    usage = gemini_usage(
        {
            "promptTokenCount": 2000,
            "cachedContentTokenCount": 500,
            "candidatesTokenCount": 300,
            "thoughtsTokenCount": 700,
        }
    )
    assert usage.output_tokens == 1000
    # 1500 x 0.30 + 500 x 0.03 + 1000 x 2.50 = 2,965 per million
    assert api("gemini", "gemini-2.5-flash", usage).usd == D("0.002965")


def test_long_context_tier() -> None:
    # Above 200k input tokens Sonnet 4.5 costs 6/22.5 per million for the whole request.
    usage = Usage(input_tokens=250_000, output_tokens=1000)
    assert api("anthropic", "claude-sonnet-4-5", usage).usd == D("1.5225")


def test_unknown_model_is_unknown_not_free() -> None:
    cost = api("custom", "my-private-finetune", Usage(input_tokens=100, output_tokens=10))
    assert cost.usd is None and cost.basis == "unknown"
    assert format_usd(cost.usd) == "price unknown"


def test_user_override_prices_an_unknown_model() -> None:
    book = PriceBook(overrides={"my-private-finetune": PriceOverride(D("1"), D("2"), D("0.1"))})
    usage = Usage(input_tokens=3000, output_tokens=500, cached_input_tokens=1000)
    # 2000 x 1 + 1000 x 0.1 + 500 x 2 = 3,100 per million
    cost = book.cost(
        kind="api", provider="custom", model="my-private-finetune", usage=usage, when=NOON
    )
    assert cost.usd == D("0.0031") and cost.basis == "override"


def test_selfhosted_is_gpu_time() -> None:
    book = PriceBook(gpu_usd_per_hour=D("2.50"))
    usage = Usage(input_tokens=2000, output_tokens=500, estimated=True)
    cost = book.cost(
        kind="selfhosted", provider="selfhosted", model="qwen", usage=usage, when=NOON, busy_s=7.2
    )
    # 2.50 $/h x 7.2 s / 3600 = $0.005; over 2500 tokens that is $2.00 per million
    assert cost.usd == D("0.005")
    assert cost.exact  # busy time is measured, not guessed
    assert cost.note == "effective $2.00/Mtok"


def test_selfhosted_at_an_effective_token_price() -> None:
    book = PriceBook(selfhosted_usd_per_mtok=D("0.40"))
    cost = book.cost(
        kind="selfhosted",
        provider="selfhosted",
        model="q",
        usage=Usage(input_tokens=900_000, output_tokens=100_000),
        when=NOON,
        busy_s=99,
    )
    assert cost.usd == D("0.40")


def test_local_is_free_or_costs_its_energy() -> None:
    usage = Usage(input_tokens=100, output_tokens=100)
    assert (
        PriceBook()
        .cost(kind="local", provider="local", model="m", usage=usage, when=NOON, busy_s=36)
        .usd
        == 0
    )
    book = PriceBook(energy_watts=D("50"), energy_usd_per_kwh=D("0.30"))
    # 50 W x 36 s = 0.0005 kWh x $0.30 = $0.00015
    cost = book.cost(kind="local", provider="local", model="m", usage=usage, when=NOON, busy_s=36)
    assert cost.usd == D("0.00015") and cost.basis == "energy"


def test_estimated_usage_gives_an_estimated_cost() -> None:
    usage = Usage(input_tokens=1000, output_tokens=100, estimated=True)
    cost = api("anthropic", "claude-sonnet-4-5", usage)
    assert cost.usd == D("0.0045") and not cost.exact
    assert format_usd(cost.usd, not cost.exact) == "~$0.0045"


def test_savings_against_the_reference_model() -> None:
    meter = CostMeter(PriceBook(), "anthropic", "claude-opus-4-5")
    record = meter.price(
        tier="local",
        kind="local",
        provider="local",
        model="SmolLM2",
        usage=Usage(input_tokens=1000, output_tokens=200),
        busy_s=1,
        when=NOON,
    )
    # Opus 4.5: 1000 x 5 + 200 x 25 = 10,000 per million = $0.01, and local cost $0
    assert record.reference.usd == D("0.01") and record.saved == D("0.01")


def test_format_usd() -> None:
    assert format_usd(D("0")) == "$0"
    assert format_usd(D("0.00004")) == "<$0.0001"
    assert format_usd(D("0.0123456")) == "$0.0123"
    assert format_usd(D("0.5")) == "$0.50"
    assert format_usd(D("0.0100")) == "$0.01"
    assert format_usd(D("12.345")) == "$12.35"
    assert format_usd(D("1234.5")) == "$1,234.50"


def test_budget_levels() -> None:
    budget = Budget(session_usd=D("1.00"), daily_usd=D("5.00"))
    assert budget.check(D("0.50"), D("0.50")).level == "ok"
    warn = budget.check(D("0.80"), D("0.80"))
    assert warn.level == "warn" and "80% of the session budget" in warn.message
    over = budget.check(D("1.00"), D("1.00"))
    assert over.blocks_paid and "session budget of $1.00 is reached" in over.message
    assert budget.check(D("0.10"), D("5.01")).blocks_paid  # the daily one
    assert not Budget().check(D("999"), D("999")).blocks_paid  # no limits set


costs = st.one_of(
    st.none(),
    st.decimals(min_value=0, max_value=100, places=6, allow_nan=False, allow_infinity=False),
)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["local", "selfhosted", "anthropic", "gemini"]), costs, st.booleans()
        ),
        max_size=40,
    )
)
def test_session_total_is_the_sum_of_message_costs(rows) -> None:  # type: ignore[no-untyped-def]
    meter = CostMeter(PriceBook(), "anthropic", "claude-opus-4-5")
    for tier, usd, exact in rows:
        meter.add(
            MessageCost(
                tier,
                "api",
                tier,
                "m",
                Usage(input_tokens=1),
                Cost(usd, exact, "test"),
                Cost(D("1"), True, "test"),
                NOON,
            )
        )
    totals = meter.totals()
    known = [usd for _, usd, _ in rows if usd is not None]
    assert totals.spent == sum(known, D(0))
    assert sum(totals.per_tier.values(), D(0)) == totals.spent
    for tier in totals.per_tier:
        assert totals.per_tier[tier] == sum(
            (usd for t, usd, _ in rows if t == tier and usd is not None), D(0)
        )
    assert totals.unknown == len(rows) - len(known)
    assert totals.saved == sum((D(1) - usd for usd in known), D(0))


def test_every_default_and_premium_model_has_a_bundled_price() -> None:
    """A newcomer's first reply on any provider is priced, never "price unknown"."""
    from datetime import UTC, datetime

    from rung.engine.config import SCHEMA
    from rung.tiers.base import Usage
    from rung.tiers.pricing import genai_price
    from rung.tiers.providers import PROVIDERS

    when = datetime(2026, 11, 24, 12, tzinfo=UTC)
    for provider in PROVIDERS.values():
        if provider.price_id is None:
            continue
        for model in (provider.default_model, provider.premium_model):
            assert model, f"{provider.name} needs a default and a premium model"
            price = genai_price(provider.price_id, model, Usage(1000, 1000), when)
            assert price is not None and price > 0, (provider.name, model)
    reference = SCHEMA["reference"]
    ref_provider = PROVIDERS[reference["provider"][1]]
    assert genai_price(ref_provider.price_id, reference["model"][1], Usage(1, 1), when)


def test_negative_savings_are_said_as_a_cost() -> None:
    from decimal import Decimal

    from rung.tiers.pricing import format_usd, savings_text

    assert format_usd(Decimal("-0.003")) == "-$0.003"
    assert format_usd(Decimal("-0.00001")) == "-<$0.0001"
    assert (
        savings_text(Decimal("-0.003"), "claude-opus-4-7")
        == "cost $0.003 more than claude-opus-4-7"
    )
    assert savings_text(Decimal("0.013"), "claude-opus-4-7") == "saved $0.013 vs claude-opus-4-7"
