"""How an agent turn ended (``Agent.run``'s value), for the views' summaries."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from rung.engine.agent.events import StepPriced, ToolCallFinished
from rung.tiers.base import Reply


@dataclass
class AgentResult:
    """How a turn ended, for a headless view's summary."""

    reason: str  # as AgentDone.reason
    text: str = ""  # the final answer (the last step's text)
    message: str = ""  # why it stopped, when it did not answer
    tier: str = ""
    model: str = ""
    steps: list[StepPriced] = field(default_factory=list)
    tools: list[ToolCallFinished] = field(default_factory=list)
    last: Reply | None = None
    premium_usd: Decimal | None = None  # the what-if: all steps on the premium rung
    premium_model: str = ""

    @property
    def cost(self) -> Decimal | None:
        costs = [s.cost for s in self.steps]
        return None if any(c is None for c in costs) else sum((c for c in costs if c), Decimal(0))
