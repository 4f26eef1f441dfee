"""The prompt-caching simulator itself (tests/agent/cache_server.py): it must read from
cache only what the provider would, or the cache-share test proves nothing."""

from __future__ import annotations

import json

import httpx

from tests.agent.cache_server import (
    AnthropicCache,
    CachingModel,
    DeepSeekCache,
    OpenAICache,
    anthropic_minimum,
    tokens,
)
from tests.agent.scripted_model import Turn
from tests.fakes import ScriptedServer

WORDS = " ".join(f"w{i}" for i in range(3000))  # 3,000 tokens
MARK = {"type": "ephemeral"}


def openai_body(*contents: str, model: str = "gpt-5.4-mini") -> dict:
    messages = [{"role": "user" if i % 2 == 0 else "assistant", "content": c}
                for i, c in enumerate(contents)]  # fmt: skip
    return {"model": model, "messages": messages}


def test_openai_reads_the_common_prefix_in_128_token_steps_from_1024() -> None:
    cache = OpenAICache()
    first = cache.count(openai_body(WORDS))
    message = {"role": "user", "content": WORDS}
    assert first.read == 0 and first.total == len(tokens(json.dumps(message)))
    second = cache.count(openai_body(WORDS, "ok", "next"))
    assert second.read == first.total // 128 * 128 and second.read >= 2900  # the first, whole
    assert second.total > first.total


def test_openai_a_byte_changed_early_reads_nothing() -> None:
    cache = OpenAICache()
    cache.count(openai_body(WORDS))
    changed = cache.count(openai_body("w0 " + WORDS.replace("w1 ", "w1x ", 1)))
    assert changed.read == 0


def test_openai_below_1024_common_tokens_reads_nothing_and_any_earlier_request_counts() -> None:
    cache = OpenAICache()
    short = " ".join(WORDS.split()[:400])
    cache.count(openai_body(short))
    assert cache.count(openai_body(short, "a", "b")).read == 0  # ~400 tokens in common
    cache.count(openai_body(WORDS))
    cache.count(openai_body("something else entirely"))
    assert cache.count(openai_body(WORDS, "again")).read >= 2900  # not the last request
    assert cache.count(openai_body(WORDS, model="gpt-5.5")).read == 0  # per model


def anthropic_body(*texts: str, marks: tuple[int, ...], model: str = "claude-sonnet-4-6") -> dict:
    """One user message per text, alternating roles; a breakpoint on the given ones."""
    messages = []
    for i, text in enumerate(texts):
        block: dict = {"type": "text", "text": text}
        if i in marks:
            block["cache_control"] = MARK
        messages.append({"role": "user" if i % 2 == 0 else "assistant", "content": [block]})
    return {"model": model, "messages": messages}


def test_anthropic_reads_only_where_an_earlier_request_wrote() -> None:
    cache = AnthropicCache()
    first = cache.count(anthropic_body(WORDS, "reply", "more", marks=(2,)))
    assert first.read == 0 and first.written == first.total  # all up to the breakpoint
    second = cache.count(anthropic_body(WORDS, "reply", "more", "r2", "q3", marks=(2, 4)))
    assert second.read == first.total  # what the first one wrote
    assert second.written == second.total - first.total and second.fresh == 0


def test_anthropic_a_breakpoint_never_written_reads_nothing() -> None:
    cache = AnthropicCache()
    unmarked = cache.count(anthropic_body(WORDS, "reply", "more", marks=()))
    assert unmarked.read == unmarked.written == 0 and unmarked.fresh == unmarked.total
    # The same prefix again, now marked: nothing was written before, so it is written now.
    marked = cache.count(anthropic_body(WORDS, "reply", "more", marks=(2,)))
    assert marked.read == 0 and marked.written == marked.total


def test_anthropic_a_byte_changed_early_reads_nothing() -> None:
    cache = AnthropicCache()
    cache.count(anthropic_body(WORDS, "reply", "more", marks=(2,)))
    changed = cache.count(anthropic_body(WORDS + "!", "reply", "more", "r", "q", marks=(2, 4)))
    assert changed.read == 0


def test_anthropic_lookback_is_20_blocks_from_a_breakpoint() -> None:
    cache = AnthropicCache()
    texts = [WORDS, *(f"turn {i}" for i in range(40))]
    cache.count(anthropic_body(*texts[:2], marks=(1,)))  # writes after block 2
    near = cache.count(anthropic_body(*texts[:21], marks=(20,)))  # its 20th block back
    assert near.read > 3000
    cache2 = AnthropicCache()
    cache2.count(anthropic_body(*texts[:2], marks=(1,)))
    far = cache2.count(anthropic_body(*texts[:22], marks=(21,)))  # 21 blocks back
    assert far.read == 0


def test_anthropic_minimum_is_per_model_and_short_prefixes_are_not_written() -> None:
    assert anthropic_minimum("claude-sonnet-4-6") == 1024
    assert anthropic_minimum("claude-opus-4-5-20251101") == 4096
    assert anthropic_minimum("claude-opus-4-7") == 2048
    cache = AnthropicCache()
    short = " ".join(WORDS.split()[:500])
    first = cache.count(anthropic_body(short, "a", marks=(1,)))
    assert first.written == 0
    again = cache.count(anthropic_body(short, "a", "b", marks=(1, 2)))
    assert again.read == 0
    opus = AnthropicCache()
    opus.count(anthropic_body(WORDS, "a", marks=(1,), model="claude-opus-4-6"))  # < 4,096
    assert (
        opus.count(anthropic_body(WORDS, "a", "b", marks=(1,), model="claude-opus-4-6")).read == 0
    )


def test_anthropic_more_than_4_breakpoints_is_refused_over_http() -> None:
    model = CachingModel([Turn(text="hi")], dialect="anthropic")
    server = ScriptedServer(model)
    try:
        body = anthropic_body(*(["x"] * 6), marks=(0, 1, 2, 3, 4))
        reply = httpx.post(server.url + "/v1/messages", json=body, timeout=10)
        assert reply.status_code == 400
        assert "maximum of 4 blocks" in reply.json()["error"]["message"]
        ok = httpx.post(server.url + "/v1/messages", json={**body, "tools": [{"name": "t"}]},
                        timeout=10)  # fmt: skip
        assert ok.status_code == 400  # still 5 marks
    finally:
        server.close()


def test_deepseek_reads_a_whole_earlier_input_or_a_common_prefix_persisted() -> None:
    cache = DeepSeekCache()
    first = cache.count(openai_body(WORDS, model="deepseek-v4-pro"))
    assert first.read == 0
    # A + B then A + B + C: the unit at the end of the first input, whole (no rounding).
    grown = cache.count(openai_body(WORDS, "reply", "more", model="deepseek-v4-pro"))
    assert grown.read == first.total
    # The guide's second example: A + B, then A + C reads nothing (no unit matches in
    # full), but their common prefix A is persisted then, so A + D reads A.
    fresh = DeepSeekCache()
    fresh.count(openai_body(WORDS, "b", model="deepseek-v4-pro"))
    other = fresh.count(openai_body(WORDS, "c", model="deepseek-v4-pro"))
    third = fresh.count(openai_body(WORDS, "d", model="deepseek-v4-pro"))
    assert other.read == 0
    assert first.total < third.read < third.total


def test_deepseek_usage_is_reported_in_its_own_fields() -> None:
    model = CachingModel([Turn(text="hi")], dialect="openai", model="deepseek-v4-pro",
                         flavor="deepseek")  # fmt: skip
    server = ScriptedServer(model)
    try:
        body = {**openai_body(WORDS), "stream": True}
        for _ in range(2):
            reply = httpx.post(server.url + "/v1/chat/completions", json=body, timeout=10)
        usage = next(json.loads(line[6:]) for line in reply.text.splitlines()
                     if line.startswith("data: {") and '"usage"' in line)["usage"]  # fmt: skip
        assert usage["prompt_cache_hit_tokens"] == usage["prompt_tokens"] > 3000
        assert usage["prompt_cache_miss_tokens"] == 0 and "prompt_tokens_details" not in usage
    finally:
        server.close()
