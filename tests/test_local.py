"""The local rung against the real embedded SmolLM2 model."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from rung.tiers.base import ChatRequest, Failed, Finished, Message, TextDelta, Usage
from rung.tiers.local import LocalModelError, LocalTier, embedded_model_path
from rung.tiers.turn import Turn, collect


def ask(text: str, max_tokens: int = 24, **kw: object) -> ChatRequest:
    return ChatRequest(
        messages=(Message("user", text),), max_tokens=max_tokens, temperature=0, **kw
    )  # type: ignore[arg-type]


def test_embedded_model_is_found_without_importing_llm() -> None:
    import sys

    path = embedded_model_path()
    assert path is not None and path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.stat().st_size > 50_000_000
    assert "llm" not in sys.modules


async def test_reply_streams_in_pieces_then_usage_then_finished(local_tier: LocalTier) -> None:
    events = [e async for e in local_tier.stream(ask("Name three colors.", 30))]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert len(deltas) > 5, "a reply must arrive token by token, not in one piece"
    assert isinstance(events[-2], Usage) and isinstance(events[-1], Finished)
    finished = events[-1]
    assert finished.model == "SmolLM2-135M-Instruct"
    assert finished.time_to_first_token_s is not None and finished.time_to_first_token_s > 0
    # Speed itself is measured in bench/, not asserted here: only that it is reported.
    assert finished.output_tokens_per_s is not None and finished.output_tokens_per_s > 0


@pytest.mark.parametrize("question", ["hello", "What is the capital of France?"])
async def test_token_counts_are_exact(local_tier: LocalTier, question: str) -> None:
    """Our streamed counts equal llama.cpp's own (non-streaming) usage for the same reply."""
    reply = await collect(local_tier, ask(question, 40))
    reference = local_tier._llm.create_chat_completion(
        messages=[{"role": "user", "content": question}], max_tokens=40, temperature=0
    )
    assert reply.text == reference["choices"][0]["message"]["content"]
    assert reply.usage.input_tokens == reference["usage"]["prompt_tokens"]
    assert reply.usage.output_tokens == reference["usage"]["completion_tokens"]
    assert reply.usage.estimated is False
    assert reply.finish_reason == reference["choices"][0]["finish_reason"]


async def test_cancel_stops_within_a_token_and_keeps_the_text(local_tier: LocalTier) -> None:
    seen: list[str] = []
    turn: Turn

    def on_event(event: object) -> None:
        if isinstance(event, TextDelta):
            seen.append(event.text)
            if len(seen) == 5:
                turn.cancel()

    turn = Turn(local_tier, ask("Write a long story about a dragon.", 400), [on_event])
    reply = await turn.run()
    assert reply.finish_reason == "cancelled"
    # Generation stopped within a token: at most one more piece was already on its way.
    assert reply.text == "".join(seen) and len(seen) in (5, 6)
    # The count is the model's own, not an estimate, and covers what was shown.
    assert reply.usage.estimated is False
    assert len(seen) <= reply.usage.output_tokens <= len(seen) + 1
    # The worker is free again at once: a new request answers.
    again = await asyncio.wait_for(collect(local_tier, ask("hi", 5)), timeout=20)
    assert again.text


async def test_second_turn_reuses_the_cached_prefix(local_tier: LocalTier) -> None:
    first = await collect(local_tier, ask("Name a fruit.", 12))
    history = (
        Message("user", "Name a fruit."),
        Message("assistant", first.text),
        Message("user", "And a vegetable?"),
    )
    second = await collect(local_tier, ChatRequest(messages=history, max_tokens=12, temperature=0))
    assert second.usage.input_tokens > first.usage.input_tokens
    # Everything up to the new question was already in the KV cache.
    assert second.usage.cached_input_tokens >= first.usage.input_tokens - 2


async def test_long_history_drops_oldest_turns_and_says_so() -> None:
    tier = LocalTier(n_ctx=512)
    try:
        await tier.load()
        filler = "This is an old message about nothing in particular. " * 20
        history: list[Message] = []
        for i in range(6):
            history += [Message("user", f"{i} {filler}"), Message("assistant", "ok")]
        history.append(Message("user", "Say hi."))
        reply = await collect(tier, ChatRequest(messages=tuple(history), max_tokens=8))
        assert reply.failed is None
        assert any("Dropped the" in n and "512-token context" in n for n in reply.notices)
        assert reply.usage.input_tokens + 8 <= 512
    finally:
        tier.close()


async def test_message_bigger_than_context_fails_clearly() -> None:
    tier = LocalTier(n_ctx=256)
    try:
        await tier.load()
        reply = await collect(tier, ask("word " * 600, 8))
        assert reply.failed is not None and reply.failed.kind == "context"
        assert "context window holds 256" in reply.failed.message
    finally:
        tier.close()


async def test_missing_model_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    tier = LocalTier(missing)
    with pytest.raises(LocalModelError, match=r"nope\.gguf"):
        await tier.load()
    events = [e async for e in tier.stream(ask("hi"))]
    assert isinstance(events[-1], Failed) and str(missing) in events[-1].message
    tier.close()


async def test_corrupt_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\x00" * 4000)
    tier = LocalTier(bad)
    with pytest.raises(LocalModelError, match=r"broken\.gguf.*not a valid GGUF"):
        await tier.load()
    tier.close()
