"""One answer from one rung, timed (time to first token, tokens/s) and priced exactly
as the chat prices it. `rung compare` runs every cell through it; the compare screen
streams through it too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass

from rung.engine.session import Session
from rung.engine.store import INTERRUPTED
from rung.tiers.base import ChatRequest, Event, Reply, TextDelta, Tier, Usage
from rung.tiers.meter import MessageCost
from rung.tiers.turn import Listener, Turn


@dataclass
class Answered:
    reply: Reply
    record: MessageCost
    model: str
    ttft_s: float | None
    tokens_per_s: float | None
    duration_s: float


class LiveAnswer:
    """One answer from one rung: streamed to listeners, timed from the request going out,
    priced like the chat prices a reply. ``cancel()`` stops it (what arrived is kept and
    priced); cancelling the task that awaits ``run()`` prices what arrived as
    interrupted (``answered``) and lets the cancel go on."""

    def __init__(
        self,
        tier: Tier,
        request: ChatRequest,
        session: Session,
        listeners: Iterable[Listener] = (),
    ) -> None:
        self.tier = tier
        self.request = request
        self.session = session
        self.turn = Turn(tier, request, [self._observe, *listeners])
        self.started = time.monotonic()
        self.first_at: float | None = None
        self.chars = self.deltas = 0
        self.reported: Usage | None = None
        self.answered: Answered | None = None

    def _observe(self, event: Event) -> None:
        if isinstance(event, TextDelta):
            if self.first_at is None:
                self.first_at = time.monotonic()
            self.chars += len(event.text)
            self.deltas += 1
        elif isinstance(event, Usage):
            self.reported = event

    def live_cost(self) -> MessageCost:
        """The running cost, an estimate that only converges upward (as in the chat)."""
        return self.session.live_cost(
            self.tier,
            self.request,
            self.chars,
            self.deltas,
            time.monotonic() - self.started,
            self.reported,
        )

    @property
    def live_tokens_per_s(self) -> float | None:
        """Output speed so far: the provider's running count, or one token a piece."""
        if self.first_at is None:
            return None
        elapsed = time.monotonic() - self.first_at
        tokens = self.reported.output_tokens if self.reported else self.deltas
        return tokens / elapsed if elapsed > 0.05 and tokens else None

    @property
    def ttft_s(self) -> float | None:
        return None if self.first_at is None else self.first_at - self.started

    async def run(self) -> Answered:
        self.started = time.monotonic()
        try:
            reply = await self.turn.run()
        except asyncio.CancelledError:
            reply = self.turn.reply
            if not self.turn.usage_reported:
                reply.usage = self.turn.estimate()
            self.answered = self._answered(reply, INTERRUPTED)
            raise
        self.answered = self._answered(reply)
        return self.answered

    def cancel(self) -> None:
        self.turn.cancel()

    def _answered(self, reply: Reply, finish_reason: str | None = None) -> Answered:
        ended = time.monotonic()
        record = self.session.price(self.tier, reply, finish_reason)
        finished = reply.finished
        ttft = finished.time_to_first_token_s if finished else None
        speed = finished.output_tokens_per_s if finished else None
        if ttft is None:
            ttft = self.ttft_s
        if speed is None and self.first_at is not None and ended - self.first_at > 0:
            out = reply.usage.output_tokens
            speed = out / (ended - self.first_at) if out else None
        duration = reply.duration_s or (ended - self.started)
        model = finished.model if finished and finished.model else self.tier.model
        return Answered(reply, record, model, ttft, speed, duration)
