"""The always-visible cost line: session spend, savings, the reply in flight, tokens."""

from __future__ import annotations

from dataclasses import dataclass

from textual.widgets import Static

from rung.tiers.budget import BudgetState
from rung.tiers.meter import MessageCost, Totals
from rung.tiers.pricing import format_usd


def short_count(n: int) -> str:
    return f"{n / 1000:.1f}k" if n >= 1000 else str(n)


@dataclass(frozen=True)
class CostView:
    """What the cost line shows: the app replaces it whenever the money changes."""

    totals: Totals
    reference_model: str
    live: MessageCost | None = None
    budget: BudgetState | None = None


class CostBar(Static):
    DEFAULT_CSS = """
    CostBar { height: 1; background: $panel-darken-1; color: $text; padding: 0 1; }
    CostBar.warn { background: $warning-darken-2; }
    CostBar.over { background: $error-darken-2; }
    """

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", markup=False, **kwargs)  # type: ignore[arg-type]

    def show_view(self, view: CostView | None) -> None:
        if view is not None:
            self.show(view.totals, view.reference_model, view.live, view.budget)

    def show(
        self,
        totals: Totals,
        reference_model: str,
        live: MessageCost | None = None,
        budget: BudgetState | None = None,
    ) -> None:
        spent = format_usd(totals.spent, totals.estimated)
        parts = [f"spent {spent}"]
        if totals.unknown:
            parts[0] += f" (+{totals.unknown} unpriced)"
        parts.append(f"saved {format_usd(totals.saved)} vs {reference_model}")
        if live is not None:
            parts.append(f"this reply {format_usd(live.cost.usd, not live.cost.exact)}")
        parts.append(
            f"in {short_count(totals.input_tokens)} · out {short_count(totals.output_tokens)}"
            f" · cached {short_count(totals.cached_tokens)}"
        )
        if totals.per_tier:
            parts.append(
                " · ".join(f"{t} {format_usd(v)}" for t, v in sorted(totals.per_tier.items()))
            )
        self.set_class(budget is not None and budget.level == "warn", "warn")
        self.set_class(budget is not None and budget.level == "over", "over")
        self.update("  │  ".join(parts))
