"""What answering the next message on a rung will really cost, for the router.

The ladder's order says which rung is cheaper *in general*. One thing it cannot know
is the prompt cache: a conversation whose long prefix is warm at one provider is
billed there at its cached rate (Anthropic 0.1x reads; OpenAI, DeepSeek and Gemini
their own cached prices), while moving it to a nominally cheaper rung sends the whole
prefix again, uncached. So the router prices two usages with the same ``PriceBook``
that prices replies (genai-prices, or the user's own prices):

- **stay**: the rung that answered last, with the prefix its cache holds now;
- **move**: another rung, everything uncached (and, on Anthropic, written to the
  cache at 1.25x, since Rung marks cache breakpoints there).

Token counts: the next prompt is the last reply's input and output (as the provider
counted them) plus the new message, or, with no last reply, the request's characters
/ 4; whichever is larger. The answer's length is guessed as the last answer's (the
best guess there is), else ``DEFAULT_OUTPUT_TOKENS``, within ``max_tokens``.

Pure: no I/O, no clock unless ``RouteContext.when`` is missing (then "now", for
time-of-day prices). The price tables are genai-prices' bundled snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from .base import ChatRequest, Usage, estimate_tokens, prompt_chars
from .pricing import MILLION, PriceBook
from .providers import PROVIDERS

DEFAULT_OUTPUT_TOKENS = 400
# Room the local model needs for its answer: a conversation that leaves less than this
# of its context window is not routed there (as tiers/local.py's MIN_OUTPUT_ROOM).
OUTPUT_ROOM = 256
# Below this a prompt is not cached at all (OpenAI and most Anthropic models: 1,024
# tokens); some models' floor is higher or lower (``cache_minimum``).
MIN_CACHED_PREFIX = 1024
# Declared, not probed: the floors that differ from MIN_CACHED_PREFIX, by a piece of the
# model's name (Anthropic's prompt-caching page: Opus 4.5/4.6 and Haiku 4.5 cache nothing
# under 4,096 tokens, Opus 4.7 and the Haiku 3 family under 2,048) or by provider
# (DeepSeek's disk cache stores 64-token units). First match wins.
MODEL_CACHE_MINIMUMS = (
    ("opus-4-5", 4096),
    ("opus-4-6", 4096),
    ("haiku-4-5", 4096),
    ("opus-4-7", 2048),
    ("3-5-haiku", 2048),
    ("3-haiku", 2048),
)
PROVIDER_CACHE_MINIMUMS = {"deepseek": 64}
# How long a provider keeps an idle prefix, conservatively: Anthropic's default cache
# lives 5 minutes (1 hour when written so), OpenAI and Gemini keep theirs 5-10 minutes
# of inactivity, DeepSeek's disk cache lasts hours.
CACHE_TTL_S = {"anthropic": 300.0, "openai": 300.0, "gemini": 300.0, "deepseek": 3600.0}
DEFAULT_TTL_S = 300.0
ONE_HOUR_S = 3600.0
# Providers that cache every long prompt's prefix by themselves; others count as
# caching only once a reply showed cached tokens.
AUTOMATIC_CACHE = frozenset({"openai", "deepseek", "gemini"})


@dataclass(frozen=True)
class RouteContext:
    """What the engine knows about the conversation so far (the router does no I/O)."""

    last_tier: str | None = None  # the rung that answered the previous message
    last_usage: Usage | None = None  # that answer's usage: cached and written tokens
    idle_s: float | None = None  # seconds since it ended (None: just now)
    prices: PriceBook | None = None  # None: decide on difficulty alone
    when: datetime | None = None  # the moment to price (time-of-day prices)
    # Continuity: a warm conversation on a paid rung moves to the local model only to
    # save more than this per message (None: no such rule), and more still the longer
    # the local model would make the user wait (``continuity_bar``).
    min_saving_usd: Decimal | None = None
    # The local rung's speed as it measured it on its last reply (tokens/s), and its
    # prompt reading speed when known: the wait is computed from these, never guessed.
    local_tokens_per_s: float | None = None
    local_prefill_tokens_per_s: float | None = None


def prompt_tokens(request: ChatRequest, context: RouteContext | None = None) -> int:
    """The next prompt's size in tokens (see the module doc)."""
    counted = (prompt_chars(request) + 3) // 4 + 4 * len(request.messages)
    usage = context.last_usage if context is not None else None
    if usage is not None and len(request.messages) > 1:
        new = estimate_tokens(request.messages[-1].content) + 4
        counted = max(counted, usage.input_tokens + usage.output_tokens + new)
    return counted


def output_tokens(request: ChatRequest, context: RouteContext | None = None) -> int:
    usage = context.last_usage if context is not None else None
    guess = usage.output_tokens if usage is not None and usage.output_tokens else None
    return min(request.max_tokens, guess or DEFAULT_OUTPUT_TOKENS)


def writes_cache(provider: str) -> bool:
    """Whether a request there writes its prefix to the cache (billed): Rung marks cache
    breakpoints on every Anthropic-protocol request."""
    preset = PROVIDERS.get(provider)
    return preset is not None and preset.protocol == "anthropic"


def cache_minimum(provider: str, model: str = "") -> int:
    """The shortest prompt prefix this model caches at all (tokens)."""
    name = model.lower().replace(".", "-")
    for piece, minimum in MODEL_CACHE_MINIMUMS:
        if piece in name:
            return minimum
    return PROVIDER_CACHE_MINIMUMS.get(provider, MIN_CACHED_PREFIX)


def warm_tokens(name: str, provider: str, context: RouteContext | None, model: str = "") -> int:
    """How much of the next prompt the rung ``name`` holds in its cache now."""
    if context is None or context.last_tier != name or context.last_usage is None:
        return 0
    usage = context.last_usage
    ttl = ONE_HOUR_S if usage.cache_write_1h_tokens else CACHE_TTL_S.get(provider, DEFAULT_TTL_S)
    if context.idle_s is not None and context.idle_s > ttl:
        return 0
    if writes_cache(provider) or usage.cache_write_tokens:
        # Explicit caching: what the last request read plus what it wrote is the prefix
        # (up to its question) that the next request reads.
        return usage.cached_input_tokens + usage.cache_write_tokens
    if provider in AUTOMATIC_CACHE or usage.cached_input_tokens:
        # Automatic caching keeps the last prompt's prefix.
        floor = cache_minimum(provider, model)
        return usage.input_tokens if usage.input_tokens >= floor else 0
    return 0


def next_usage(provider: str, prompt: int, output: int, warm: int, model: str = "") -> Usage:
    """The usage of the next answer there, with ``warm`` tokens of its prompt cached
    (a prompt shorter than the model's ``cache_minimum`` writes nothing)."""
    cached = min(warm, prompt)
    written = 0
    if writes_cache(provider) and prompt >= cache_minimum(provider, model):
        written = prompt - cached  # the rest of the prompt becomes the next prefix
    return Usage(prompt, output, cached_input_tokens=cached, cache_write_tokens=written,
                 estimated=True)  # fmt: skip


def expected_cost(
    kind: str,
    provider: str,
    model: str,
    usage: Usage,
    prices: PriceBook,
    when: datetime | None = None,
) -> Decimal | None:
    """What ``usage`` costs on that rung, or None when it cannot be known beforehand
    (a local model priced by its energy, a self-hosted one by its GPU time)."""
    if kind == "local":
        return None if prices.energy_watts and prices.energy_usd_per_kwh else Decimal(0)
    if kind == "selfhosted":
        if prices.selfhosted_usd_per_mtok is None:
            return None
        return (usage.input_tokens + usage.output_tokens) * prices.selfhosted_usd_per_mtok / MILLION
    if not model:
        return None
    return prices.api_cost(provider, model, usage, when or datetime.now(UTC)).usd


# Every this many seconds of expected local wait, the saving needed to move a warm
# conversation to the local model grows by another ``min_saving_usd``.
WAIT_STEP_S = 10.0


def local_wait_s(prompt: int, output: int, context: RouteContext | None) -> float | None:
    """Seconds the local model would take for this answer, from its measured speeds
    (None when it has not answered yet: then the wait is not weighed)."""
    if context is None or not context.local_tokens_per_s:
        return None
    wait = output / context.local_tokens_per_s
    if context.local_prefill_tokens_per_s:
        wait += prompt / context.local_prefill_tokens_per_s
    return wait


def continuity_bar(min_saving: Decimal, wait_s: float | None) -> Decimal:
    """The saving that justifies leaving a warm paid rung for the local model: the
    setting, plus as much again for every WAIT_STEP_S seconds of expected wait."""
    if not wait_s:
        return min_saving
    return min_saving * (1 + Decimal(str(round(wait_s / WAIT_STEP_S, 3))))


def tokens_text(n: int) -> str:
    """42000 -> "42k", 1500 -> "1.5k", 800 -> "800"."""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}".removesuffix(".0") + "k"
    return f"{round(n / 1000)}k"
