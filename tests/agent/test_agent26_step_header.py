"""A step routed on its own (per-step routing) says its kind and why its rung, in the
chat's step header and in `rung ask --agent --stream-json`'s events; a step that was
not routed on its own keeps the plain header."""

from __future__ import annotations

import json
from decimal import Decimal

from rung.cli.agent_ask import step_json, stream_event
from rung.engine.agent.events import StepPriced, StepStarted
from rung.tiers.base import Usage
from rung.tui.chat_agent import step_header

ROUTED = StepStarted(3, "deepseek", "deepseek-chat", "act", "cheapest rung that calls tools well")


def test_the_step_header_says_the_kind_and_why_its_rung() -> None:
    assert step_header(ROUTED) == (
        "deepseek · deepseek-chat — agent step 3 · act — cheapest rung that calls tools well"
    )
    priced = StepPriced(3, "deepseek", "deepseek-chat", Decimal("0.0004"), Usage(1200, 40),
                        False, "tool_calls", "act")  # fmt: skip
    shown = step_header(priced, "1,200 in / 40 out · $0.0004", ROUTED.reason)
    assert shown.endswith("agent step 3 · act — cheapest rung that calls tools well")
    assert "1,200 in / 40 out" in shown


def test_an_unrouted_step_keeps_the_plain_header_and_a_hostile_reason_is_made_safe() -> None:
    assert step_header(StepStarted(1, "openai", "gpt")) == "openai · gpt — agent step 1"
    hostile = StepStarted(2, "openai", "gpt", "plan", "why\x1b[2J\nnext line")
    assert "\x1b" not in step_header(hostile) and "\n" not in step_header(hostile)


def test_stream_json_events_carry_the_kind_and_the_reason() -> None:
    start = stream_event(ROUTED)
    assert start is not None
    assert start["kind"] == "act" and start["reason"] == "cheapest rung that calls tools well"
    priced = StepPriced(3, "deepseek", "m", None, Usage(1, 1), True, "stop", "answer")
    end = stream_event(priced)
    assert end is not None and end["kind"] == "answer" and step_json(priced)["kind"] == "answer"
    json.dumps(end)
