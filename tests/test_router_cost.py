"""What each rung will really cost: a warm prompt cache can make staying cheaper than
moving to a nominally cheaper rung; a conversation that outgrew the local model's
context window is not routed there; a climb names what the rung passed over would
have cost. Exact Decimal figures from the same PriceBook that prices replies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from rung.engine.conversation import Plan, Routed
from rung.tiers.base import ChatRequest, Message, Usage
from rung.tiers.pricing import PriceBook, format_usd
from rung.tiers.route_cost import RouteContext, next_usage, warm_tokens
from rung.tiers.router import Rung, choose
from tests.competence_helpers import trust_local_model
from tests.scripted import Script, ScriptedTier, anthropic, local
from tests.test_conversation import HARD, make, send

WHEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BOOK = PriceBook()
LOCAL = Rung("local", "local", n_ctx=4096)
OPENAI = Rung("openai", "api", provider="openai", model="gpt-5.4-mini")
DEEPSEEK = Rung("deepseek", "api", provider="deepseek", model="deepseek-chat")
ANTHROPIC = Rung("anthropic", "api", provider="anthropic", model="claude-sonnet-4-5")
QUICK = "And what is the capital of Peru?"
# The last answer, on Anthropic: a 42,000-token prompt, 40,000 read from the cache and
# 2,000 written to it; 300 tokens out.
WARM = Usage(42_000, 300, cached_input_tokens=40_000, cache_write_tokens=2_000)


def conversation(question: str = QUICK, max_tokens: int = 2048) -> ChatRequest:
    messages = (
        Message("user", "Design a distributed rate limiter."),
        Message("assistant", "Use a token bucket per client, shared through Redis."),
        Message("user", question),
    )
    return ChatRequest(messages=messages, max_tokens=max_tokens)


def context(last: str, usage: Usage, idle_s: float = 30.0) -> RouteContext:
    return RouteContext(last, usage, idle_s, BOOK, WHEN)


def usd(provider: str, model: str, usage: Usage) -> Decimal:
    cost = BOOK.api_cost(provider, model, usage, WHEN).usd
    assert cost is not None
    return cost


def staying_on_anthropic(prompt: int, out: int) -> Decimal:
    """The 42,000 cached tokens read at 0.1x, the rest of the prompt written at 1.25x."""
    written = prompt - 42_000
    usage = Usage(prompt, out, cached_input_tokens=42_000, cache_write_tokens=written)
    return usd("anthropic", "claude-sonnet-4-5", usage)


def next_prompt(usage: Usage, question: str = QUICK) -> int:
    # The last prompt and answer as the provider counted them, plus the new question.
    return usage.input_tokens + usage.output_tokens + (len(question) + 3) // 4 + 4


def test_a_warm_anthropic_cache_keeps_the_conversation_there() -> None:
    prompt = next_prompt(WARM)
    stay = staying_on_anthropic(prompt, 300)
    # Moving: everything uncached on gpt-5.4-mini.
    move = usd("openai", "gpt-5.4-mini", Usage(prompt, 300))
    # The same figures by hand, $ per million tokens: Sonnet 4.5 reads its cache at $0.30
    # (0.1x of $3), writes at $3.75 (1.25x), outputs at $15; gpt-5.4-mini inputs at $0.75.
    million = Decimal(1_000_000)
    assert prompt == 42_312
    assert stay == (42_000 * Decimal("0.30") + 312 * Decimal("3.75") + 300 * 15) / million
    assert move == (42_312 * Decimal("0.75") + 300 * Decimal("4.5")) / million
    assert stay == Decimal("0.01827") < move == Decimal("0.033084")
    d = choose(conversation(), [LOCAL, OPENAI, ANTHROPIC], context=context("anthropic", WARM))
    assert d.tier == "anthropic" and d.rung == 2
    assert d.reason == (
        f"kept on anthropic: 42k tokens cached; moving to openai would cost {move / stay:.1f}x; "
        "local skipped (~42k tokens, over its 4,096-token context)"
    )
    assert f"{move / stay:.1f}x" == "1.8x"


def test_moving_wins_when_the_cheaper_rung_is_cheaper_even_uncached() -> None:
    prompt = next_prompt(WARM)
    stay = staying_on_anthropic(prompt, 300)
    move = usd("deepseek", "deepseek-chat", Usage(prompt, 300))
    assert move < stay
    d = choose(conversation(), [LOCAL, DEEPSEEK, ANTHROPIC], context=context("anthropic", WARM))
    assert d.tier == "deepseek"
    assert d.reason == (
        "deepseek: local skipped (~42k tokens, over its 4,096-token context); staying on "
        f"anthropic (42k tokens cached) would have cost {format_usd(stay, True)}"
    )


def test_an_expired_cache_is_cold() -> None:
    ladder = [LOCAL, OPENAI, ANTHROPIC]
    warm = choose(conversation(), ladder, context=context("anthropic", WARM, idle_s=299))
    cold = choose(conversation(), ladder, context=context("anthropic", WARM, idle_s=301))
    assert warm.tier == "anthropic" and cold.tier == "openai"
    assert cold.reason == "openai: local skipped (~42k tokens, over its 4,096-token context)"
    # A 1-hour cache write lives an hour.
    hour = Usage(42_000, 300, cached_input_tokens=40_000, cache_write_tokens=2_000,
                 cache_write_1h_tokens=2_000)  # fmt: skip
    assert warm_tokens("anthropic", "anthropic", context("anthropic", hour, 3000)) == 42_000
    assert warm_tokens("anthropic", "anthropic", context("anthropic", hour, 3601)) == 0


def test_deepseeks_automatic_cache_counts_too() -> None:
    usage = Usage(42_000, 300, cached_input_tokens=41_000)
    prompt = next_prompt(usage)
    ladder = [LOCAL, OPENAI, DEEPSEEK]
    d = choose(conversation(), ladder, context=context("deepseek", usage))
    # DeepSeek's cache keeps the whole last prompt; the answer and question are new.
    stay = usd("deepseek", "deepseek-chat", Usage(prompt, 300, cached_input_tokens=42_000))
    move = usd("openai", "gpt-5.4-mini", Usage(prompt, 300))
    assert stay < move and d.tier == "deepseek"
    assert d.reason.startswith(
        f"kept on deepseek: 42k tokens cached; moving to openai would cost {move / stay:.1f}x"
    )
    # The same usage from a provider that caches only when told: nothing is warm.
    assert warm_tokens("mistral", "mistral", context("mistral", Usage(42_000, 300))) == 0


def test_the_cache_never_keeps_a_question_on_a_rung_too_weak_for_it() -> None:
    # Warm on openai, but the question needs the top rung: cost does not decide.
    usage = Usage(42_000, 300, cached_input_tokens=41_000)
    hard = conversation("Prove that this lock-free queue is linearizable under the C++ model.")
    d = choose(hard, [LOCAL, OPENAI, ANTHROPIC], context=context("openai", usage))
    assert d.tier == "anthropic" and "kept on" not in d.reason


def test_next_usage_prices_anthropic_writes_and_nothing_else() -> None:
    assert next_usage("anthropic", 5000, 100, 3000) == Usage(
        5000, 100, cached_input_tokens=3000, cache_write_tokens=2000, estimated=True
    )
    assert next_usage("anthropic", 500, 100, 0) == Usage(500, 100, estimated=True)  # too short
    assert next_usage("openai", 5000, 100, 3000) == Usage(
        5000, 100, cached_input_tokens=3000, estimated=True
    )


def test_a_model_that_caches_nothing_below_its_floor_is_priced_uncached() -> None:
    """Anthropic's floors differ by model (Opus 4.5/4.6 and Haiku 4.5: 4,096 tokens; Opus
    4.7: 2,048): a 3,000-token step there writes and reads nothing, so it costs the plain
    input price, not 1.25x; DeepSeek caches 64-token units, so a short prompt stays warm."""
    plain = Usage(3000, 100, estimated=True)
    assert next_usage("anthropic", 3000, 100, 0, "claude-opus-4-6") == plain
    assert next_usage("anthropic", 3000, 100, 0, "claude-haiku-4-5") == plain
    written = Usage(3000, 100, cache_write_tokens=3000, estimated=True)
    assert next_usage("anthropic", 3000, 100, 0, "claude-opus-4-7") == written
    assert next_usage("anthropic", 1500, 100, 0, "claude-opus-4-7") == Usage(
        1500, 100, estimated=True
    )
    assert next_usage("anthropic", 3000, 100, 0, "claude-sonnet-4-5") == written
    short = Usage(800, 50)  # under OpenAI's 1,024 floor, over DeepSeek's 64
    assert warm_tokens("deepseek", "deepseek", context("deepseek", short), "deepseek-chat") == 800
    assert warm_tokens("openai", "openai", context("openai", short), "gpt-5.4-mini") == 0


# -- the context window -----------------------------------------------------------------
def test_a_conversation_too_long_for_the_local_model_is_not_routed_there() -> None:
    paragraph = "The deploy failed again because the migration locked the table. " * 40
    history = []
    for _ in range(6):
        history += [Message("user", paragraph), Message("assistant", paragraph)]
    long = ChatRequest(messages=(*history, Message("user", "thanks!")))
    ladder = [LOCAL, Rung("api", "api")]
    d = choose(long, ladder)
    assert d.tier == "api"
    assert d.reason.startswith("api: local skipped (~")
    assert d.reason.endswith("tokens, over its 4,096-token context)")
    short = ChatRequest(messages=(Message("user", "thanks!"),))
    assert choose(short, ladder).tier == "local"
    # Without n_ctx (a bare kind), the router does not guess a window.
    assert choose(long, [Rung("local", "local"), Rung("api", "api")]).tier == "local"
    # With nothing else usable the local model still answers (it trims old turns).
    assert choose(long, [LOCAL, Rung("api", "api", False, "no API key")]).tier == "local"
    assert choose(long, [LOCAL]).tier == "local"


# -- the rung not taken -----------------------------------------------------------------
def test_a_climb_names_what_the_rung_passed_over_would_have_cost() -> None:
    request = ChatRequest(messages=(Message("user", "Design a distributed rate limiter."),))
    ctx = RouteContext(prices=BOOK, when=WHEN)
    chose = "chose anthropic: subject: distributed, 'design'"
    up = choose(request, [LOCAL, ANTHROPIC], context=ctx)
    assert up.reason == f"{chose}; local would have been free"
    three = choose(request, [LOCAL, DEEPSEEK, ANTHROPIC], context=ctx)
    prompt = (len(request.messages[0].content) + 3) // 4 + 4
    deepseek = usd("deepseek", "deepseek-chat", Usage(prompt, 400))
    assert three.tier == "anthropic"
    assert three.reason.endswith(f"; deepseek would have cost {format_usd(deepseek, True)}")
    # Staying down costs nothing to mention; nor does a rung whose price is unknown.
    hello = ChatRequest(messages=(Message("user", "hi"),))
    assert "would have" not in choose(hello, [LOCAL, ANTHROPIC], context=ctx).reason
    unknown = [LOCAL, Rung("selfhosted", "selfhosted"), ANTHROPIC]
    assert "would have" not in choose(request, unknown, context=ctx).reason
    # No context, no prices: the reasons are the trained model's alone, as before.
    assert choose(request, [LOCAL, ANTHROPIC]).reason == chose


# -- through the engine -----------------------------------------------------------------
async def test_the_engine_passes_the_last_rung_and_its_usage_to_the_router() -> None:
    trust_local_model()  # see tests/competence_helpers.py
    openai = ScriptedTier("openai", "api", "openai", "gpt-5.4-mini")
    premium = anthropic(Script(pieces=["Use a token bucket."], usage=WARM), Script())
    conversation_, events = make(local(), openai, premium)
    first = await send(conversation_, HARD)
    assert first.final.tier == "anthropic" and conversation_.last_usage == WARM
    plan = conversation_.prepare(QUICK)
    assert isinstance(plan, Plan) and plan.tier == "anthropic"
    prompt = next_prompt(WARM)
    out = 64  # make() asks for at most 64 tokens; the last answer had 300
    stay = staying_on_anthropic(prompt, out)
    move = usd("openai", "gpt-5.4-mini", Usage(prompt, out))
    assert plan.reason == (
        f"kept on anthropic: 42k tokens cached; moving to openai would cost {move / stay:.1f}x; "
        "local skipped (~42k tokens, over its 4,096-token context)"
    )
    await conversation_.run(plan)
    routed = [e for e in events if isinstance(e, Routed)]
    assert routed[-1].reason == plan.reason and not openai.requests
    # Ten minutes later the cache has expired: the cheaper rung answers.
    assert conversation_.last_answered_at is not None
    conversation_.last_usage = WARM
    conversation_.last_answered_at -= 600
    later = conversation_.prepare("And of Chile?")
    assert isinstance(later, Plan) and later.tier == "openai"
    conversation_.busy = False
    conversation_.session.close()


async def test_an_edited_question_is_routed_without_the_old_cache() -> None:
    trust_local_model()  # see tests/competence_helpers.py
    premium = anthropic(Script(pieces=["Use a token bucket."], usage=WARM), Script())
    conversation_, _ = make(local(), ScriptedTier("openai", "api", "openai", "gpt-5.4-mini"),
                            premium)  # fmt: skip
    await send(conversation_, HARD)
    edited = conversation_.prepare(QUICK, replace_last=True)
    assert isinstance(edited, Plan) and edited.tier == "local"
    conversation_.busy = False
    conversation_.session.close()
