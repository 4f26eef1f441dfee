"""What a reply is charged, beyond the matrix: server time without retry waits, exact
usage kept when it arrived before a break, and reasoning that is work, not idleness."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from tests.fakes import (
    Cut,
    Request,
    Send,
    Sleep,
    Step,
    anthropic_event,
    gemini_chunk,
    json_reply,
    openai_chunk,
)
from tests.faults.conftest import FAST, KINDS, ask, canary_key, watch


@pytest.mark.parametrize("kind_name", KINDS)
async def test_busy_time_leaves_out_retry_waits(servers, kind_name: str) -> None:
    kind = KINDS[kind_name]
    calls: list[Request] = []

    def handler(r: Request) -> list[Step]:
        calls.append(r)
        if len(calls) <= 2:
            return json_reply(503, {"error": "busy"}, {"Retry-After": "0.3"})
        return kind.dialect.stream(["fine"])

    server = servers(handler)
    tier = kind.tier(server.url, canary_key())
    try:
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    finished = outcome.reply.finished
    assert finished is not None and outcome.reply.text == "fine"
    assert finished.duration_s >= 0.6  # two waits of 0.3 s
    assert finished.busy_s is not None and finished.busy_s < finished.duration_s - 0.5
    assert not outcome.reply.usage.estimated


async def test_usage_reported_before_a_cut_is_kept_exact(servers) -> None:
    """OpenAI's usage chunk arrived; the connection broke before [DONE]: the provider's
    figure stands, nothing is estimated."""
    kind = KINDS["openai"]
    usage = {"prompt_tokens": 40, "completion_tokens": 2, "total_tokens": 42}
    steps = [*kind.dialect.head(), Send(kind.dialect.piece("ok", 0))]
    steps += [Send(openai_chunk({"choices": [], "usage": usage})), Cut()]
    server = servers(lambda r: steps)
    tier = kind.tier(server.url, canary_key())
    try:
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    assert outcome.reply.failed is not None and outcome.reply.text == "ok"
    u = outcome.reply.usage
    assert (u.input_tokens, u.output_tokens, u.estimated) == (40, 2, False)


def thinking_event(kind_name: str, i: int) -> bytes:
    """One piece of reasoning the reply does not show, as each provider streams it."""
    if kind_name == "anthropic":
        delta = {"type": "thinking_delta", "thinking": "Let me think. "}
        payload = {"type": "content_block_delta", "index": 0, "delta": delta}
        return anthropic_event("content_block_delta", payload)
    if kind_name == "gemini":
        usage = {"promptTokenCount": 12, "candidatesTokenCount": 0, "thoughtsTokenCount": i}
        return gemini_chunk(None, usage, thought="Let me think. ")
    delta = {"reasoning_content": "Let me think. "}  # DeepSeek; OpenRouter says "reasoning"
    return openai_chunk({"choices": [{"index": 0, "delta": delta, "finish_reason": None}]})


@pytest.mark.parametrize("kind_name", KINDS)
async def test_streamed_reasoning_is_not_idle(servers, kind_name: str) -> None:
    """Reasoning for longer than the idle limit, in small steps, then the answer."""
    kind = KINDS[kind_name]

    def handler(r: Request) -> Iterator[Step]:
        yield from kind.dialect.head()
        for i in range(6):  # 1.2 s of thinking, idle limit 0.5 s
            yield Send(thinking_event(kind_name, i))
            yield Sleep(0.2)
        yield Send(kind.dialect.piece("answer", 0))
        yield from kind.dialect.tail(1)

    server = servers(handler)
    tier = kind.tier(server.url, canary_key())
    try:
        outcome = await watch(tier)
    finally:
        await tier.aclose()
    assert outcome.reply.failed is None, outcome.reply.failed
    assert outcome.reply.text == "answer" and not outcome.reply.usage.estimated


@pytest.mark.parametrize("kind_name", KINDS)
async def test_endless_reasoning_is_stopped_at_the_output_limit(servers, kind_name) -> None:
    kind = KINDS[kind_name]

    def handler(r: Request) -> Iterator[Step]:
        yield from kind.dialect.head()
        for i in range(100_000):
            yield Send(thinking_event(kind_name, i))

    server = servers(handler)
    options = dataclasses.replace(FAST, idle_timeout=5.0, total_timeout=10.0)
    tier = kind.tier(server.url, canary_key(), options)
    try:
        outcome = await watch(tier, ask(max_tokens=32))
    finally:
        await tier.aclose()
    assert outcome.reply.finish_reason == "length" and outcome.elapsed < 3
    assert outcome.reply.usage.output_tokens <= 32
