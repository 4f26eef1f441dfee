"""One prompt on one rung, as a result: what the rung answered, its tokens, price and
timings, and the verdict of each check. Plain data: the run fills it, the report and
the stored form read it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only for the hint: the answer module pulls in tiers and the session
    from rung.engine.compare_answer import Answered


@dataclass
class CheckResult:
    kind: str
    passed: bool | None  # None: not decided (a judge that said neither, or was skipped)
    detail: str = ""
    # A judge's own reply, priced: counted apart from the rung it judged.
    judge: str = ""
    judged: bool = False  # the judge was asked (and paid), whatever it answered
    cost_usd: Decimal | None = None
    cost_exact: bool = True


@dataclass
class Cell:
    """One prompt on one rung."""

    prompt: int
    rung: str
    model: str = ""
    text: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    usage_estimated: bool = False
    cost_usd: Decimal | None = None
    cost_exact: bool = True
    price_basis: str = ""
    ttft_s: float | None = None
    tokens_per_s: float | None = None
    duration_s: float = 0.0
    finish_reason: str = ""  # stop, length, error, cancelled, interrupted; "" = not run
    error: str | None = None
    skipped: str | None = None  # why the cell was not run
    checks: list[CheckResult] = field(default_factory=list)

    @property
    def ran(self) -> bool:
        return self.skipped is None and bool(self.finish_reason)

    @property
    def passed(self) -> bool | None:
        """All checks passed (None: no checks, or one could not be decided)."""
        if not self.checks:
            return None
        verdicts = [c.passed for c in self.checks]
        if False in verdicts:
            return False
        return None if None in verdicts else True

    def fill(self, answered: Answered) -> None:
        reply, record = answered.reply, answered.record
        self.model = answered.model
        self.text = reply.text
        u = reply.usage
        self.input_tokens, self.output_tokens = u.input_tokens, u.output_tokens
        self.cached_input_tokens = u.cached_input_tokens
        self.usage_estimated = u.estimated
        self.cost_usd, self.cost_exact = record.cost.usd, record.cost.exact
        self.price_basis = record.cost.basis
        self.ttft_s, self.tokens_per_s = answered.ttft_s, answered.tokens_per_s
        self.duration_s = answered.duration_s
        self.finish_reason = record.finish_reason
        self.error = reply.failed.message if reply.failed else None
