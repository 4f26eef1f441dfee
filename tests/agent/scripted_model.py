"""A scripted model for the agent's end-to-end tests: a real HTTP server on 127.0.0.1
speaking a provider's streamed tool calls (OpenAI, Anthropic or Gemini), answering
request N with step N of a script, and CHECKING each request: the tool results fed
back to the model (in the provider's own wire shape, as the dialect rendered them) must
hold what the step expects; what was wrong is recorded for the test to assert.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes import (
    Request,
    Step,
    anthropic_stream,
    anthropic_tool_stream,
    gemini_stream,
    gemini_tool_stream,
    openai_stream,
    openai_tool_stream,
)

DIALECTS = ("openai", "anthropic", "gemini")

Check = Callable[[dict[str, Any], list[str]], None]  # (request body, the tool results)


@dataclass
class Turn:
    """One scripted step: the calls the model makes (tool, arguments) or its final text,
    and what the request that asked for it must contain."""

    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    text: str = ""
    expect: tuple[str, ...] = ()  # each must be in the newest tool results fed back
    raw: list[Step] | None = None  # a hand-made reply (a cut stream)


def tool_results(body: dict[str, Any], dialect: str = "openai") -> list[str]:
    """The tool results at the end of a request, oldest first, as text."""
    if dialect == "anthropic":
        last = (body.get("messages") or [{}])[-1]
        blocks = last.get("content") if last.get("role") == "user" else None
        results = [
            b for b in blocks or [] if isinstance(b, dict) and b.get("type") == "tool_result"
        ]
        return [r["content"] if isinstance(r["content"], str) else json.dumps(r["content"])
                for r in results]  # fmt: skip
    if dialect == "gemini":
        last = (body.get("contents") or [{}])[-1]
        parts = last.get("parts") if last.get("role") == "user" else None
        return [json.dumps(p["functionResponse"]["response"], ensure_ascii=False)
                for p in parts or [] if "functionResponse" in p]  # fmt: skip
    found: list[str] = []
    for message in reversed(body.get("messages", [])):
        if message.get("role") != "tool":
            break
        found.insert(0, str(message.get("content", "")))
    return found


def transcript(body: dict[str, Any], dialect: str = "openai") -> list[Any]:
    """The request's messages, cache breakpoints left out (Anthropic moves its newest-
    message breakpoint every step, by design)."""
    return _strip(body.get("contents" if dialect == "gemini" else "messages", []))


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def system_text(body: dict[str, Any], dialect: str = "openai") -> str:
    if dialect == "anthropic":
        system = body.get("system", "")
        return system if isinstance(system, str) else " ".join(b.get("text", "") for b in system)
    if dialect == "gemini":
        return " ".join(p.get("text", "") for p in body["systemInstruction"]["parts"])
    first = body["messages"][0]
    return first["content"] if first["role"] == "system" else ""


class ScriptedModel:
    def __init__(
        self, script: list[Turn], usage: dict[str, int] | None = None, dialect: str = "openai"
    ) -> None:
        self.script = script
        self.dialect = dialect
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
        results = tool_results(body, self.dialect)
        for wanted in turn.expect:
            if not any(wanted in r for r in results):
                self.problems.append(f"request {index + 1}: {wanted!r} not in {results!r}")
        if not body.get("tools"):
            self.problems.append(f"request {index + 1}: no tools offered")
        if turn.raw is not None:
            return turn.raw
        if self.dialect == "anthropic":
            if turn.calls:
                calls = [(f"toolu_{index}_{n}", name, json.dumps(args))
                         for n, (name, args) in enumerate(turn.calls)]  # fmt: skip
                return anthropic_tool_stream(calls, text=turn.text)
            return anthropic_stream([turn.text])
        if self.dialect == "gemini":
            if turn.calls:
                return gemini_tool_stream(turn.calls, text=turn.text)
            return gemini_stream([turn.text])
        if turn.calls:
            calls = [(f"call_{index}_{n}", name, json.dumps(args))
                     for n, (name, args) in enumerate(turn.calls)]  # fmt: skip
            return openai_tool_stream(calls, text=turn.text, usage=self.usage)
        return openai_stream([turn.text], usage=self.usage)


class ToolsOrPlain(ScriptedModel):
    """The script answers the requests that offer tools (the agent's steps); a request
    without tools (a chat-only question, compaction's summary) is kept in ``plain`` and
    gets ``answer(n)``, n counting those requests from 1."""

    def __init__(
        self,
        script: list[Turn],
        usage: dict[str, int] | None = None,
        dialect: str = "openai",
        answer: Callable[[int], str] = lambda n: "Summary of the earlier steps.",
    ) -> None:
        super().__init__(script, usage, dialect)
        self.answer = answer
        self.plain: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> list[Step]:
        body = request.json()
        if body.get("tools"):
            return super().__call__(request)
        self.plain.append(body)
        text = self.answer(len(self.plain))
        if self.dialect == "anthropic":
            return anthropic_stream([text])
        return openai_stream([text], usage=self.usage)
