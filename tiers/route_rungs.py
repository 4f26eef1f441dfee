"""What staying on or moving between rungs costs for one conversation, for the router:
which rungs the conversation still fits, the warm cache that can make staying cheaper,
the cheaper rung a climb passed over, and continuity (a warm paid conversation is not
dropped to the slow local model to save a fraction of a cent). Split from router.py.
Pure: prices come in through the RouteContext, no I/O.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING

from .base import ChatRequest, Usage
from .budget import PAID_KINDS
from .pricing import format_usd
from .route_cost import (
    OUTPUT_ROOM,
    RouteContext,
    continuity_bar,
    expected_cost,
    local_wait_s,
    next_usage,
    output_tokens,
    tokens_text,
    warm_tokens,
)

if TYPE_CHECKING:  # the router imports this module: its rung type is for hints only
    from .router import Rung


def fitting(rung: Rung, tokens: int) -> Rung:
    """The rung, marked unusable when the conversation no longer fits its context."""
    if rung.usable and rung.n_ctx and tokens + OUTPUT_ROOM > rung.n_ctx:
        why = f"~{tokens_text(tokens)} tokens, over its {rung.n_ctx:,}-token context"
        return replace(rung, usable=False, why_not=why)
    return rung


def rung_cost(rung: Rung, usage: Usage, context: RouteContext) -> Decimal | None:
    assert context.prices is not None
    return expected_cost(rung.kind, rung.provider, rung.model, usage, context.prices,
                         context.when)  # fmt: skip


def warm_choice(
    request: ChatRequest,
    fitted: list[Rung],
    target: int,
    picked: int,
    tokens: int,
    context: RouteContext | None,
) -> tuple[int, int, Decimal, Decimal] | None:
    """(rung, tokens cached, cost there, cost on ``picked``) when the rung that answered
    last is able, above ``picked`` and warm, and both costs are known."""
    if context is None or context.prices is None or picked < target:
        return None
    last = next((i for i, r in enumerate(fitted) if r.name == context.last_tier), None)
    if last is None or last <= picked or not fitted[last].usable:
        return None
    here, there = fitted[last], fitted[picked]
    warm = min(warm_tokens(here.name, here.provider, context, here.model), tokens)
    if not warm:
        return None
    out = output_tokens(request, context)
    stay = rung_cost(here, next_usage(here.provider, tokens, out, warm, here.model), context)
    move = rung_cost(there, next_usage(there.provider, tokens, out, 0, there.model), context)
    if stay is None or move is None:
        return None
    return last, warm, stay, move


def continuity(
    request: ChatRequest,
    fitted: list[Rung],
    picked: int,
    tokens: int,
    context: RouteContext | None,
) -> tuple[int, Decimal, Decimal, float | None] | None:
    """(the paid rung that answered last, the saving, the saving needed, the local wait)
    when dropping the conversation from it to the local model saves too little."""
    if context is None or context.prices is None or context.min_saving_usd is None:
        return None
    if fitted[picked].kind != "local":
        return None
    last = next((i for i, r in enumerate(fitted) if r.name == context.last_tier), None)
    if last is None or last <= picked or not fitted[last].usable:
        return None
    here = fitted[last]
    if here.kind not in PAID_KINDS:
        return None
    out = output_tokens(request, context)
    warm = min(warm_tokens(here.name, here.provider, context, here.model), tokens)
    stay = rung_cost(here, next_usage(here.provider, tokens, out, warm, here.model), context)
    move = rung_cost(fitted[picked], next_usage("", tokens, out, 0), context)
    if stay is None or move is None:
        return None
    wait = local_wait_s(tokens, out, context)
    need = continuity_bar(context.min_saving_usd, wait)
    saving = stay - move
    return (last, saving, need, wait) if saving < need else None


def passed_over(
    request: ChatRequest,
    fitted: list[Rung],
    target: int,
    picked: int,
    tokens: int,
    context: RouteContext | None,
) -> str:
    """What the nearest cheaper rung would have cost, when the router climbed past it
    to a paid rung ("local would have been free", "deepseek would have cost ~$0.0004")."""
    if context is None or context.prices is None or fitted[picked].kind not in PAID_KINDS:
        return ""
    below = next((i for i in range(min(target, picked) - 1, -1, -1) if fitted[i].usable), None)
    if below is None:
        return ""
    rung = fitted[below]
    warm = min(warm_tokens(rung.name, rung.provider, context, rung.model), tokens)
    cost = rung_cost(rung, next_usage(rung.provider, tokens, output_tokens(request, context), warm,
                                     rung.model),
                 context)  # fmt: skip
    if cost is None:
        return ""
    if cost == 0:
        return f"{rung.name} would have been free"
    return f"{rung.name} would have cost {format_usd(cost, True)}"
