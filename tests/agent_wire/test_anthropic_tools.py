"""Anthropic tool calling over a real local server, byte for byte: tool_use blocks with
input_json_delta pieces, thinking blocks that go back with their signature unchanged."""

from __future__ import annotations

import json

from rung.tiers.base import Message, PrivateDelta, ToolCallReady
from tests.fakes import anthropic_tool_stream

from .helpers import TOOLS, anthropic_tier, anthropic_transcript, ask, recording, run

SIGNATURE = "EqQBCkYIBxgCKkBsigFake/+==" * 3
MODEL = "claude-sonnet-4-5"


async def test_one_call_with_input_split_mid_json(servers) -> None:
    arguments = json.dumps({"path": 'app/naïve "q".py', "lines": [3, 4]})
    seen: list = []
    script = lambda r: anthropic_tool_stream(  # noqa: E731
        [("toolu_01XYZ", "read", arguments)], text="Let me read.", split=2,
        input_tokens=300, output_tokens=45)  # fmt: skip
    server = servers(recording(script, seen))
    reply = await run(anthropic_tier(server.url), ask(system="You are careful."))
    assert reply.failed is None, reply.failed
    assert reply.text == "Let me read."
    [call] = reply.tool_calls
    assert (call.id, call.name, call.arguments) == ("toolu_01XYZ", "read", arguments)
    assert reply.finish_reason == "tool_calls"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (300, 45)
    assert not reply.usage.estimated
    body = seen[0].json()
    read = TOOLS[0]
    assert body["tools"] == [
        {"name": "read", "description": read.description, "input_schema": read.parameters},
        {"name": "grep", "description": TOOLS[1].description, "input_schema": TOOLS[1].parameters},
    ]
    # The system prompt's breakpoint covers the tools before it: none on the tools.
    assert "cache_control" in body["system"][0]
    assert all("cache_control" not in t for t in body["tools"])


async def test_without_a_system_prompt_the_tools_carry_the_breakpoint(servers) -> None:
    seen: list = []
    server = servers(recording(lambda r: anthropic_tool_stream([], text="ok"), seen))
    await run(anthropic_tier(server.url), ask())
    tools = seen[0].json()["tools"]
    assert tools[-1]["cache_control"] == {"type": "ephemeral"}


async def test_two_parallel_calls_each_ready_at_its_block_stop(servers) -> None:
    calls = [("toolu_A", "read", '{"path": "a.py"}'), ("toolu_B", "grep", '{"pattern": "x"}')]
    server = servers(lambda r: anthropic_tool_stream(calls, split=3))
    tier = anthropic_tier(server.url)
    events = [e async for e in tier.stream(ask())]
    await tier.aclose()
    ready = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert [(c.id, c.name, c.arguments) for c in ready] == calls


async def test_malformed_input_arrives_raw(servers) -> None:
    broken = '{"path": "a.py", "x": tru'
    server = servers(lambda r: anthropic_tool_stream([("toolu_M", "read", broken)]))
    reply = await run(anthropic_tier(server.url), ask())
    assert reply.failed is None and [c.arguments for c in reply.tool_calls] == [broken]


async def test_a_stream_cut_mid_call_fails_with_no_call_and_the_text_kept(servers) -> None:
    server = servers(lambda r: anthropic_tool_stream(
        [("toolu_C", "read", '{"path": "app/long_file_name.py"}')], text="Reading.",
        cut_in_call=0))  # fmt: skip
    reply = await run(anthropic_tier(server.url), ask())
    assert reply.failed is not None and reply.failed.kind == "network"
    assert reply.text == "Reading."
    assert reply.tool_calls == []
    # Input was reported at message_start: kept exact, the output estimated.
    assert reply.usage.input_tokens == 25 and reply.usage.estimated


async def test_thinking_and_signature_go_back_unchanged_with_the_results(servers) -> None:
    seen: list = []
    replies = iter(
        [
            anthropic_tool_stream(
                [("toolu_T1", "read", '{"path": "a.py"}')],
                thinking=("I should read a.py first.", SIGNATURE),
            ),
            anthropic_tool_stream([], text="a.py prints a."),
        ]
    )
    server = servers(recording(lambda r: next(replies), seen))
    first = await run(anthropic_tier(server.url), ask())
    assert first.failed is None and len(first.private) == 1
    transcript = (
        *ask().messages,
        first.assistant_message(),
        Message("tool", "print('a')", tool_call_id="toolu_T1", name="read"),
    )
    second = await run(anthropic_tier(server.url), ask(messages=transcript))
    assert second.text == "a.py prints a."
    sent = seen[1].json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    thinking, tool_use = sent[1]["content"]
    assert thinking == {"type": "thinking", "thinking": "I should read a.py first.",
                        "signature": SIGNATURE}  # fmt: skip
    assert tool_use == {"type": "tool_use", "id": "toolu_T1", "name": "read",
                        "input": {"path": "a.py"}}  # fmt: skip
    [result] = sent[2]["content"]
    assert result["type"] == "tool_result" and result["tool_use_id"] == "toolu_T1"
    assert result["content"] == "print('a')"
    assert result["cache_control"] == {"type": "ephemeral"}  # the newest turn is written


async def test_a_private_part_event_carries_the_whole_block(servers) -> None:
    server = servers(lambda r: anthropic_tool_stream([], text="ok", thinking=("hm", "sig")))
    tier = anthropic_tier(server.url)
    events = [e async for e in tier.stream(ask())]
    await tier.aclose()
    [part] = [e.part for e in events if isinstance(e, PrivateDelta)]
    assert (part.provider, part.model, part.kind) == ("anthropic", MODEL, "thinking")
    assert json.loads(part.data) == {"type": "thinking", "thinking": "hm", "signature": "sig"}


async def test_results_and_the_next_question_form_one_user_turn_with_errors_flagged(
    servers,
) -> None:
    seen: list = []
    server = servers(recording(lambda r: anthropic_tool_stream([], text="ok"), seen))
    await run(anthropic_tier(server.url), ask(messages=anthropic_transcript(MODEL)))
    sent = seen[0].json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    blocks = sent[2]["content"]
    assert [b["type"] for b in blocks] == ["tool_result", "tool_result", "text"]
    assert blocks[1]["is_error"] is True and "is_error" not in blocks[0]
    # Its own ids and thinking (same provider, same model) are kept as they were.
    assert sent[1]["content"][0]["signature"] == "EqQBCkYIBxgCKkBsig=="
    assert [b["id"] for b in sent[1]["content"][2:]] == [
        "toolu_01A09q90qw90lq917835lq9",
        "toolu_01B77q90qw90lq917835lq8",
    ]
    assert sent[1]["content"][3]["input"] == {}  # malformed arguments: an object


async def test_another_models_thinking_is_dropped(servers) -> None:
    seen: list = []
    server = servers(recording(lambda r: anthropic_tool_stream([], text="ok"), seen))
    await run(anthropic_tier(server.url), ask(messages=anthropic_transcript("claude-opus-4-1")))
    assistant = seen[0].json()["messages"][1]["content"]
    assert [b["type"] for b in assistant] == ["text", "tool_use", "tool_use"]
