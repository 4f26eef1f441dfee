"""OpenAI-compatible tool calling over a real local server, byte for byte."""

from __future__ import annotations

import json

from rung.tiers.base import Message, ToolCallReady
from rung.tiers.tool_calls import MAX_CALLS
from tests.fakes import openai_tool_stream

from .helpers import TOOLS, anthropic_transcript, ask, openai_tier, recording, run

USAGE = {"prompt_tokens": 120, "completion_tokens": 31, "total_tokens": 151,
         "prompt_tokens_details": {"cached_tokens": 64}}  # fmt: skip


async def test_one_call_with_arguments_split_mid_json_and_mid_escape(servers) -> None:
    arguments = json.dumps({"path": 'app/café "x".py', "lines": [1, 2]})  # \" escapes
    seen: list = []
    calls = [("call_abc123", "read", arguments)]
    script = lambda r: openai_tool_stream(calls, text="Let me look.", split=3, usage=USAGE)  # noqa: E731
    server = servers(recording(script, seen))
    reply = await run(openai_tier(server.url), ask())
    assert reply.failed is None, reply.failed
    assert reply.text == "Let me look."
    [call] = reply.tool_calls
    assert (call.id, call.name, call.arguments) == ("call_abc123", "read", arguments)
    assert json.loads(call.arguments)["path"] == 'app/café "x".py'
    assert reply.finish_reason == "tool_calls"
    # Usage exact, as the provider reported it.
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (120, 31)
    assert reply.usage.cached_input_tokens == 64 and not reply.usage.estimated
    body = seen[0].json()
    assert [t["function"]["name"] for t in body["tools"]] == ["read", "grep"]  # fixed order
    read = TOOLS[0]
    function = {"name": "read", "description": read.description, "parameters": read.parameters}
    assert body["tools"][0] == {"type": "function", "function": function}
    assert body["tool_choice"] == "auto"


async def test_two_parallel_calls_arrive_in_order_each_whole(servers) -> None:
    calls = [("call_1", "read", '{"path": "a.py"}'), ("call_2", "grep", '{"pattern": "def x"}')]
    server = servers(lambda r: openai_tool_stream(calls, split=4, usage=USAGE))
    tier = openai_tier(server.url)
    events = [e async for e in tier.stream(ask())]
    await tier.aclose()
    ready = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert [(c.id, c.name, c.arguments) for c in ready] == calls
    assert all(c.origin == "openai" for c in ready)


async def test_malformed_arguments_arrive_raw_for_the_dispatcher(servers) -> None:
    broken = '{"path": "app/x.py", "lines": [1, 2'
    server = servers(lambda r: openai_tool_stream([("call_9", "read", broken)], usage=USAGE))
    reply = await run(openai_tier(server.url), ask())
    assert reply.failed is None
    assert [c.arguments for c in reply.tool_calls] == [broken]


async def test_a_stream_cut_mid_call_fails_and_keeps_the_text(servers) -> None:
    server = servers(lambda r: openai_tool_stream(
        [("call_1", "read", '{"path": "a.py"}'), ("call_2", "grep", '{"pattern": "x"}')],
        text="Checking.", cut_in_call=1))  # fmt: skip
    reply = await run(openai_tier(server.url), ask())
    assert reply.failed is not None and reply.failed.kind == "network"
    assert reply.text == "Checking."
    # The cut call is never handed out; the one before it was complete, and only that
    # one went out (no half call, no invented one).
    assert [c.id for c in reply.tool_calls] == ["call_1"]
    assert reply.usage.estimated  # no usage arrived: Rung's estimate, as for any cut


async def test_a_stream_cut_inside_the_only_call_hands_out_nothing(servers) -> None:
    server = servers(lambda r: openai_tool_stream(
        [("call_1", "read", '{"path": "app/a_long_name.py"}')], cut_in_call=0))  # fmt: skip
    reply = await run(openai_tier(server.url), ask())
    assert reply.failed is not None and reply.tool_calls == []


async def test_the_next_step_sends_calls_and_results_with_their_ids(servers) -> None:
    seen: list = []
    server = servers(recording(lambda r: openai_tool_stream(
        [("call_abc", "read", '{"path": "a.py"}')], usage=USAGE), seen))  # fmt: skip
    first = await run(openai_tier(server.url), ask())
    [call] = first.tool_calls
    transcript = (
        *ask().messages,
        first.assistant_message(),
        Message("tool", "print('a')\n", tool_call_id=call.id, name="read"),
    )
    await run(openai_tier(server.url), ask(messages=transcript))
    sent = seen[1].json()["messages"]
    function = {"name": "read", "arguments": '{"path": "a.py"}'}
    wire_call = {"id": "call_abc", "type": "function", "function": function}
    assert sent[1] == {"role": "assistant", "content": None, "tool_calls": [wire_call]}
    assert sent[2] == {"role": "tool", "tool_call_id": "call_abc", "content": "print('a')\n"}


async def test_an_anthropic_transcript_goes_to_openai_with_ids_remapped(servers) -> None:
    seen: list = []
    server = servers(recording(lambda r: openai_tool_stream([], text="Done.", usage=USAGE), seen))
    reply = await run(openai_tier(server.url), ask(messages=anthropic_transcript()))
    assert reply.failed is None and reply.text == "Done."
    sent = seen[0].json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "tool", "tool", "user"]
    ids = [c["id"] for c in sent[1]["tool_calls"]]
    assert all(i.startswith("call_") and len(i) <= 40 for i in ids)
    assert ids[0] != ids[1]
    assert [sent[2]["tool_call_id"], sent[3]["tool_call_id"]] == ids  # results follow
    assert "toolu_" not in json.dumps(sent) and "signature" not in json.dumps(sent)
    assert "Read x first" not in json.dumps(sent)  # foreign thinking dropped
    assert sent[1]["content"] == "Reading it."
    assert sent[1]["tool_calls"][1]["function"]["arguments"] == "{}"  # malformed: an object
    assert sent[3]["content"].startswith("Error: ")


async def test_mistral_gets_nine_character_ids(servers) -> None:
    seen: list = []
    server = servers(recording(lambda r: openai_tool_stream([], text="ok", usage=USAGE), seen))
    tier = openai_tier(server.url, provider="mistral")
    await run(tier, ask(messages=anthropic_transcript()))
    sent = seen[0].json()["messages"]
    ids = [c["id"] for c in sent[1]["tool_calls"]]
    assert all(len(i) == 9 and i.isalnum() for i in ids)
    assert [sent[2]["tool_call_id"], sent[3]["tool_call_id"]] == ids


async def test_more_calls_than_the_bound_fail_clearly(servers) -> None:
    calls = [(f"call_{i}", "read", "{}") for i in range(MAX_CALLS + 1)]
    server = servers(lambda r: openai_tool_stream(calls, usage=USAGE))
    reply = await run(openai_tier(server.url), ask())
    assert reply.failed is not None
    assert f"more than {MAX_CALLS} tool calls" in reply.failed.message
    assert len(reply.tool_calls) <= MAX_CALLS


async def test_arguments_past_one_mebibyte_fail_clearly(servers) -> None:
    huge = json.dumps({"content": "x" * (1024 * 1024)})
    server = servers(lambda r: openai_tool_stream([("c", "write", huge)], split=64 * 1024))
    # A limit high enough that the output bound does not stop the stream first.
    reply = await run(openai_tier(server.url), ask(max_tokens=400_000))
    assert reply.failed is not None and "KiB of arguments" in reply.failed.message
    assert reply.tool_calls == []


async def test_a_call_cut_by_the_token_limit_is_not_handed_out(servers) -> None:
    server = servers(lambda r: openai_tool_stream(
        [("c1", "read", '{"path": "a')], finish="length", usage=USAGE))  # fmt: skip
    reply = await run(openai_tier(server.url), ask())
    assert reply.failed is None and reply.finish_reason == "length"
    assert reply.tool_calls == []
    assert any("token limit in the middle of a tool call" in n for n in reply.notices)


async def test_calls_survive_network_reads_split_mid_utf8(servers) -> None:
    from tests.fakes import anthropic_tool_stream, gemini_tool_stream, rechunk

    from .helpers import anthropic_tier, gemini_tier

    arguments = json.dumps({"path": "δοκιμή/日本語 ✓.py"}, ensure_ascii=False)
    scripts = {
        "openai": (openai_tier, openai_tool_stream([("call_u", "read", arguments)], usage=USAGE)),
        "anthropic": (anthropic_tier, anthropic_tool_stream([("toolu_u", "read", arguments)])),
        "gemini": (gemini_tier, gemini_tool_stream([("read", json.loads(arguments))])),
    }
    for make, script in scripts.values():
        steps = rechunk(script, 5)  # 5 bytes: most multi-byte characters are split
        server = servers(lambda r, steps=steps: steps)
        reply = await run(make(server.url), ask())
        assert reply.failed is None, reply.failed
        assert [json.loads(c.arguments) for c in reply.tool_calls] == [json.loads(arguments)]
        assert reply.finish_reason == "tool_calls" and not reply.usage.estimated


async def test_whole_calls_without_an_index_are_told_apart_by_id(servers) -> None:
    """Some OpenAI-compatible servers (Ollama, proxies) send each call whole, no index."""
    from tests.fakes import OPENAI_BASE, Send, openai_chunk, openai_head

    def chunk(delta: dict, finish: str | None = None) -> Send:  # type: ignore[type-arg]
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return Send(openai_chunk({**OPENAI_BASE, "model": "m", "choices": [choice]}))

    calls = [
        {
            "id": "c1",
            "type": "function",
            "function": {"name": "read", "arguments": '{"path": "a"}'},
        },
        {
            "id": "c2",
            "type": "function",
            "function": {"name": "grep", "arguments": '{"pattern": "b"}'},
        },
    ]
    steps = [*openai_head("m"), *(chunk({"tool_calls": [c]}) for c in calls), chunk({}, "stop")]
    server = servers(lambda r: [*steps, Send(b"data: [DONE]\n\n")])
    reply = await run(openai_tier(server.url), ask())
    assert [(c.id, c.name, c.arguments) for c in reply.tool_calls] == [
        ("c1", "read", '{"path": "a"}'),
        ("c2", "grep", '{"pattern": "b"}'),
    ]
    assert reply.finish_reason == "tool_calls"  # the server said "stop"
