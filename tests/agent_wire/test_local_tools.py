"""The text protocol with the real embedded model (loaded through the product's own
safe-load decision, tiers/llama_safety, by the session's ``local_tier`` fixture)."""

from __future__ import annotations

import json

from rung.tiers.base import ChatRequest, Message
from rung.tiers.turn import collect

from .helpers import TOOLS

BLOCK = '```tool_call\n{"name": "read", "arguments": {"path": "app/x.py"}}\n```'


async def test_the_embedded_model_calls_a_tool_through_the_text_protocol(local_tier) -> None:
    assert (local_tier.can_call_tools, local_tier.tool_protocol) == (True, "text")
    question = f"Repeat exactly this text and nothing else:\n{BLOCK}"
    request = ChatRequest((Message("user", question),), tools=TOOLS, max_tokens=60, temperature=0)
    reply = await collect(local_tier, request)
    assert reply.failed is None, reply.failed
    # The 135M model copies the block (and stops without the closing fence): one call,
    # its arguments intact, no block left in the visible text.
    assert [(c.name, json.loads(c.arguments)) for c in reply.tool_calls] == [
        ("read", {"path": "app/x.py"})
    ]
    assert "tool_call" not in reply.text and reply.finish_reason == "tool_calls"
    # The tools really went into the prompt, counted exactly (no estimate).
    plain = await collect(local_tier, ChatRequest((Message("user", question),), max_tokens=1))
    assert not reply.usage.estimated
    assert reply.usage.input_tokens > plain.usage.input_tokens + 100
