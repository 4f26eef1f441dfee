"""What an agent run would have cost all on the premium rung: the what-if the views
show beside the real cost ("this run $0.41; all on claude-opus-4-7 $1.73").

Each step's prompt and answer are re-priced on the premium model with the cache it
would have had: a run that never changes rung reads the previous step's prompt from
the cache (the transcript is append-only), priced exactly as the router prices a
step (``route_cost.next_usage``). A digest (compaction's summary) is a fresh prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from rung.engine.agent.events import StepPriced
from rung.tiers.pricing import PriceBook, format_usd
from rung.tiers.route_cost import cache_minimum, expected_cost, next_usage
from rung.tiers.router import Rung


def premium_rung(rungs: Sequence[Rung]) -> Rung | None:
    """The ladder's top paid rung with a known model (the what-if's reference)."""
    for rung in reversed(rungs):
        if rung.kind == "api" and rung.model:
            return rung
    return None


def all_on(steps: Sequence[StepPriced], rung: Rung, prices: PriceBook) -> Decimal | None:
    """The run's steps priced on ``rung`` (None when its price is unknown)."""
    total = Decimal(0)
    previous = 0  # the last tool step's prompt: what the cache would hold
    floor = cache_minimum(rung.provider, rung.model)
    for step in steps:
        prompt, output = step.usage.input_tokens, step.usage.output_tokens
        digest = step.kind == "digest"
        warm = 0 if digest or previous < floor else previous
        usage = next_usage(rung.provider, prompt, output, min(warm, prompt), rung.model)
        cost = expected_cost(rung.kind, rung.provider, rung.model, usage, prices)
        if cost is None:
            return None
        total += cost
        if not digest:
            previous = prompt
    return total


def whatif_line(spent: Decimal | None, premium: Decimal | None, model: str) -> str:
    """ "this run $0.41; all on claude-opus-4-7 $1.73" ("" when either is unknown)."""
    if spent is None or premium is None or not model:
        return ""
    return f"this run {format_usd(spent)}; all on {model} {format_usd(premium, True)}"
