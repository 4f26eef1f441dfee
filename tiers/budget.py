"""Spending limits per session and per day. Paid rungs are not called past a limit."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .pricing import format_usd

WARN_AT = Decimal("0.8")
PAID_KINDS = ("api", "selfhosted")


@dataclass(frozen=True)
class BudgetState:
    level: str  # "ok", "warn", "over"
    message: str = ""

    @property
    def blocks_paid(self) -> bool:
        return self.level == "over"


@dataclass(frozen=True)
class Budget:
    session_usd: Decimal | None = None
    daily_usd: Decimal | None = None

    def check(self, session_spent: Decimal, today_spent: Decimal) -> BudgetState:
        worst = BudgetState("ok")
        for label, limit, spent in (
            ("session", self.session_usd, session_spent),
            ("daily", self.daily_usd, today_spent),
        ):
            if limit is None:
                continue
            if spent >= limit:
                return BudgetState(
                    "over",
                    f"The {label} budget of {format_usd(limit)} is reached "
                    f"({format_usd(spent)} spent). Paid rungs are paused: use the local rung, "
                    "or raise the limit in Settings.",
                )
            if spent >= limit * WARN_AT and worst.level == "ok":
                share = int(spent / limit * 100)
                worst = BudgetState(
                    "warn",
                    f"{share}% of the {label} budget used "
                    f"({format_usd(spent)} of {format_usd(limit)}).",
                )
        return worst
