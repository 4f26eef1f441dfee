"""The cost detail screen: every message of the session with its tokens and cost."""

from __future__ import annotations

from decimal import Decimal

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from rung.engine.cost_label import figure, money, spent_is_estimate
from rung.tiers.meter import CostMeter, MessageCost
from rung.tiers.pricing import format_usd, savings_text
from rung.tui.widgets.status import short_model

MODEL_COLUMN = 32
# How each reply ended, as the table says it.
ENDED = {"stop": "done", "length": "token limit", "error": "failed"}


STEP_ORDER = ("plan", "act", "digest", "answer")


def step_summary(meter: CostMeter) -> str:
    """Agent steps by kind: "Agent steps  plan 2 $0.0141 · act 15 $0.0049 (deepseek 15)"."""
    kinds: dict[str, list[MessageCost]] = {}
    for r in meter.records:
        if r.step_kind:
            kinds.setdefault(r.step_kind, []).append(r)
    parts = []
    order = [k for k in STEP_ORDER if k in kinds] + sorted(set(kinds) - set(STEP_ORDER))
    for kind in order:
        records = kinds[kind]
        known = [r.cost.usd for r in records if r.cost.usd is not None]
        estimated = spent_is_estimate(r.cost for r in records)
        total = format_usd(sum(known, Decimal(0)), estimated) if known else "price unknown"
        rungs: dict[str, int] = {}
        for r in records:
            rungs[r.tier] = rungs.get(r.tier, 0) + 1
        where = ", ".join(f"{t} {n}" for t, n in rungs.items())
        parts.append(f"{kind} {len(records)} {total} ({where})")
    return "Agent steps  " + " · ".join(parts) if parts else ""


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
        estimated = spent_is_estimate(r.cost for r in self.meter.records)
        with Vertical():
            summary = (
                f"Session cost  {format_usd(totals.spent, estimated)} spent, "
                f"{savings_text(totals.saved, self.meter.reference_model)}"
                + (f", {totals.unknown} message(s) with unknown price" if totals.unknown else "")
            )
            yield Static(summary, markup=False)
            steps = step_summary(self.meter)
            if steps:
                yield Static(steps, markup=False, id="cost-steps")
            table: DataTable[str] = DataTable(zebra_stripes=True, cursor_type="row")
            # At 80 columns the time and the cache columns give way, and the model id is
            # shortened: every reply's rung, tokens, cost, figure and ending stay visible.
            wide = self.app.size.width >= 120
            columns = ["#", "time", "tier", "model", "in", "out", "cached", "cost", "figure",
                       "saved", "ended"]  # fmt: skip
            if not wide:
                columns = ["#", "tier", "model", "in", "out", "cost", "figure", "ended"]
            if any(r.step_kind for r in self.meter.records):
                columns.insert(columns.index("tier"), "step")
            table.add_columns(*columns)
            for i, r in enumerate(self.meter.records, start=1):
                # The same words as the message header and the cost line (cost_label).
                kind = figure(r.cost.usd, r.cost.exact, r.cost.basis, short=not wide)
                if r.cost.note and wide:
                    kind += f" ({r.cost.note})"
                cells = {
                    "#": str(i),
                    "step": r.step_kind or "chat",
                    "time": r.when.astimezone().strftime("%H:%M:%S"),
                    "tier": r.tier,
                    # A server may name its model with a whole path: keep it legible.
                    "model": short_model(r.model, MODEL_COLUMN if wide else 24),
                    "in": f"{r.usage.input_tokens:,}",
                    "out": f"{r.usage.output_tokens:,}",
                    "cached": f"{r.usage.cached_input_tokens:,}",
                    "cost": money(r.cost.usd, r.cost.exact, r.cost.basis),
                    "figure": kind,
                    "saved": format_usd(r.saved) if r.saved is not None else "-",
                    "ended": ENDED.get(r.finish_reason, r.finish_reason),
                }
                table.add_row(*(cells[c] for c in columns))
            yield table
            yield Static("Esc closes. `rung cost` shows today, this week and all time.")
