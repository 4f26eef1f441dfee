"""What the agent loop tells its views, besides the tier's own events (TextDelta, Usage,
Notice, Finished, Failed, which pass through unchanged within each step).

One family, like the conversation engine's: a view matches on the types it shows and
ignores the rest. Every text here that came from outside Rung (a summary, a tool's
output) was sanitised by the dispatcher; the model's text is sanitised by the view.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rung.tiers.base import Usage


@dataclass(frozen=True)
class StepStarted:
    """A request goes out: step ``step`` (1-based) of the turn, on rung ``rung``.
    ``kind``: the step kind it was routed as ("plan", "act", "digest", "answer"; empty
    when not routed per step); ``reason``: why this rung, one line (empty: the turn's)."""

    step: int
    rung: str
    model: str
    kind: str = ""
    reason: str = ""
    # The context meter: the request's size (tokens, estimated before it is sent) and
    # the window of the rung taking it (None: not known).
    context_tokens: int = 0
    context_window: int | None = None


@dataclass(frozen=True)
class ToolCallStarted:
    call_id: str
    tool: str
    summary: str  # the call as the model asked it (its name and raw arguments, one line)


@dataclass(frozen=True)
class ToolCallFinished:
    call_id: str
    tool: str
    summary: str  # one line: `read app/x.py 1-120`, `run pytest -q → exit 1, 3 failed`
    is_error: bool
    text: str  # what the model is told (sanitised and bounded by the dispatcher)


@dataclass(frozen=True)
class StepPriced:
    """A step ended and was priced and recorded; ``cost`` None: its price is unknown."""

    step: int
    rung: str
    model: str
    cost: Decimal | None
    usage: Usage
    estimated: bool
    finish_reason: str
    kind: str = ""  # the step kind, as StepStarted's


@dataclass(frozen=True)
class Compacted:
    """Older steps were condensed before step ``step`` (the transcript neared the
    context window): sizes in tokens (estimated), the digest's rung and price."""

    step: int
    before_tokens: int
    after_tokens: int
    window: int
    rung: str  # the rung that wrote the summary ("" when a mechanical one stood in)
    cost: Decimal | None
    condensed: int  # messages condensed


@dataclass(frozen=True)
class AgentDone:
    """The turn is over. ``reason``: "answered" (a reply without calls), "max_steps",
    "failed" (a step failed: ``message`` says how), "cancelled", "budget"."""

    reason: str
    steps: int
    cost: Decimal | None  # None when a step's price is unknown
    message: str = ""
    # The what-if: the same steps all on the ladder's premium rung (run_cost.py).
    premium_usd: Decimal | None = None
    premium_model: str = ""


AgentEvent = StepStarted | ToolCallStarted | ToolCallFinished | StepPriced | Compacted | AgentDone
