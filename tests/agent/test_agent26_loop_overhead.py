"""What an agent step recomputed that was not the loop's own work: the size of the same
request, counted four to eight times a step (routing, the context meter, compaction,
the usage check), each a walk over the whole transcript with every tool's schema
dumped as JSON. Counted once; a grown transcript is counted again."""

from __future__ import annotations

import json

from rung.tiers import base
from rung.tiers.base import ChatRequest, Message, ToolCall, ToolSpec, prompt_chars

SPECS = (ToolSpec("read", "Read a file.", {"type": "object", "properties": {"path": {}}}),)


def transcript(steps: int) -> tuple[Message, ...]:
    messages = [Message("user", "read around")]
    for i in range(steps):
        call = ToolCall(f"call_{i}", "read", json.dumps({"path": f"mod{i}.py"}))
        messages += [Message("assistant", "", tool_calls=(call,)),
                     Message("tool", "x" * 100, tool_call_id=call.id, name="read")]  # fmt: skip
    return tuple(messages)


def test_the_same_request_is_counted_once_and_a_grown_one_again(monkeypatch) -> None:
    dumps: list[object] = []
    real = json.dumps

    class Counting:
        @staticmethod
        def dumps(value, *args, **kwargs):  # type: ignore[no-untyped-def]
            dumps.append(value)
            return real(value, *args, **kwargs)

    monkeypatch.setattr(base, "json", Counting)
    messages = transcript(30)
    first = prompt_chars(ChatRequest(messages, system="s", tools=SPECS))
    for _ in range(7):  # the step's other askers build their own, equal, request
        assert prompt_chars(ChatRequest(messages, system="s", tools=SPECS)) == first
    assert len(dumps) == 1
    grown = (*messages, Message("assistant", "done"))
    assert prompt_chars(ChatRequest(grown, system="s", tools=SPECS)) == first + 4
    other = prompt_chars(ChatRequest(messages, system="a longer system", tools=SPECS))
    assert other == first + len("a longer system") - 1
