"""A step's priced event, and the usage of a step cut short before its provider said
one, for the agent loop (loop.py)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from rung.engine.agent.events import StepPriced

if TYPE_CHECKING:
    from rung.engine.agent.step_router import StepRouter
    from rung.tiers.base import ChatRequest, Tier, ToolSpec, Usage
    from rung.tiers.meter import MessageCost
    from rung.tiers.turn import Turn


def priced_step(step: int, tier: Tier, record: MessageCost, kind: str) -> StepPriced:
    return StepPriced(
        step, tier.name, record.model, record.cost.usd, record.usage,
        not record.cost.exact, record.finish_reason, kind,
    )  # fmt: skip


def interrupted_usage(
    router: StepRouter,
    specs: tuple[ToolSpec, ...],
    tier: Tier,
    request: ChatRequest,
    turn: Turn,
) -> Usage | None:
    """An interrupted step's usage when its tier said none: the same knowledge the
    step's forecast had (the last reported prompt plus what was added; cached as the
    rung's cache held), with what arrived as its output. A digest's request (not the
    transcript, no tools) keeps its own estimate: None."""
    if turn.usage_reported or request.tools != specs:
        return None
    guess = turn.estimate()
    tokens = max(guess.input_tokens, router.tokens(request))
    usage = router.expected_usage(tier.name, tokens, guess.output_tokens)
    return None if usage is None else replace(usage, estimated=True)
