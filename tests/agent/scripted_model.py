"""A scripted model for the agent's end-to-end tests: a real HTTP server on 127.0.0.1
speaking a provider's streamed tool calls, answering request N with step N of a script,
and CHECKING each request: the step's check gets the tool results fed back to the model
(in the provider's own wire shape, as the dialect rendered them) and records what was
wrong, for the test to assert.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import Request, Step, openai_stream, openai_tool_stream

Check = Callable[[dict[str, Any], list[str]], None]  # (request body, the tool results)


@dataclass
class Turn:
    """One scripted step: the calls the model makes (tool, arguments) or its final text,
    and what the request that asked for it must contain."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    text: str = ""
    expect: tuple[str, ...] = ()  # each must be in the newest tool results fed back
    raw: list[Step] | None = None  # a hand-made reply (a cut stream)


def openai_results(body: dict[str, Any]) -> list[str]:
    """The tool results at the end of an OpenAI-style request, oldest first."""
    found: list[str] = []
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "tool":
            break
        found.insert(0, str(message.get("content", "")))
    return found


class ScriptedModel:
    def __init__(self, script: list[Turn], usage: dict[str, int] | None = None) -> None:
        self.script = script
        self.problems: list[str] = []
        self.bodies: list[dict[str, Any]] = []
        self.usage = usage or {"prompt_tokens": 1000, "completion_tokens": 50,
                               "total_tokens": 1050}  # fmt: skip

    def __call__(self, request: Request) -> list[Step]:
        body = request.json()
        index = len(self.bodies)
        self.bodies.append(body)
        if index >= len(self.script):
            self.problems.append(f"request {index + 1}: the script has only {len(self.script)}")
            return openai_stream(["(script over)"])
        return self.reply_to(self.script[index], body, index)

    def reply_to(self, turn: Turn, body: dict[str, Any], index: int = 0) -> list[Step]:
        """Check ``body`` against ``turn`` and give its reply."""
        results = openai_results(body)
        for wanted in turn.expect:
            if not any(wanted in r for r in results):
                self.problems.append(f"request {index + 1}: {wanted!r} not in {results!r}")
        if not body.get("tools"):
            self.problems.append(f"request {index + 1}: no tools offered")
        if turn.raw is not None:
            return turn.raw
        if turn.calls:
            calls = [(f"call_{index}_{n}", name, json.dumps(args))
                     for n, (name, args) in enumerate(turn.calls)]  # fmt: skip
            return openai_tool_stream(calls, text=turn.text, usage=self.usage)
        return openai_stream([turn.text], usage=self.usage)
