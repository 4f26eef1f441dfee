"""The always-visible cost line: session spend, savings, the reply in flight, tokens."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.widgets import Static

from rung.tiers.budget import BudgetState
from rung.tiers.pricing import format_usd, savings_text

if TYPE_CHECKING:
    from rung.tiers.meter import MessageCost, Totals


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
    CostBar { height: 1; width: 1fr; background: $panel-darken-1; color: $text; padding: 0 1; }
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
        self._parts = cost_parts(totals, reference_model, live)
        self.set_class(budget is not None and budget.level == "warn", "warn")
        self.set_class(budget is not None and budget.level == "over", "over")
        self._fit()

    def on_resize(self) -> None:
        self._fit()

    def _fit(self) -> None:
        width = self.content_size.width or self.size.width or 200
        # One line of fixed size, redrawn several times a second while a reply streams:
        # a repaint, not a re-layout of the whole screen.
        self.update(fit_line(getattr(self, "_parts", []), width), layout=False)


SEPARATOR = "  │  "


def cost_parts(
    totals: Totals, reference_model: str, live: MessageCost | None
) -> list[tuple[int, str, str]]:
    """(importance, full text, short text) of each item; 0 matters most."""
    spent = format_usd(totals.spent, totals.estimated)
    unpriced = f" (+{totals.unknown} unpriced)" if totals.unknown else ""
    parts = [(0, f"spent {spent}{unpriced}", f"{spent}{unpriced}")]
    reference = reference_model if len(reference_model) <= 24 else reference_model[:23] + "…"
    full = savings_text(totals.saved, reference)
    short = ("saved " if totals.saved >= 0 else "+") + format_usd(abs(totals.saved))
    parts.append((2, full, short if totals.saved >= 0 else f"cost {short[1:]} more"))
    if live is not None:
        now = format_usd(live.cost.usd, not live.cost.exact)
        parts.append((1, f"this reply {now}", f"reply {now}"))
    tokens = (
        f"in {short_count(totals.input_tokens)} · out {short_count(totals.output_tokens)}"
        f" · cached {short_count(totals.cached_tokens)}"
    )
    brief = f"{short_count(totals.input_tokens)}/{short_count(totals.output_tokens)} tok"
    parts.append((3, tokens, brief))
    if totals.per_tier:
        spend = sorted(totals.per_tier.items())
        per_tier = " · ".join(f"{t} {format_usd(v)}" for t, v in spend)
        parts.append((4, per_tier, per_tier))
    return parts


def fit_line(parts: list[tuple[int, str, str]], width: int) -> str:
    """The items in their order, as many as fit in ``width``, never cut off mid-item:
    from the least important up, each is first shortened, then dropped, until the rest
    fits; the most important item always stays."""
    chosen = {i: full for i, (_, full, _) in enumerate(parts)}

    def length() -> int:
        return sum(map(len, chosen.values())) + len(SEPARATOR) * max(0, len(chosen) - 1)

    for i in sorted(range(len(parts)), key=lambda i: parts[i][0], reverse=True):
        if length() <= width:
            break
        chosen[i] = parts[i][2]
        if length() > width and len(chosen) > 1:
            del chosen[i]
    return SEPARATOR.join(chosen[i] for i in sorted(chosen))
