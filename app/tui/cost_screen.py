"""The cost detail screen: every message of the session with its tokens and cost."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from rung.tiers.meter import CostMeter
from rung.tiers.pricing import format_usd


class CostScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    CostScreen { align: center middle; }
    CostScreen > Vertical { width: 95%; height: 85%; border: round $accent;
        background: $surface; padding: 0 1; }
    CostScreen DataTable { height: 1fr; }
    """
    BINDINGS = [Binding("escape,f7,q", "dismiss", "Close", id="close-cost")]

    def __init__(self, meter: CostMeter) -> None:
        super().__init__()
        self.meter = meter

    def compose(self) -> ComposeResult:
        totals = self.meter.totals()
        with Vertical():
            yield Static(
                f"[b]Session cost[/b]  {format_usd(totals.spent, totals.estimated)} spent, "
                f"{format_usd(totals.saved)} saved vs {self.meter.reference_model}"
                + (f", {totals.unknown} message(s) with unknown price" if totals.unknown else "")
            )
            table: DataTable[str] = DataTable(zebra_stripes=True, cursor_type="row")
            table.add_columns(
                "#", "time", "tier", "model", "in", "out", "cached", "cost", "figure", "saved"
            )
            for i, r in enumerate(self.meter.records, start=1):
                figure = (
                    "unknown price"
                    if r.cost.usd is None
                    else ("exact" if r.cost.exact else "estimated")
                )
                if r.cost.note:
                    figure += f" ({r.cost.note})"
                table.add_row(
                    str(i),
                    r.when.astimezone().strftime("%H:%M:%S"),
                    r.tier,
                    r.model,
                    f"{r.usage.input_tokens:,}",
                    f"{r.usage.output_tokens:,}",
                    f"{r.usage.cached_input_tokens:,}",
                    format_usd(r.cost.usd),
                    figure,
                    format_usd(r.saved) if r.saved is not None else "-",
                )
            yield table
            yield Static("Esc closes. `rung cost` shows today, this week and all time.")
