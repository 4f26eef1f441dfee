"""Gemini tool calling over a real local server, byte for byte: whole functionCall parts,
thought signatures kept, results as functionResponse parts."""

from __future__ import annotations

import json

from rung.tiers.base import Message, ToolCallReady
from tests.fakes import gemini_tool_stream

from .helpers import TOOLS, anthropic_transcript, ask, gemini_tier, recording, run

SIGNATURE = "CiQBcsjafake/sig+=="


async def test_one_call_with_its_signature(servers) -> None:
    seen: list = []
    args = {"path": "app/naïve.py", "lines": [1, 2]}
    script = lambda r: gemini_tool_stream(  # noqa: E731
        [("read", args)], text="Reading.", signature=SIGNATURE, prompt=210, output=33
    )
    server = servers(recording(script, seen))
    reply = await run(gemini_tier(server.url), ask(system="Be brief."))
    assert reply.failed is None, reply.failed
    assert reply.text == "Reading."
    [call] = reply.tool_calls
    assert call.name == "read" and json.loads(call.arguments) == args
    assert call.id  # Gemini sent none: Rung made one so a result can name the call
    assert reply.finish_reason == "tool_calls"
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (210, 33)
    assert not reply.usage.estimated
    body = seen[0].json()
    declarations = body["tools"][0]["functionDeclarations"]
    assert declarations[0] == {"name": "read", "description": TOOLS[0].description,
                               "parametersJsonSchema": TOOLS[0].parameters}  # fmt: skip
    assert [d["name"] for d in declarations] == ["read", "grep"]


async def test_two_parallel_calls(servers) -> None:
    calls = [("read", {"path": "a.py"}), ("grep", {"pattern": "def x"})]
    server = servers(lambda r: gemini_tool_stream(calls, signature=SIGNATURE))
    tier = gemini_tier(server.url)
    events = [e async for e in tier.stream(ask())]
    await tier.aclose()
    ready = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert [(c.name, json.loads(c.arguments)) for c in ready] == calls
    assert len({c.id for c in ready}) == 2
    # The signature belongs to the first part only, as Gemini sent it.
    assert [len(c.private) for c in ready] == [1, 0]


async def test_malformed_arguments_arrive_raw(servers) -> None:
    raw = json.dumps('{"path": "a.py", "x": ')  # args relayed as the model's own text
    server = servers(lambda r: gemini_tool_stream([("read", {"k": 1})], raw_args=raw))
    reply = await run(gemini_tier(server.url), ask())
    assert reply.failed is None
    assert [c.arguments for c in reply.tool_calls] == ['{"path": "a.py", "x": ']


async def test_a_stream_cut_mid_call_fails_with_no_call(servers) -> None:
    server = servers(lambda r: gemini_tool_stream(
        [("read", {"path": "a.py"})], text="Reading.", cut_in_call=True))  # fmt: skip
    reply = await run(gemini_tier(server.url), ask())
    assert reply.failed is not None
    assert reply.text == "Reading." and reply.tool_calls == []


async def test_the_next_step_keeps_the_signature_and_answers_by_name(servers) -> None:
    seen: list = []
    replies = iter([
        gemini_tool_stream([("read", {"path": "a.py"}), ("grep", {"pattern": "x"})],
                           signature=SIGNATURE),
        gemini_tool_stream([], text="Done."),
    ])  # fmt: skip
    server = servers(recording(lambda r: next(replies), seen))
    first = await run(gemini_tier(server.url), ask())
    a, b = first.tool_calls
    transcript = (
        *ask().messages,
        first.assistant_message(),
        Message("tool", "print('a')", tool_call_id=a.id, name="read"),
        Message("tool", "no match", tool_call_id=b.id, name="grep", is_error=True),
    )
    second = await run(gemini_tier(server.url), ask(messages=transcript))
    assert second.text == "Done."
    contents = seen[1].json()["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"] == [
        {"functionCall": {"name": "read", "args": {"path": "a.py"}}, "thoughtSignature": SIGNATURE},
        {"functionCall": {"name": "grep", "args": {"pattern": "x"}}},
    ]
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "read", "response": {"result": "print('a')"}}},
        {"functionResponse": {"name": "grep", "response": {"error": "no match"}}},
    ]


async def test_an_anthropic_transcript_goes_to_gemini_without_foreign_parts(servers) -> None:
    seen: list = []
    server = servers(recording(lambda r: gemini_tool_stream([], text="ok"), seen))
    reply = await run(gemini_tier(server.url), ask(messages=anthropic_transcript()))
    assert reply.failed is None
    contents = seen[0].json()["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    text = json.dumps(contents)
    assert "toolu_" not in text and "Read x first" not in text and "EqQB" not in text
    model_parts = contents[1]["parts"]
    assert model_parts[0] == {"text": "Reading it."}
    # Gemini 3 wants a signature on a function-call turn: the documented stand-in for
    # a call another model made, on the first call only.
    assert model_parts[1]["thoughtSignature"] == "skip_thought_signature_validator"
    assert "thoughtSignature" not in model_parts[2]
    assert model_parts[2]["functionCall"] == {"name": "grep", "args": {}}
    results = [p["functionResponse"] for p in contents[2]["parts"][:2]]
    assert [r["name"] for r in results] == ["read", "grep"]
    assert contents[2]["parts"][2] == {"text": "And now?"}


async def test_older_gemini_models_get_no_stand_in_signature(servers) -> None:
    seen: list = []
    server = servers(recording(lambda r: gemini_tool_stream([], text="ok"), seen))
    tier = gemini_tier(server.url, model="gemini-2.5-flash")
    await run(tier, ask(messages=anthropic_transcript()))
    assert "thoughtSignature" not in json.dumps(seen[0].json()["contents"])
