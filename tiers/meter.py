"""The cost meter: every message's cost, the running cost of the reply in flight,
totals per tier, and what the same tokens would have cost on the reference model."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from .pricing import Cost, PriceBook

if TYPE_CHECKING:  # the cost bar is drawn without the tiers' types
    from .base import ChatRequest, Usage


@dataclass(frozen=True)
class MessageCost:
    tier: str
    kind: str
    provider: str
    model: str
    usage: Usage
    cost: Cost
    reference: Cost  # the same token counts on the reference model
    when: datetime
    busy_s: float = 0.0
    finish_reason: str = "stop"
    step_kind: str = ""  # an agent step's kind (plan, act, digest, answer); "" in chat

    @property
    def saved(self) -> Decimal | None:
        if self.cost.usd is None or self.reference.usd is None:
            return None
        return self.reference.usd - self.cost.usd


@dataclass(frozen=True)
class Totals:
    spent: Decimal
    saved: Decimal
    unknown: int  # messages whose price is unknown (not in ``spent``)
    estimated: bool  # some figure in ``spent`` is an estimate
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    per_tier: dict[str, Decimal]


class CostMeter:
    def __init__(self, book: PriceBook, reference_provider: str, reference_model: str) -> None:
        self.book = book
        self.reference_provider = reference_provider
        self.reference_model = reference_model
        self.records: list[MessageCost] = []

    def price(
        self,
        *,
        tier: str,
        kind: str,
        provider: str,
        model: str,
        usage: Usage,
        busy_s: float,
        finish_reason: str = "stop",
        when: datetime | None = None,
    ) -> MessageCost:
        when = when or datetime.now(UTC)
        cost = self.book.cost(
            kind=kind, provider=provider, model=model, usage=usage, when=when, busy_s=busy_s
        )
        reference = self.book.api_cost(
            self.reference_provider, self.reference_model, usage, when, not usage.estimated
        )
        return MessageCost(
            tier, kind, provider, model, usage, cost, reference, when, busy_s, finish_reason
        )

    def add(self, record: MessageCost) -> MessageCost:
        self.records.append(record)
        return record

    def estimate_live(
        self,
        *,
        tier: str,
        kind: str,
        provider: str,
        model: str,
        request: ChatRequest,
        chars: int,
        deltas: int,
        busy_s: float,
        usage: Usage | None = None,
    ) -> MessageCost:
        """The running cost of a reply still streaming, always marked as an estimate and
        kept at or below the final figure (see ``live_usage``). ``chars`` and
        ``deltas``: the reply's length so far and the pieces it came in."""
        from .base import live_usage

        counted = live_usage(request, chars, deltas, usage)
        if not counted.estimated:
            counted = replace(counted, estimated=True)
        return self.price(
            tier=tier,
            kind=kind,
            provider=provider,
            model=model,
            usage=counted,
            busy_s=busy_s,
            finish_reason="streaming",
        )

    def totals(self, extra: MessageCost | None = None) -> Totals:
        """Session totals; ``extra`` adds the reply in flight."""
        records = [*self.records, extra] if extra is not None else self.records
        spent = saved = Decimal(0)
        per_tier: dict[str, Decimal] = defaultdict(Decimal)
        unknown = 0
        estimated = False
        tokens_in = tokens_out = cached = 0
        for r in records:
            tokens_in += r.usage.input_tokens
            tokens_out += r.usage.output_tokens
            cached += r.usage.cached_input_tokens
            if r.cost.usd is None:
                unknown += 1
                continue
            spent += r.cost.usd
            per_tier[r.tier] += r.cost.usd
            estimated = estimated or not r.cost.exact
            if r.saved is not None:
                saved += r.saved
        return Totals(
            spent, saved, unknown, estimated, tokens_in, tokens_out, cached, dict(per_tier)
        )
