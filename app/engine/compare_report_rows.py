"""A comparison run as stored in the history and read back, so that
`rung compare --show` prints the same report later. The rows are Store.add_compare_run's;
what they hold is written and read here only.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rung.engine.compare import Route
from rung.engine.compare_cell import Cell, CheckResult
from rung.engine.compare_prompts import Check, ComparePrompt
from rung.engine.compare_report import CompareReport, RungInfo, summarize, usd_text


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
                "max_cost_usd": usd_text(report.max_cost),
                "estimate_usd": usd_text(report.estimate),
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
            "cost_usd": usd_text(c.cost_usd),
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
                        "cost_usd": usd_text(k.cost_usd),
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
