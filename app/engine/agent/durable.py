"""An agent step's text so far, saved to its row while it streams (every
``DURABLE_INTERVAL_S``, as the chat saves its replies), so a kill -9 mid-step keeps
what had arrived, priced as an estimate; the step's end overwrites it."""

from __future__ import annotations

import asyncio
import time

from rung.engine.recorder import Handle
from rung.engine.session import DURABLE_INTERVAL_S, Session
from rung.tiers.base import ChatRequest, Event, TextDelta, Tier, Usage
from rung.tiers.turn import Turn


class StepSaver:
    def __init__(self, session: Session, tier: Tier, request: ChatRequest, handle: Handle) -> None:
        self.session, self.tier, self.request, self.handle = session, tier, request, handle
        self.turn: Turn | None = None
        self.chars = self.deltas = 0
        self.usage: Usage | None = None
        self.started = time.monotonic()

    def on_event(self, event: Event) -> None:
        """A Turn listener: counts what arrived (no I/O on the token path)."""
        if isinstance(event, TextDelta):
            self.chars += len(event.text)
            self.deltas += 1
        elif isinstance(event, Usage):
            self.usage = event

    async def run(self) -> None:
        """Until cancelled (the step ended): the text so far, once a second if it grew."""
        saved = 0
        while True:
            await asyncio.sleep(DURABLE_INTERVAL_S)
            if self.turn is None or self.chars == saved:
                continue
            saved = self.chars
            record = self.session.live_cost(
                self.tier, self.request, self.chars, self.deltas,
                time.monotonic() - self.started, self.usage,
            )  # fmt: skip
            self.session.update_reply(self.handle, self.turn.reply.text, record)
