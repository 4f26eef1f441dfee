"""Shared by the tool-calling wire tests: tiers pointed at real local servers, a
recording handler, and the tool specs and transcripts the tests send."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from rung.tiers.anthropic import AnthropicTier
from rung.tiers.base import ChatRequest, Message, PrivatePart, Reply, ToolCall, ToolSpec
from rung.tiers.gemini import GeminiTier
from rung.tiers.http import HttpOptions, RemoteTier
from rung.tiers.openai import OpenAITier
from rung.tiers.turn import collect
from tests.fakes import Request, Step

KEY = "sk-test-0123456789abcdef"
FAST = HttpOptions(connect_timeout=2, read_timeout=5, max_retries=1, backoff_base=0.01)

READ = ToolSpec(
    "read",
    "Read a file of the project.",
    {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
GREP = ToolSpec(
    "grep",
    "Search the project for a regular expression.",
    {"type": "object", "properties": {"pattern": {"type": "string"}}, "required": ["pattern"]},
)
TOOLS = (READ, GREP)


def ask(text: str = "Look at app/x.py", **kw: object) -> ChatRequest:
    kw.setdefault("max_tokens", 256)
    kw.setdefault("tools", TOOLS)
    messages = kw.pop("messages", (Message("user", text),))
    return ChatRequest(messages=messages, **kw)  # type: ignore[arg-type]


def recording(script: Callable[[Request], Iterable[Step]], seen: list[Request]):  # type: ignore[no-untyped-def]
    def handler(request: Request) -> Iterable[Step]:
        seen.append(request)
        return script(request)

    return handler


def openai_tier(url: str, **kw: object) -> OpenAITier:
    args = {"name": "openai", "label": "OpenAI", "model": "gpt-test", "base_url": url + "/v1",
            "api_key": KEY, "options": FAST}  # fmt: skip
    return OpenAITier(**{**args, **kw})  # type: ignore[arg-type]


def anthropic_tier(url: str, **kw: object) -> AnthropicTier:
    args = {"name": "anthropic", "label": "Anthropic", "model": "claude-sonnet-4-5",
            "base_url": url, "api_key": KEY, "options": FAST}  # fmt: skip
    return AnthropicTier(**{**args, **kw})  # type: ignore[arg-type]


def gemini_tier(url: str, **kw: object) -> GeminiTier:
    args = {"name": "gemini", "label": "Google Gemini", "model": "gemini-3-pro-preview",
            "base_url": url, "api_key": KEY, "options": FAST}  # fmt: skip
    return GeminiTier(**{**args, **kw})  # type: ignore[arg-type]


async def run(tier: RemoteTier, request: ChatRequest) -> Reply:
    try:
        return await collect(tier, request)
    finally:
        await tier.aclose()


def anthropic_transcript(model: str = "claude-sonnet-4-5") -> tuple[Message, ...]:
    """A step made on Anthropic: a thinking block with its signature, text, two calls
    (one with malformed arguments), their two results (one an error), a new question."""
    thinking = PrivatePart(
        "anthropic",
        model,
        "thinking",
        '{"type": "thinking", "thinking": "Read x first.", "signature": "EqQBCkYIBxgCKkBsig=="}',
    )
    calls = (
        ToolCall("toolu_01A09q90qw90lq917835lq9", "read", '{"path": "app/x.py"}', "anthropic"),
        ToolCall("toolu_01B77q90qw90lq917835lq8", "grep", '{"pattern": "def ', "anthropic"),
    )
    return (
        Message("user", "Look at app/x.py"),
        Message("assistant", "Reading it.", tool_calls=calls, private=(thinking,)),
        Message("tool", "x = 1\n", tool_call_id=calls[0].id, name="read"),
        Message(
            "tool",
            "arguments are not valid JSON",
            tool_call_id=calls[1].id,
            name="grep",
            is_error=True,
        ),
        Message("user", "And now?"),
    )
