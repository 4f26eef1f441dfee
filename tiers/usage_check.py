"""Usage a server reports, checked in one place before it is priced, shown or stored.

A server is not trusted with the bill: a count of 1e30 overflowed the history's
INTEGER column and priced nothing (so the daily budget never saw it), a negative count
lowered the day's spend. Counts are read as whole numbers or marked invalid
(``token_count``); ``check_usage`` then bounds them by what the request could have
used: output by ``max_tokens``, input by the prompt's size. An impossible figure is
reported to the user and replaced by the request's limit, never more.
"""

from __future__ import annotations

import math
from dataclasses import replace

from .base import ChatRequest, Usage, estimate_usage, prompt_chars

# A count that is not a whole number (a string, a fraction, true, NaN, infinity). It is
# negative, so every check below treats it as impossible.
INVALID = -1
# No prompt Rung sends is this long (the largest context windows are ~2M tokens).
MAX_INPUT_TOKENS = 10_000_000
# A tokenizer never makes more tokens than the prompt has UTF-8 bytes (4 per character
# at most), plus each message's framing. The slack is generous on purpose: a provider
# may add input of its own and bill it (web search results put into the prompt, a
# gateway's system prompt); only a figure no request could reach is called impossible.
TOKENS_PER_CHAR = 4
TOKENS_PER_MESSAGE = 64
INPUT_SLACK_TOKENS = 200_000
# Output past max_tokens is never billed; past this it is not even plausible rounding.
OUTPUT_SLACK = 2
OUTPUT_SLACK_TOKENS = 16


def token_count(value: object) -> int:
    """A token count from a provider's JSON: missing is 0, a whole number is itself
    (however large or negative: ``check_usage`` judges it), anything else INVALID."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return INVALID
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return INVALID


def count_sum(*counts: int) -> int:
    """Counts added up; INVALID (or any negative) if any part is."""
    return INVALID if any(c < 0 for c in counts) else sum(counts)


def input_ceiling(request: ChatRequest) -> int:
    """The most input tokens this request can possibly be."""
    chars = prompt_chars(request)
    messages = len(request.messages) + (1 if request.system else 0)
    bound = TOKENS_PER_CHAR * chars + TOKENS_PER_MESSAGE * messages + INPUT_SLACK_TOKENS
    return min(MAX_INPUT_TOKENS, bound)


def output_ceiling(request: ChatRequest) -> int:
    """Past this, an output count is impossible, not a rounding difference."""
    return OUTPUT_SLACK * request.max_tokens + OUTPUT_SLACK_TOKENS


def _n(value: int) -> str:
    if value < 0:
        return "a negative or non-numeric count"
    return f"{value:,}" if value < 10**12 else f"{float(value):.3g}"


def check_usage(usage: Usage, request: ChatRequest) -> tuple[Usage, list[str]]:
    """(the usage to charge, what was impossible about it). The charge never exceeds the
    request's limits: output at most ``max_tokens``, an impossible input replaced by
    Rung's estimate of the prompt, cache parts never more than the input they are in."""
    problems: list[str] = []
    fallback_input = estimate_usage(request, 0, 0).input_tokens
    reported_in = usage.input_tokens
    inp = reported_in
    if inp < 0 or inp > input_ceiling(request):
        problems.append(f"input {_n(inp)} tokens for a prompt of about {fallback_input:,}")
        inp = fallback_input
    out = usage.output_tokens
    if out < 0 or out > output_ceiling(request):
        problems.append(f"output {_n(out)} tokens for a {request.max_tokens}-token limit")
        out = request.max_tokens
    out = min(out, request.max_tokens)  # a provider does not bill past max_tokens
    cached = usage.cached_input_tokens
    if cached < 0 or (reported_in >= 0 and cached > reported_in):
        problems.append(f"cached input {_n(cached)} tokens, more than the input")
    cached = min(max(cached, 0), inp)
    write = usage.cache_write_tokens
    if write < 0 or (reported_in >= 0 and write + max(cached, 0) > reported_in):
        problems.append(f"cache writes of {_n(write)} tokens, more than the input")
    write = min(max(write, 0), inp - cached)
    write_1h = min(max(usage.cache_write_1h_tokens, 0), write)
    reasoning = usage.reasoning_tokens
    if reasoning < 0:
        problems.append("a negative or non-numeric reasoning count")
    reasoning = min(max(reasoning, 0), out)
    checked = replace(
        usage,
        input_tokens=inp,
        output_tokens=out,
        cached_input_tokens=cached,
        cache_write_tokens=write,
        cache_write_1h_tokens=write_1h,
        reasoning_tokens=reasoning,
        estimated=usage.estimated or bool(problems),
    )
    return checked, problems
