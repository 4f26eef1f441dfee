"""The report of `rung compare` for people: plain text and Markdown, and
``print_report``, which prints the format asked for (text, Markdown, CSV or JSON).

Everything a model or the history said (answers, model names, errors, prompts read
back) passes through the terminal sanitizer on its way out; JSON keeps it intact as
escapes.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from decimal import Decimal

from rung.cli.compare_csv import report_csv
from rung.engine.compare_cell import Cell
from rung.engine.compare_report import CompareReport, Money, Summary, summarize
from rung.engine.compare_report_json import report_json
from rung.engine.safe_text import for_terminal, json_for_terminal, one_line
from rung.tiers.pricing import format_usd

PROMPT_COLUMN = 40


def print_report(report: CompareReport, args: argparse.Namespace) -> None:
    summary = summarize(report)
    if args.json:
        print(
            json_for_terminal(
                json.dumps(report_json(report, summary), indent=2, ensure_ascii=False)
            )
        )
    elif args.csv:
        sys.stdout.write(for_terminal(report_csv(report)))
    elif args.markdown:
        sys.stdout.write(for_terminal(report_markdown(report, summary, args.answers)))
    else:
        sys.stdout.write(for_terminal(report_text(report, summary, args.answers)))
    sys.stdout.flush()


def _money(m: Money) -> str:
    if m.count and m.unknown == m.count:
        return "price unknown"
    return format_usd(m.usd, m.estimated) + (" + unknown" if m.unknown else "")


def _opt_usd(value: Decimal | None) -> str:
    return "-" if value is None else format_usd(value)


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"


def _speed(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def cell_cost(c: Cell) -> str:
    """A cell's price as shown in the grid and on the progress line."""
    if c.skipped:
        return "skipped"
    if c.cost_usd is None:
        return "price unknown"
    return format_usd(c.cost_usd, not c.cost_exact)


def _mark(c: Cell) -> str:
    if c.skipped:
        return "skipped"
    if c.finish_reason == "error":
        return f"{cell_cost(c)} error"
    verdict = {True: " ✓", False: " ✗", None: ""}[c.passed]
    if c.passed is None and c.checks:
        verdict = " ?"
    return cell_cost(c) + verdict


def _pass(passed: int, checked: int) -> str:
    return f"{passed}/{checked}" if checked else "-"


def _title(report: CompareReport) -> str:
    number = f"#{report.id} " if report.id is not None else ""
    when = report.created_at[:16].replace("T", " ")
    return (
        f"Compare run {number}— {len(report.prompts)} prompt(s) × {len(report.rungs)} "
        f"rung(s), {one_line(report.source, 60)}, {when} UTC: {report.status}"
    )


def _rung_rows(summary: Summary) -> list[list[str]]:
    rows = []
    for r in summary.rungs:
        rows.append(
            [
                r.rung,
                r.model,
                _money(r.cost),
                _opt_usd(r.mean_usd),
                _opt_usd(r.usd_per_1k_output),
                _secs(r.median_ttft_s),
                _speed(r.median_tokens_per_s),
                _pass(r.passed, r.checked),
                str(r.errors) + (f" (+{r.skipped} skipped)" if r.skipped else ""),
            ]
        )
    return rows


RUNG_HEADERS = [
    "rung",
    "model",
    "cost",
    "mean",
    "per 1k out",
    "median TTFT",
    "tok/s",
    "pass",
    "errors",
]


def _auto_lines(report: CompareReport, summary: Summary) -> list[str]:
    mix = summary.auto
    chosen = ", ".join(f"{name} ×{n}" for name, n in mix.chosen.items())
    lines = [f"Auto routing on your ladder (quality {report.quality:g}) would choose: {chosen}"]
    if mix.not_compared:
        lines.append(
            f"  {mix.not_compared} prompt(s) went to a rung not compared: not in the figures below"
        )
    if not mix.prompts:
        lines.append("  no prompt has all the figures needed to price the Auto mix")
        return lines
    parts = [f"Auto mix {_money(mix.auto)}"]
    if mix.premium:
        parts.append(f"all {mix.premium} (most expensive) {_money(mix.premium_cost)}")
    if mix.local:
        parts.append(f"all {mix.local} {_money(mix.local_cost)}")
    over = "" if mix.prompts == len(report.prompts) else f" over {mix.prompts} prompt(s)"
    lines.append("  " + " · ".join(parts) + over)
    saved = mix.saved_vs_premium
    if saved is not None and mix.premium is not None and mix.premium_cost.usd > 0:
        share = int(saved / mix.premium_cost.usd * 100)
        word = "saves" if saved >= 0 else "costs"
        lines.append(
            f"  Auto {word} {format_usd(abs(saved))} ({abs(share)}%) "
            f"{'against' if saved >= 0 else 'more than'} all {mix.premium}"
            + (f"; its answers pass {mix.passed}/{mix.checked}" if mix.checked else "")
        )
    return lines


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return [fmt.format(*headers).rstrip(), *(fmt.format(*r).rstrip() for r in rows)]


def _shown_answers(report: CompareReport, prompt: int) -> Iterator[tuple[str, Cell]]:
    """One prompt's answers for --answers, rung by rung (a skipped cell has none)."""
    for name in report.names:
        c = report.cell(prompt, name)
        if c is not None and not c.skipped:
            yield name, c


def report_text(report: CompareReport, summary: Summary, answers: bool = False) -> str:
    out = [_title(report)]
    if report.estimate is not None:
        out.append(
            f"Estimated before the run: {format_usd(report.estimate, True)}"
            + (f" (limit {format_usd(report.max_cost)})" if report.max_cost else "")
        )
    out.append("")
    rows = _rung_rows(summary)
    for row in rows:
        row[0], row[1] = one_line(row[0], 14), one_line(row[1], 32)
    out += _table(RUNG_HEADERS, rows)
    out.append("")
    if summary.judges.count:
        out.append(
            f"Judging on {', '.join(summary.judge_rungs)}: {_money(summary.judges)} for "
            f"{summary.judges.count} verdict(s), not in the rung costs above"
        )
    out.append(
        f"Spent in this run: {_money(summary.total)}"
        + (f"; {summary.skipped} cell(s) not run" if summary.skipped else "")
    )
    out.append("")
    out += _auto_lines(report, summary)
    out.append("")
    headers = ["#", "prompt", "auto", *report.names]
    grid = []
    for i, prompt in enumerate(report.prompts):
        row = [str(i + 1), one_line(prompt.text, PROMPT_COLUMN), report.routes[i].tier]
        for name in report.names:
            c = report.cell(i, name)
            row.append(_mark(c) if c is not None else "-")
        grid.append(row)
    out += _table(headers, grid)
    failed = [c for c in report.cells if c.checks and c.passed is not True]
    if failed:
        out += ["", "Checks that did not pass:"]
        for c in failed:
            why = "; ".join(f"{k.kind}: {k.detail}" for k in c.checks if k.passed is not True)
            out.append(f"  #{c.prompt + 1} {c.rung}: {one_line(why, 150)}")
    errors = [c for c in report.cells if c.error]
    if errors:
        out += ["", "Errors:"]
        out += [f"  #{c.prompt + 1} {c.rung}: {one_line(c.error or '', 150)}" for c in errors]
    if answers:
        for i, prompt in enumerate(report.prompts):
            out += ["", f"── #{i + 1} {one_line(prompt.text, 70)}"]
            for name, c in _shown_answers(report, i):
                out += [f"[{name} · {one_line(c.model, 40)} · {_mark(c)}]", c.text.rstrip(), ""]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def report_markdown(report: CompareReport, summary: Summary, answers: bool = False) -> str:
    out = [f"# {_md(_title(report))}", ""]
    out.append("| " + " | ".join(RUNG_HEADERS) + " |")
    out.append("|" + "---|" * len(RUNG_HEADERS))
    for row in _rung_rows(summary):
        out.append("| " + " | ".join(_md(x) for x in row) + " |")
    out.append("")
    if summary.judges.count:
        out.append(
            f"Judging on {', '.join(summary.judge_rungs)}: {_money(summary.judges)} "
            f"for {summary.judges.count} verdict(s), not in the rung costs."
        )
        out.append("")
    out.append(f"Spent in this run: **{_money(summary.total)}**")
    out.append("")
    out += [
        line.strip() if i == 0 else "- " + line.strip()
        for i, line in enumerate(_auto_lines(report, summary))
    ]
    out.append("")
    headers = ["#", "prompt", "auto", *report.names]
    out.append("| " + " | ".join(headers) + " |")
    out.append("|" + "---|" * len(headers))
    for i, prompt in enumerate(report.prompts):
        cells = [report.cell(i, n) for n in report.names]
        row = [
            str(i + 1),
            _md(one_line(prompt.text, 80)),
            report.routes[i].tier,
            *(_mark(c) if c is not None else "-" for c in cells),
        ]
        out.append("| " + " | ".join(_md(x) for x in row) + " |")
    if answers:
        for i, prompt in enumerate(report.prompts):
            out += ["", f"## {i + 1}. {_md(one_line(prompt.text, 100))}"]
            for name, c in _shown_answers(report, i):
                out += ["", f"### {name} ({_md(c.model)}) — {_md(_mark(c))}", "", c.text.rstrip()]
    return "\n".join(out) + "\n"
