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
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

from rung.engine.session import Session
from rung.tiers.base import Tier
from rung.tiers.budget import PAID_KINDS, BudgetState

BUDGET_REREAD_S = 5.0


class Spending:
    def __init__(self, session: Session, max_cost: Decimal | None = None) -> None:
        self.session = session
        self.max_cost = max_cost
        self._read_at = -BUDGET_REREAD_S  # the first step reads today's spend
        self._reread: asyncio.Future[bool] | None = None
        self.overshoot = ""  # what took the run past max_cost, once said

    def start(self) -> None:
        """A turn begins: today's spend as the history has it now."""
        self.session.refresh_today()
        self._read_at = time.monotonic()
        self.overshoot = ""

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
        pairs = [(spent + expected, self.max_cost), (spent, self.max_cost)]
        cost, nxt, limit = apart(spent, expected, self.max_cost, differ=pairs)
        nxt = f" and the next step ~{nxt}" if expected else ""
        return f"stopped before step {step}: this run cost {cost}{nxt}, over {limit}"

    def past_max_cost(
        self,
        spent: Decimal | None,
        step: int,
        kind: str,
        cost: Decimal | None,
        expected: Decimal | None,
    ) -> str | None:
        """Once per run: the step just priced took the run past ``max_cost`` (a forecast
        can be low; a digest is not forecast against it): said, never silent."""
        limit = self.max_cost
        if limit is None or spent is None or spent <= limit or self.overshoot:
            return None
        total, cap, paid, guess = apart(spent, limit, cost or Decimal(0), expected or Decimal(0),
                                        differ=[(spent, limit)])  # fmt: skip
        what = f"step {step}" + (f" ({kind})" if kind else "")
        estimate = f"its estimate ~{guess}" if expected else "its estimate"
        self.overshoot = (
            f"this run cost {total}, past --max-cost {cap}: {what} cost {paid}, more than "
            f"{estimate}"
        )
        return self.overshoot


MAX_DIGITS = 10


def apart(*amounts: Decimal, differ: Sequence[tuple[Decimal, Decimal]]) -> list[str]:
    """``amounts`` in dollars with as many decimals as it takes for each pair in
    ``differ`` that is not equal to read differently, and for no amount but zero to
    read as $0: "cost $0.0015 ... over $0.0015" says nothing; "$0.00149 ... over
    $0.0015" does. At least format_usd's 4 decimals (2 from a dollar up); trailing zeros
    dropped."""
    digits = 2 if max(abs(a) for a in amounts) >= 1 else 4
    while digits < MAX_DIGITS:
        q = Decimal(1).scaleb(-digits)

        def same(a: Decimal, b: Decimal, q: Decimal = q) -> bool:
            return a.quantize(q, ROUND_HALF_UP) == b.quantize(q, ROUND_HALF_UP)

        if all(a == 0 or not same(a, Decimal(0)) for a in amounts) and all(
            a == b or not same(a, b) for a, b in differ
        ):
            break
        digits += 1
    return [_dollars(a, digits) for a in amounts]


def _dollars(amount: Decimal, digits: int) -> str:
    if amount == 0:
        return "$0"
    text = f"{amount.quantize(Decimal(1).scaleb(-digits), ROUND_HALF_UP):,f}"
    if "." in text:
        whole, _, cents = text.partition(".")
        text = f"{whole}.{cents.rstrip('0').ljust(2, '0')}"
    return f"${text}"
