"""A comparison run as data: what was asked, every cell, the summary per rung, what Auto
routing would have cost, and the run as stored (so `rung compare --show` prints the
same report later). No printing here: app/cli/compare.py formats it.

Money is Decimal throughout; a price that is unknown stays unknown (counted apart,
never added as $0).
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rung.engine.compare import Route
from rung.engine.compare_cell import Cell, CheckResult
from rung.engine.compare_prompts import Check, ComparePrompt

THOUSAND = Decimal(1000)


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


# -- JSON ------------------------------------------------------------------------------
def _usd(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def check_json(c: CheckResult) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": c.kind, "passed": c.passed, "detail": c.detail}
    if c.kind == "judge":
        out.update(
            judge=c.judge,
            judged=c.judged,
            cost_usd=_usd(c.cost_usd) if c.judged else None,
            cost_estimated=not c.cost_exact,
        )
    return out


def cell_json(c: Cell) -> dict[str, Any]:
    return {
        "prompt": c.prompt + 1,
        "rung": c.rung,
        "model": c.model,
        "text": c.text,
        "usage": {
            "input_tokens": c.input_tokens,
            "output_tokens": c.output_tokens,
            "cached_input_tokens": c.cached_input_tokens,
            "estimated": c.usage_estimated,
        },
        # Exact decimal string; null only when the price is unknown (or not run).
        "cost_usd": _usd(c.cost_usd) if c.ran else None,
        "cost_estimated": not c.cost_exact,
        "price_basis": c.price_basis,
        "ttft_s": c.ttft_s,
        "tokens_per_s": c.tokens_per_s,
        "duration_s": c.duration_s,
        "finish_reason": c.finish_reason or None,
        "error": c.error,
        "skipped": c.skipped,
        "passed": c.passed,
        "checks": [check_json(k) for k in c.checks],
    }


def report_json(report: CompareReport, summary: Summary | None = None) -> dict[str, Any]:
    summary = summary or summarize(report)
    mix = summary.auto
    return {
        "id": report.id,
        "created_at": report.created_at,
        "source": report.source,
        "status": report.status,
        "max_tokens": report.max_tokens,
        "concurrency": report.concurrency,
        "max_cost_usd": _usd(report.max_cost),
        "estimate_usd": _usd(report.estimate),
        "rungs": [
            {"name": r.name, "kind": r.kind, "provider": r.provider, "model": r.model}
            for r in report.rungs
        ],
        "prompts": [
            {
                "prompt": p.text,
                "checks": [c.as_dict() for c in p.checks],
                "auto": {"tier": route.tier, "reason": route.reason},
            }
            for p, route in zip(report.prompts, report.routes, strict=True)
        ],
        "cells": [cell_json(c) for c in report.cells],
        "summary": {
            "total": summary.total.as_json(),
            "skipped_cells": summary.skipped,
            "judges": {**summary.judges.as_json(), "rungs": summary.judge_rungs},
            "rungs": [
                {
                    "rung": r.rung,
                    "model": r.model,
                    "cells": r.cells,
                    "answered": r.answered,
                    "errors": r.errors,
                    "skipped": r.skipped,
                    "cost": r.cost.as_json(),
                    "mean_usd": _usd(r.mean_usd),
                    "usd_per_1k_output": _usd(r.usd_per_1k_output),
                    "output_tokens": r.output_tokens,
                    "median_ttft_s": r.median_ttft_s,
                    "median_tokens_per_s": r.median_tokens_per_s,
                    "passed": r.passed,
                    "checked": r.checked,
                }
                for r in summary.rungs
            ],
            "auto": {
                "chosen": mix.chosen,
                "prompts": mix.prompts,
                "not_compared": mix.not_compared,
                "cost": mix.auto.as_json(),
                "premium": {"rung": mix.premium, "cost": mix.premium_cost.as_json()},
                "local": {"rung": mix.local, "cost": mix.local_cost.as_json()},
                "saved_vs_premium_usd": _usd(mix.saved_vs_premium),
                "passed": mix.passed,
                "checked": mix.checked,
            },
        },
    }


# -- the stored form -------------------------------------------------------------------
def to_rows(report: CompareReport) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(the run's row, one row per cell) for Store.add_compare_run."""
    summary = summarize(report)
    run = {
        "created_at": report.created_at,
        "source": report.source,
        "status": report.status,
        "rungs": json.dumps([r.__dict__ for r in report.rungs]),
        "prompts": json.dumps(
            [
                {
                    "prompt": p.text,
                    "checks": [c.as_dict() for c in p.checks],
                    "auto": {"tier": r.tier, "reason": r.reason},
                }
                for p, r in zip(report.prompts, report.routes, strict=True)
            ]
        ),
        "options": json.dumps(
            {
                "max_tokens": report.max_tokens,
                "concurrency": report.concurrency,
                "quality": report.quality,
                "max_cost_usd": _usd(report.max_cost),
                "estimate_usd": _usd(report.estimate),
            }
        ),
        "total_usd": str(summary.total.usd),
        "unknown": summary.total.unknown,
    }
    cells = [
        {
            "prompt_index": c.prompt,
            "rung": c.rung,
            "model": c.model,
            "content": c.text,
            "input_tokens": c.input_tokens,
            "output_tokens": c.output_tokens,
            "cached_input_tokens": c.cached_input_tokens,
            "estimated": int(c.usage_estimated),
            "cost_usd": _usd(c.cost_usd),
            "cost_exact": int(c.cost_exact),
            "price_basis": c.price_basis,
            "ttft_s": c.ttft_s,
            "tokens_per_s": c.tokens_per_s,
            "duration_s": c.duration_s,
            "finish_reason": c.finish_reason,
            "error": c.error,
            "skipped": c.skipped,
            "checks": json.dumps(
                [
                    {
                        "kind": k.kind,
                        "passed": k.passed,
                        "detail": k.detail,
                        "judge": k.judge,
                        "judged": k.judged,
                        "cost_usd": _usd(k.cost_usd),
                        "cost_exact": k.cost_exact,
                    }
                    for k in c.checks
                ]
            ),
        }
        for c in report.cells
    ]
    return run, cells


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def from_rows(run: dict[str, Any], cells: list[dict[str, Any]]) -> CompareReport:
    """A stored run, as it was reported when it ran."""
    options = json.loads(run["options"])
    prompts, routes = [], []
    for item in json.loads(run["prompts"]):
        checks = tuple(
            Check(c["kind"], c.get("value", ""), c.get("rubric", "")) for c in item["checks"]
        )
        prompts.append(ComparePrompt(item["prompt"], checks))
        routes.append(Route(item["auto"]["tier"], item["auto"]["reason"]))
    out = []
    for row in cells:
        checks_out = [
            CheckResult(
                k["kind"],
                k["passed"],
                k["detail"],
                k.get("judge", ""),
                bool(k.get("judged")),
                _decimal(k.get("cost_usd")),
                bool(k.get("cost_exact", True)),
            )
            for k in json.loads(row["checks"] or "[]")
        ]
        out.append(
            Cell(
                prompt=row["prompt_index"],
                rung=row["rung"],
                model=row["model"] or "",
                text=row["content"] or "",
                input_tokens=row["input_tokens"] or 0,
                output_tokens=row["output_tokens"] or 0,
                cached_input_tokens=row["cached_input_tokens"] or 0,
                usage_estimated=bool(row["estimated"]),
                cost_usd=_decimal(row["cost_usd"]),
                cost_exact=bool(row["cost_exact"]),
                price_basis=row["price_basis"] or "",
                ttft_s=row["ttft_s"],
                tokens_per_s=row["tokens_per_s"],
                duration_s=row["duration_s"] or 0.0,
                finish_reason=row["finish_reason"] or "",
                error=row["error"],
                skipped=row["skipped"],
                checks=checks_out,
            )
        )
    return CompareReport(
        rungs=[RungInfo(**r) for r in json.loads(run["rungs"])],
        prompts=prompts,
        routes=routes,
        cells=out,
        source=run["source"],
        status=run["status"],
        max_tokens=options["max_tokens"],
        concurrency=options["concurrency"],
        quality=options.get("quality", 0.5),
        max_cost=_decimal(options.get("max_cost_usd")),
        estimate=_decimal(options.get("estimate_usd")),
        created_at=run["created_at"],
        id=run["id"],
    )
