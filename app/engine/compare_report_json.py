"""A comparison run as JSON (`rung compare --json`): every cell, every check and the
summary, money as exact decimal strings (null only where a price is unknown).
"""

from __future__ import annotations

from typing import Any

from rung.engine.compare_cell import Cell, CheckResult
from rung.engine.compare_report import CompareReport, Summary, summarize, usd_text


def check_json(c: CheckResult) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": c.kind, "passed": c.passed, "detail": c.detail}
    if c.kind == "judge":
        out.update(
            judge=c.judge,
            judged=c.judged,
            cost_usd=usd_text(c.cost_usd) if c.judged else None,
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
        "cost_usd": usd_text(c.cost_usd) if c.ran else None,
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
        "max_cost_usd": usd_text(report.max_cost),
        "estimate_usd": usd_text(report.estimate),
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
                    "mean_usd": usd_text(r.mean_usd),
                    "usd_per_1k_output": usd_text(r.usd_per_1k_output),
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
                "saved_vs_premium_usd": usd_text(mix.saved_vs_premium),
                "passed": mix.passed,
                "checked": mix.checked,
            },
        },
    }
