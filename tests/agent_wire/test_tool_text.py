"""The text protocol: tools described in the prompt, strict fenced blocks parsed back."""

from __future__ import annotations

import json
import random

import pytest

from rung.tiers.base import (
    ChatRequest,
    Finished,
    Message,
    TextDelta,
    ToolCall,
    ToolCallReady,
)
from rung.tiers.tool_text import ToolTextFilter, text_request, tool_prompt, with_text_tools

from .helpers import TOOLS, anthropic_transcript

CALL = '```tool_call\n{"name": "read", "arguments": {"path": "app/x.py"}}\n```\n'


def parse(chunks: list[str]) -> tuple[str, list[ToolCall]]:
    f = ToolTextFilter(TOOLS)
    events = [e for c in chunks for e in f.feed(c)] + f.finish()
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    return text, [e.call for e in events if isinstance(e, ToolCallReady)]


def every_split(reply: str) -> list[list[str]]:
    rng = random.Random(7)
    splits = [[reply[:i], reply[i:]] for i in range(len(reply) + 1)]
    for _ in range(50):
        cuts = sorted(rng.sample(range(len(reply) + 1), k=min(8, len(reply))))
        splits.append([reply[a:b] for a, b in zip([0, *cuts], [*cuts, len(reply)], strict=True)])
    splits.append(list(reply))  # a character at a time
    return splits


def test_a_call_after_text_is_one_call_however_the_stream_is_split() -> None:
    reply = "Let me read it.\n" + CALL
    for chunks in every_split(reply):
        text, calls = parse(chunks)
        assert text == "Let me read it.\n", chunks
        assert [(c.name, json.loads(c.arguments)) for c in calls] == [
            ("read", {"path": "app/x.py"})
        ]
        assert calls[0].origin == "text" and calls[0].id


def test_two_blocks_are_two_calls_with_distinct_ids() -> None:
    second = '```tool_call\n{"name": "grep", "arguments": {"pattern": "def "}}\n```'
    text, calls = parse([CALL + second])
    assert text == "" and [c.name for c in calls] == ["read", "grep"]
    assert calls[0].id != calls[1].id


@pytest.mark.parametrize(
    "reply",
    [
        '```tool_call\n{"name": "read", "arguments": {"path": "a.py"\n```\n',  # bad JSON
        '```tool_call\n{"name": "delete_all", "arguments": {}}\n```\n',  # not offered
        '```tool_call\n{"name": "read", "arguments": "a.py"}\n```\n',  # not an object
        '```tool_call\n{"name": "read", "arguments": {}, "extra": 1}\n```\n',  # extra key
        'Use ```tool_call\n{"name": "read", "arguments": {}}\n```\n',  # not at line start
        '```tool_call\n{"name": "read", "arguments": {"path": "a.py"}}\n',  # never closed
        '```python\nprint("hi")\n```\n',  # an ordinary code block
    ],
)
def test_anything_but_a_strict_complete_block_is_plain_text(reply: str) -> None:
    for chunks in every_split(reply)[:: max(1, len(reply) // 10)]:
        text, calls = parse(chunks)
        assert (text, calls) == (reply, []), chunks


def test_plain_text_is_not_held_back() -> None:
    f = ToolTextFilter(TOOLS)
    assert f.feed("Hello there, ") == [TextDelta("Hello there, ")]
    # A line that may be a fence opening waits; it goes out as soon as it cannot be one.
    assert f.feed("\n``") == [TextDelta("\n")]
    assert f.feed("`python") == [TextDelta("```python")]


async def test_the_stream_ends_with_tool_calls_when_the_model_called_one() -> None:
    async def events():  # type: ignore[no-untyped-def]
        for piece in ["Reading.\n```tool_", 'call\n{"name": "read", "arguments": {}}\n', "```"]:
            yield TextDelta(piece)
        yield Finished("stop")

    out = [e async for e in with_text_tools(events(), TOOLS)]
    assert isinstance(out[-1], Finished) and out[-1].finish_reason == "tool_calls"
    assert [type(e).__name__ for e in out] == ["TextDelta", "ToolCallReady", "Finished"]


def test_the_prompt_offers_the_tools_and_the_transcript_becomes_text() -> None:
    prompt = tool_prompt(TOOLS)
    assert "```tool_call" in prompt and "- read: Read a file" in prompt
    assert '"required": ["path"]' in prompt
    request = ChatRequest(anthropic_transcript(), system="Be brief.", tools=TOOLS)
    plain = text_request(request)
    assert plain.tools == () and plain.system.startswith("Be brief.\n\n")
    assert [m.role for m in plain.messages] == ["user", "assistant", "user"]
    assistant = plain.messages[1].content
    assert assistant.startswith("Reading it.\n```tool_call\n")
    assert '{"name": "grep", "arguments": {}}' in assistant  # malformed: an object
    results = plain.messages[2].content
    assert "The read call succeeded:\n```\nx = 1\n\n```" in results
    assert "The grep call failed:" in results and results.endswith("And now?")
    assert "signature" not in json.dumps([m.content for m in plain.messages])


def test_a_result_with_backticks_cannot_close_its_fence() -> None:
    request = ChatRequest(
        (Message("tool", "a\n```\nb", tool_call_id="x", name="read"),), tools=TOOLS
    )
    content = text_request(request).messages[0].content
    assert content.startswith("The read call succeeded:\n````\n") and content.endswith("\n````")


# What the embedded SmolLM2 really writes when it calls (see test_local_tools.py): the
# block, then the end of its turn, without the closing fence.
REAL_MODEL_REPLY = '```tool_call\n{"name": "read", "arguments": {"path": "app/x.py"}}'


async def ending(reason: str | None) -> list:  # type: ignore[type-arg]
    from rung.tiers.base import Failed

    async def events():  # type: ignore[no-untyped-def]
        yield TextDelta(REAL_MODEL_REPLY[:20])
        yield TextDelta(REAL_MODEL_REPLY[20:])
        yield Finished(reason) if reason else Failed("cut", kind="network")

    return [e async for e in with_text_tools(events(), TOOLS)]


async def test_a_block_the_model_ended_its_turn_after_is_a_call() -> None:
    out = await ending("stop")
    [ready] = [e for e in out if isinstance(e, ToolCallReady)]
    assert json.loads(ready.call.arguments) == {"path": "app/x.py"}
    assert not any(isinstance(e, TextDelta) for e in out)
    assert out[-1].finish_reason == "tool_calls"


@pytest.mark.parametrize("reason", ["length", None])
async def test_an_unclosed_block_cut_by_the_limit_or_the_network_is_text(reason) -> None:
    out = await ending(reason)
    assert not any(isinstance(e, ToolCallReady) for e in out)
    assert "".join(e.text for e in out if isinstance(e, TextDelta)) == REAL_MODEL_REPLY
