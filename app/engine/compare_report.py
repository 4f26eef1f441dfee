"""A comparison run as data: what was asked, every cell, the summary per rung and what
Auto routing would have cost. No printing here: app/cli/compare_text.py formats it; its
JSON is compare_report_json.py, its stored form compare_report_rows.py.

Money is Decimal throughout; a price that is unknown stays unknown (counted apart,
never added as $0).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rung.engine.compare import Route
from rung.engine.compare_cell import Cell
from rung.engine.compare_prompts import ComparePrompt

THOUSAND = Decimal(1000)


def usd_text(value: Decimal | None) -> str | None:
    """A price as its exact decimal string, None when unknown (JSON and stored rows)."""
    return None if value is None else str(value)


@dataclass(frozen=True)
class RungInfo:
    name: str
    kind: str
    provider: str
    model: str


@dataclass
class CompareReport:
    rungs: list[RungInfo]
    prompts: list[ComparePrompt]
    routes: list[Route]
    cells: list[Cell]
    source: str
    status: str
    max_tokens: int
    concurrency: int
    quality: float
    max_cost: Decimal | None = None
    estimate: Decimal | None = None
    created_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())
    id: int | None = None

    def cell(self, prompt: int, rung: str) -> Cell | None:
        for c in self.cells:
            if c.prompt == prompt and c.rung == rung:
                return c
        return None

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.rungs]


# -- the summary -----------------------------------------------------------------------
@dataclass
class Money:
    """A sum of prices: the known part, how many were unknown, whether any was estimated."""

    usd: Decimal = Decimal(0)
    unknown: int = 0
    estimated: bool = False
    count: int = 0

    def add(self, usd: Decimal | None, exact: bool = True) -> None:
        self.count += 1
        if usd is None:
            self.unknown += 1
        else:
            self.usd += usd
            self.estimated = self.estimated or not exact

    @property
    def known(self) -> bool:
        """Every price in the sum is known (an empty sum is known: $0)."""
        return self.unknown == 0

    def as_json(self) -> dict[str, Any]:
        return {
            "usd": str(self.usd) if self.known or self.unknown < self.count else None,
            "unknown": self.unknown,
            "estimated": self.estimated,
        }


@dataclass
class RungSummary:
    rung: str
    model: str
    cells: int
    answered: int
    errors: int
    skipped: int
    cost: Money
    output_tokens: int
    median_ttft_s: float | None
    median_tokens_per_s: float | None
    passed: int
    checked: int

    @property
    def mean_usd(self) -> Decimal | None:
        priced = self.cost.count - self.cost.unknown
        return self.cost.usd / priced if priced else None

    @property
    def usd_per_1k_output(self) -> Decimal | None:
        if not self.output_tokens or self.cost.count == self.cost.unknown:
            return None
        return self.cost.usd * THOUSAND / self.output_tokens

    @property
    def pass_rate(self) -> float | None:
        return self.passed / self.checked if self.checked else None


@dataclass
class AutoMix:
    """Auto routing's choice per prompt, priced from the cells, against sending every
    prompt to the most expensive rung compared, and to the local rung."""

    chosen: dict[str, int]  # rung -> prompts Auto sent there
    prompts: int  # prompts whose three figures are all known
    not_compared: int  # prompts Auto would send to a rung that was not compared
    auto: Money
    premium: str | None
    premium_cost: Money
    local: str | None
    local_cost: Money
    passed: int
    checked: int

    @property
    def saved_vs_premium(self) -> Decimal | None:
        if self.premium is None or not (self.auto.known and self.premium_cost.known):
            return None
        return self.premium_cost.usd - self.auto.usd


@dataclass
class Summary:
    rungs: list[RungSummary]
    judges: Money
    judge_rungs: list[str]
    auto: AutoMix
    total: Money  # every answer and every verdict
    skipped: int


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize(report: CompareReport) -> Summary:
    rungs: list[RungSummary] = []
    judges = Money()
    judge_rungs: dict[str, None] = {}
    total = Money()
    for info in report.rungs:
        cells = [c for c in report.cells if c.rung == info.name]
        cost = Money()
        for c in cells:
            if c.ran:
                cost.add(c.cost_usd, c.cost_exact)
                total.add(c.cost_usd, c.cost_exact)
            for check in c.checks:
                if check.judged:
                    judges.add(check.cost_usd, check.cost_exact)
                    total.add(check.cost_usd, check.cost_exact)
                    judge_rungs[check.judge] = None
        answered = [c for c in cells if c.ran]
        checked = [c for c in answered if c.checks]
        models = [c.model for c in answered if c.model]
        rungs.append(
            RungSummary(
                rung=info.name,
                model=models[-1] if models else info.model,
                cells=len(cells),
                answered=len([c for c in answered if c.finish_reason != "error"]),
                errors=len([c for c in answered if c.finish_reason == "error"]),
                skipped=len([c for c in cells if c.skipped]),
                cost=cost,
                output_tokens=sum(c.output_tokens for c in answered),
                median_ttft_s=_median([c.ttft_s for c in answered if c.ttft_s is not None]),
                median_tokens_per_s=_median(
                    [c.tokens_per_s for c in answered if c.tokens_per_s is not None]
                ),
                passed=len([c for c in checked if c.passed is True]),
                checked=len(checked),
            )
        )
    return Summary(
        rungs=rungs,
        judges=judges,
        judge_rungs=list(judge_rungs),
        auto=auto_mix(report, rungs),
        total=total,
        skipped=sum(r.skipped for r in rungs),
    )


def auto_mix(report: CompareReport, rungs: list[RungSummary]) -> AutoMix:
    """Priced over the prompts every figure can be told for: Auto's rung was compared
    and it, the premium rung and the local rung all answered."""
    chosen: dict[str, int] = {}
    for route in report.routes:
        chosen[route.tier] = chosen.get(route.tier, 0) + 1
    complete = [r for r in rungs if r.cost.known and r.skipped == 0 and r.cells]
    premium = max(complete, key=lambda r: r.cost.usd).rung if complete else None
    local = next((i.name for i in report.rungs if i.kind == "local"), None)
    auto, premium_cost, local_cost = Money(), Money(), Money()
    prompts = not_compared = passed = checked = 0
    for index, route in enumerate(report.routes):
        picked = report.cell(index, route.tier)
        if picked is None:
            not_compared += 1
            continue
        others = [report.cell(index, name) for name in (premium, local) if name is not None]
        if not picked.ran or any(c is None or not c.ran for c in others):
            continue
        prompts += 1
        auto.add(picked.cost_usd, picked.cost_exact)
        if picked.passed is not None:
            checked += 1
            passed += int(picked.passed)
        for name, money in ((premium, premium_cost), (local, local_cost)):
            c = report.cell(index, name) if name is not None else None
            if c is not None:
                money.add(c.cost_usd, c.cost_exact)
    return AutoMix(
        chosen,
        prompts,
        not_compared,
        auto,
        premium,
        premium_cost,
        local,
        local_cost,
        passed,
        checked,
    )
