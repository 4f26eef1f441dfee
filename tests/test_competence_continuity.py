"""Latency and continuity are costs too (issue 25, item 4): a warm conversation on a
paid rung is not dropped to the slow local model to save less than the setting, and
the measured local wait raises what a move must save."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from rung.tiers.base import ChatRequest, Message, Usage
from rung.tiers.pricing import PriceBook
from rung.tiers.route_cost import RouteContext
from rung.tiers.router import Rung, choose

WHEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BOOK = PriceBook()
LADDER = [
    Rung("local", "local", n_ctx=8192),
    Rung("deepseek", "api", provider="deepseek", model="deepseek-chat"),
]
# The last answer came from DeepSeek: a short conversation, nothing cached yet.
LAST = Usage(600, 200)


def chat(question: str) -> ChatRequest:
    messages = (
        Message("user", "Design a token bucket rate limiter in Go."),
        Message("assistant", "Keep a count per client and refill it on a timer..."),
        Message("user", question),
    )
    return ChatRequest(messages=messages, max_tokens=1024)


def ctx(**kw: object) -> RouteContext:
    return RouteContext("deepseek", LAST, 20.0, BOOK, WHEN, **kw)  # type: ignore[arg-type]


def test_a_warm_paid_conversation_stays_when_going_local_saves_a_fraction_of_a_cent() -> None:
    question = chat("thanks!")
    # Without the rule (as before): the thanks drops to the local model.
    assert choose(question, LADDER, 0.5, ctx()).tier == "local"
    kept = choose(question, LADDER, 0.5, ctx(min_saving_usd=Decimal("0.002")))
    assert kept.tier == "deepseek"
    assert kept.reason.startswith("kept on deepseek: local would save only ~$0.000")
    assert "(under $0.002" in kept.reason


def test_the_measured_local_wait_raises_the_saving_needed() -> None:
    question = chat("thanks!")
    # A setting so small that the saving clears it when the wait is not known...
    small = Decimal("0.00005")
    assert choose(question, LADDER, 0.5, ctx(min_saving_usd=small)).tier == "local"
    # ...but not when the local model measured 2 tokens/s: 100 s for a 200-token answer.
    slow = choose(question, LADDER, 0.5,
                  ctx(min_saving_usd=small, local_tokens_per_s=2.0))  # fmt: skip
    assert slow.tier == "deepseek" and "and take ~" in slow.reason


def test_a_conversation_that_started_local_is_not_held_anywhere() -> None:
    question = chat("thanks!")
    local_ctx = RouteContext("local", LAST, 20.0, BOOK, WHEN, min_saving_usd=Decimal("0.002"))
    assert choose(question, LADDER, 0.5, local_ctx).tier == "local"
