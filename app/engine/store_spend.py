"""What has been spent, from the history: by rung and model since a moment (chat replies
and `rung compare` runs alike), and the local day and week the budgets count from.

Its queries are mixed into ``Store`` (store.py), which opens and writes the file.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from rung.engine.cost_label import TIME_PRICED


@dataclass(frozen=True)
class SpendRow:
    tier: str
    model: str
    usd: Decimal
    messages: int
    unknown: int
    estimated: int


class SpendReads:
    """Money spent, by rung and model: mixed into Store, which opens ``db``."""

    db: sqlite3.Connection

    def spend(self, since: datetime | None = None) -> list[SpendRow]:
        """Spend by tier and model since a moment (all time when None)."""
        # A price from measured time at an hourly rate counts as an estimate, as the chat
        # screen labels it (engine/cost_label.py).
        timed = ", ".join("?" * len(TIME_PRICED))
        query = (
            f"SELECT tier, model, cost_usd, estimated OR price_basis IN ({timed})"
            " FROM messages WHERE role = 'assistant'"
        )
        since_args: tuple[str, ...] = ()
        if since is not None:
            query += " AND created_at >= ?"
            since_args = (since.astimezone(UTC).isoformat(),)
        groups: dict[tuple[str, str], list[int | Decimal]] = defaultdict(
            lambda: [Decimal(0), 0, 0, 0]
        )

        def count(
            tier: str | None, model: str | None, cost: str | None, estimated: int | None
        ) -> Decimal:
            """One reply or answer on its rung and model's row; what it cost (0: unknown)."""
            g = groups[(tier or "?", model or "?")]
            g[1] += 1
            g[3] += int(bool(estimated))
            if cost is None:
                g[2] += 1
                return Decimal(0)
            g[0] += Decimal(cost)
            return Decimal(cost)

        for row in self.db.execute(query, (*TIME_PRICED, *since_args)):
            count(*row)
        # `rung compare` pays for its answers and verdicts too: they count against the
        # budgets and in `rung cost` (each answer under its rung; the judges' verdicts,
        # the rest of a run's total, under "compare (judges)").
        runs = "SELECT id, total_usd FROM compare_runs"
        if since is not None:
            runs += " WHERE created_at >= ?"
        for run_id, total in self.db.execute(runs, since_args).fetchall():
            answers = Decimal(0)
            for row in self.db.execute(
                """SELECT rung, model, cost_usd, estimated FROM compare_cells
                   WHERE run_id = ? AND skipped IS NULL""",
                (run_id,),
            ):
                answers += count(*row)
            verdicts = Decimal(total) - answers
            if verdicts > 0:
                g = groups[("compare", "(judges)")]
                g[0] += verdicts
                g[1] += 1
        return [
            SpendRow(tier, model, Decimal(g[0]), int(g[1]), int(g[2]), int(g[3]))
            for (tier, model), g in sorted(groups.items())
        ]

    def spent_since(self, since: datetime) -> Decimal:
        return sum((row.usd for row in self.spend(since)), Decimal(0))


def start_of_today(now: datetime | None = None) -> datetime:
    """Local midnight: a "day" budget follows the user's clock."""
    now = (now or datetime.now().astimezone()).astimezone()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def start_of_week(now: datetime | None = None) -> datetime:
    today = start_of_today(now)
    return today - timedelta(days=today.weekday())
