"""Money between an agent's steps: the session and daily budgets, and ``max_cost``
(`rung ask --agent --max-cost`). Checked before every step, never mid-edit.

Today's spend (all processes) is re-read from the history at most every
``BUDGET_REREAD_S``; between reads, this turn's steps are added to the figure read. A
re-read waits for the history's writes, so that wait runs on a thread while the
step's tools run (``reread_soon``) and the read itself (SQLite: this thread's
connection) follows in ``budget``.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from rung.engine.session import Session
from rung.tiers.base import Tier
from rung.tiers.budget import PAID_KINDS, BudgetState
from rung.tiers.pricing import format_usd

BUDGET_REREAD_S = 5.0


class Spending:
    def __init__(self, session: Session, max_cost: Decimal | None = None) -> None:
        self.session = session
        self.max_cost = max_cost
        self._read_at = -BUDGET_REREAD_S  # the first step reads today's spend
        self._reread: asyncio.Future[bool] | None = None

    def start(self) -> None:
        """A turn begins: today's spend as the history has it now."""
        self.session.refresh_today()
        self._read_at = time.monotonic()

    async def budget(self) -> BudgetState:
        """The budget's say before a step."""
        if self._reread is not None:
            flushed, self._reread = self._reread, None
            await flushed
            self.session.refresh_today()  # the history's writes are done: a quick read
        elif time.monotonic() - self._read_at >= BUDGET_REREAD_S:
            self.session.refresh_today()
            self._read_at = time.monotonic()
        return self.session.budget_state_since_refresh()

    def reread_soon(self, tier: Tier) -> None:
        """When a re-read is due (and the rung is paid), start waiting for the history's
        writes on a thread, while the step's tools run."""
        recorder = self.session.recorder
        if tier.kind not in PAID_KINDS or self._reread is not None or recorder is None:
            return
        now = time.monotonic()
        if now - self._read_at >= BUDGET_REREAD_S:
            self._read_at = now
            self._reread = asyncio.ensure_future(asyncio.to_thread(recorder.flush, 0.5))

    def over_max_cost(
        self, tier: Tier, spent: Decimal, expected: Decimal | None, step: int
    ) -> str | None:
        """Why the run stops before paid step ``step`` (``max_cost``), or None."""
        if self.max_cost is None or tier.kind not in PAID_KINDS:
            return None
        expected = expected or Decimal(0)
        if spent + expected <= self.max_cost:
            return None
        nxt = f" and the next step ~{format_usd(expected, True)}" if expected else ""
        limit = format_usd(self.max_cost)
        return f"stopped before step {step}: this run cost {format_usd(spent)}{nxt}, over {limit}"
