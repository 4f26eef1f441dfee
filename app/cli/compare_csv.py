"""The report of `rung compare --csv`: one row per cell, every figure, the answer in
full; untrusted text made safe to open in a spreadsheet.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from rung.engine.compare_report import CompareReport

# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_text(value: str) -> str:
    """Untrusted text in a cell a spreadsheet will not run as a formula."""
    return "'" + value if value.startswith(FORMULA_START) else value


def report_csv(report: CompareReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "prompt_number",
            "prompt",
            "auto_choice",
            "rung",
            "model",
            "finish_reason",
            "error",
            "skipped",
            "input_tokens",
            "output_tokens",
            "cached_input_tokens",
            "usage_estimated",
            "cost_usd",
            "cost_estimated",
            "price_basis",
            "ttft_s",
            "tokens_per_s",
            "duration_s",
            "passed",
            "checks",
            "judge_cost_usd",
            "answer",
        ]
    )
    for c in report.cells:
        judged = [k for k in c.checks if k.judged]
        judge_cost = (
            str(sum((k.cost_usd for k in judged if k.cost_usd is not None), Decimal(0)))
            if judged and all(k.cost_usd is not None for k in judged)
            else ""
        )
        checks = "; ".join(
            f"{k.kind}:{ {True: 'pass', False: 'fail', None: 'undecided'}[k.passed] }"
            for k in c.checks
        )
        writer.writerow(
            [
                c.prompt + 1,
                _csv_text(report.prompts[c.prompt].text),
                report.routes[c.prompt].tier,
                c.rung,
                _csv_text(c.model),
                c.finish_reason,
                _csv_text(c.error or ""),
                c.skipped or "",
                c.input_tokens,
                c.output_tokens,
                c.cached_input_tokens,
                int(c.usage_estimated),
                "" if c.cost_usd is None or not c.ran else str(c.cost_usd),
                int(not c.cost_exact),
                c.price_basis,
                "" if c.ttft_s is None else f"{c.ttft_s:.3f}",
                "" if c.tokens_per_s is None else f"{c.tokens_per_s:.1f}",
                f"{c.duration_s:.3f}",
                {True: "1", False: "0", None: ""}[c.passed],
                checks,
                judge_cost,
                _csv_text(c.text),
            ]
        )
    return buffer.getvalue()
