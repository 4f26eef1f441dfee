"""The status and cost lines' state, a mixin of RungApp: which rung is active, pinned or
Auto (F2-F5, F8), each rung's last measured speed, the spend and budget, and what the
engine says about the reply in flight. The widgets watch the app's ``status`` and
``cost_view``; this module only sets them."""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from rung.engine.cost_label import spent_is_estimate
from rung.engine.safe_text import for_terminal
from rung.tui.app_engine import AUTO
from rung.tui.widgets.meter import CostView

if TYPE_CHECKING:
    from rung.engine.conversation import EngineEvent
    from rung.tiers.base import Tier
    from rung.tui.widgets.status import StatusView


class StatusHost:
    """Mixed into RungApp (before App): the state the status and cost lines show."""

    active_name: str
    status: StatusView
    cost_view: CostView | None

    def init_status(self) -> None:
        """Before the first frame: no reply in flight, no speed measured yet."""
        self._budget_level = "ok"
        self._routed_at = 0.0  # when the reply in flight was asked for
        self._first_text_at: float | None = None  # when its first text arrived
        # Each rung's last measured speed (tokens/s, time to first token), for the status.
        self._speeds: dict[str, tuple[float | None, float | None]] = {}

    @property
    def active_tier(self) -> Tier:
        return self.ladder.tier(self.active_name)

    @property
    def mode_label(self) -> str:
        return "Auto" if self.ladder.mode == AUTO else "Pinned"

    @property
    def names(self) -> list[str]:
        return list(self.ladder.names)

    def show_status(self, state: str | None = None, **changes: object) -> None:
        """Point the status line at the active rung; ``state`` and speed if given;
        ``tier`` and ``model`` in ``changes``: another rung's (an agent step's own)."""
        tier = self.active_tier
        fields: dict[str, object] = {"mode": self.mode_label, "tier": tier.name,
                                     "model": tier.model}  # fmt: skip
        if state is not None:
            fields["state"] = state
        self.status = dataclasses.replace(self.status, **{**fields, **changes})  # type: ignore[arg-type]

    def show_cost(self, live: object = None) -> None:
        meter = self.session.meter
        budget = self.session.budget_state(live)  # type: ignore[arg-type]
        totals = meter.totals(live)  # type: ignore[arg-type]
        # "~" on the line exactly when a figure in it is an estimate by the same rule as
        # the message header and F7 (GPU-time prices are estimates, see cost_label).
        records = [*meter.records, *([live] if live is not None else [])]
        estimated = spent_is_estimate(r.cost for r in records)  # type: ignore[attr-defined]
        totals = dataclasses.replace(totals, estimated=estimated)
        self.cost_view = CostView(totals, meter.reference_model, live, budget)  # type: ignore[arg-type]
        if budget.level != self._budget_level:
            self._budget_level = budget.level
            if budget.level in ("warn", "over"):
                from rung.tui.chat_agent_steps import free_tool_rung
                from rung.tui.chat_text import budget_words

                # The local rung is advised only when the ladder has one that can be used.
                words = budget_words(budget.message, free_tool_rung(self.ladder))
                self.notify(words, title="Budget", timeout=10,
                            severity="warning" if budget.level == "warn" else "error")  # fmt: skip

    def idle_state(self) -> str:
        tier = self.active_tier
        if tier.unusable_reason:
            return tier.unusable_reason
        if tier.needs_loading and not tier.ready:
            return "loading model"
        return "ready"

    def action_pin(self, position: int) -> None:
        names = self.ladder.names
        pinned = self.ladder.pin(position)
        if pinned is None:
            self.notify(
                f"The ladder has {len(names)} rung(s); add more under [ladder] rungs "
                "in Settings (F6).",
                severity="warning",
                markup=False,
            )
            return
        self.active_name = pinned
        self.session.note_pin(pinned)
        self.show_status(self.idle_state(), **self.speed_of(pinned))
        self.check_health()
        model = self.active_tier.model
        self.notify(f"Pinned to {pinned}" + (f" ({model})." if model else "."), markup=False)

    def action_toggle_auto(self) -> None:
        mode = self.ladder.toggle_auto(self.active_name)
        self.session.note_pin(None if mode == AUTO else mode)
        if mode == AUTO:
            self.notify("Auto on: each message goes to the cheapest rung that fits.")
        else:
            self.notify(f"Auto off: pinned to {mode}.", markup=False)
        self.show_status(**self.speed_of(self.active_name))

    def speed_of(self, name: str) -> dict[str, float | None]:
        """The status line's speed fields for rung ``name``: its own last reply's figures,
        never another rung's (a pin used to keep showing the previous rung's speed)."""
        tokens_per_s, ttft_s = self._speeds.get(name, (None, None))
        return {"tokens_per_s": tokens_per_s, "ttft_s": ttft_s}

    # -- what the engine says ---------------------------------------------------------
    def _on_engine_event(self, event: EngineEvent) -> None:
        from rung.engine.conversation import FallingBack, LiveCost, Recorded, Routed, StoreProblem
        from rung.tiers.base import Notice, TextDelta

        if isinstance(event, TextDelta):
            if self._first_text_at is None:
                self._first_text_at = time.monotonic()
            if self.status.state != "streaming":
                self.show_status("streaming")
            return
        match event:
            case Routed(tier=tier):
                # Time to first token is measured here, from the request to the first
                # text, the same way for a send, a regenerate and an escalation (a tier's
                # own figure said 0.00 s for an answer whose prompt was all cached).
                self._routed_at, self._first_text_at = time.monotonic(), None
                self.active_name = tier
                self.show_status("waiting for first token", tokens_per_s=None, ttft_s=None)
            case LiveCost(record=record):
                self.show_cost(record)
            case Notice(text=text):
                self.notify(for_terminal(text), title=self.active_name, markup=False)
            case FallingBack():
                self.notify(f"{event.notice}.", title="Fallback", severity="warning",
                            markup=False)  # fmt: skip
            case StoreProblem(message=message):
                self.notify(for_terminal(message), severity="warning", markup=False)
            case Recorded(reply=reply, last=last):
                finished = reply.finished
                word = "failed" if reply.failed else reply.finish_reason
                state = {"stop": "ready", "length": "ready"}.get(word, word)
                if last and reply.failed is not None:
                    self.notify(for_terminal(reply.failed.message), title=f"{event.tier} failed",
                                severity="error", markup=False)  # fmt: skip
                first = self._first_text_at
                ttft = first - self._routed_at if first is not None and finished else None
                self._speeds[event.tier] = (
                    finished.output_tokens_per_s if finished else None,
                    ttft,
                )
                if last and self.ladder.mode != AUTO:
                    self.active_name = self.ladder.mode  # the status shows the pin, not the detour
                self.show_status(state, **self.speed_of(self.active_name))
                self.show_cost()
