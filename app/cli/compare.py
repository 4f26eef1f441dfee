"""`rung compare`: your prompts on several rungs, side by side, priced, timed and checked.
Printing only: the run is app/engine/compare.py, the report app/engine/compare_report.py.

Everything a model or the history said (answers, model names, errors, prompts read
back) passes through the terminal sanitizer on its way out; JSON keeps it intact as
escapes. Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import io
import json
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from rung.cli import pipes
from rung.engine.compare import CompareRun, Estimate, Progress
from rung.engine.compare_cell import Cell
from rung.engine.compare_prompts import (
    ComparePrompt,
    PromptFileError,
    parse_prompts,
    prompts_from_history,
)
from rung.engine.compare_report import (
    CompareReport,
    Money,
    RungInfo,
    Summary,
    from_rows,
    report_json,
    summarize,
    to_rows,
)
from rung.engine.config import Config, data_dir
from rung.engine.conversation import ChatOptions
from rung.engine.ladder import Ladder
from rung.engine.safe_text import for_terminal, json_for_terminal, one_line
from rung.engine.session import Session
from rung.engine.store import Store, StoreError, open_store, start_of_today
from rung.engine.whatif import measured_throughput
from rung.tiers.base import TierLoadError
from rung.tiers.budget import PAID_KINDS
from rung.tiers.pricing import format_usd
from rung.tiers.providers import PROVIDERS

PROMPT_COLUMN = 40
# A prompts file or stdin: read with a cap (`rung compare /dev/zero` must not fill memory).
MAX_PROMPTS_BYTES = 8 * 1_048_576
# Spreadsheets run a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def dollars(text: str) -> Decimal | None:
    """``--max-cost``: "0.50" or "$0.50"; None when it is not an amount."""
    try:
        value = Decimal(text.strip().lstrip("$"))
    except InvalidOperation:
        return None
    return value if value.is_finite() and value >= 0 else None


def _say(message: str) -> None:
    print(f"rung compare: {for_terminal(message)}", file=sys.stderr, flush=True)


def _open_store() -> Store | None:
    try:
        return open_store(data_dir())
    except StoreError as exc:
        _say(f"cannot read the history: {exc}")
        return None


# -- the command -----------------------------------------------------------------------
def run_compare(args: argparse.Namespace, config: Config) -> int:
    for problem in config.problems:
        _say(f"warning: {problem}")
    if args.list:
        return _list(args.json)
    if args.show is not None:
        return _show(args)
    if args.concurrency < 1 or (args.max_tokens is not None and args.max_tokens < 1):
        _say("--concurrency and --max-tokens must be at least 1")
        return 2
    if args.max_cost is not None:
        limit = dollars(args.max_cost)
        if limit is None:
            _say(f"--max-cost wants an amount of dollars, such as 0.50, not {args.max_cost!r}")
            return 2
        args.max_cost = limit
    found = _read_prompts(args)
    if found is None:
        return 2
    prompts, source = found
    ladder = Ladder(config)
    for problem in ladder.problems:
        _say(f"warning: {problem}")
    rungs = _pick_rungs(args.rungs, ladder)
    if rungs is None or not _judges_usable(prompts, ladder):
        return 2
    options = ChatOptions(
        system=args.system if args.system is not None else config.get("ui", "system_prompt"),
        max_tokens=args.max_tokens or config.get("ui", "max_tokens"),
        temperature=0.2,
        fallback=False,  # a comparison measures each rung, never a detour
    )
    session = Session(config, "compare", history=False)
    store = _open_store()
    throughput = measured_throughput(store) if store is not None else {}
    run = CompareRun(
        ladder,
        session,
        prompts,
        rungs,
        options,
        concurrency=args.concurrency,
        max_cost=args.max_cost,
        output_bound=args.max_tokens is not None,
        throughput=throughput,
    )
    try:
        return asyncio.run(_run(args, run, ladder, session, store, source))
    finally:
        if store is not None:
            store.close()


async def _run(
    args: argparse.Namespace,
    run: CompareRun,
    ladder: Ladder,
    session: Session,
    store: Store | None,
    source: str,
) -> int:
    """One event loop for the whole command. Nothing is printed while the local model
    loads or is freed: llama.cpp points the process's stdout and stderr at /dev/null
    then, so the report is printed before the ladder is closed."""
    try:
        estimate = run.estimate()  # builds no tier: a refused run loads no model
        _say(estimate_line(estimate, args.max_cost))
        if not _money_allows(estimate, args.max_cost, run, ladder, session, store):
            return 1
        if not await _load(run, ladder):
            return 2
        progress = ProgressLine(sys.stderr, len(run.cells))
        run.on_progress = progress
        interrupted = False
        try:
            await run.run()
        except asyncio.CancelledError:  # Ctrl-C: report what was answered, then stop
            interrupted = True
        finally:
            progress.close()
        report = _report(args, run, ladder, estimate, source)
        if store is not None and not args.no_save:
            run_row, cells = to_rows(report)
            try:
                report.id = store.add_compare_run(run_row, cells)
            except Exception as exc:  # the results still print
                _say(f"warning: the run was not stored: {exc}")
        print_report(report, args)
        return _ending(run, report, args.max_cost, interrupted)
    finally:
        await ladder.aclose()


async def _load(run: CompareRun, ladder: Ladder) -> bool:
    """Build every rung the run uses and wait for local models to load, so that the
    progress line starts once llama.cpp has given the terminal back. False (and says
    why) when a rung cannot be built, such as a custom endpoint with no URL."""
    for name in dict.fromkeys([*run.rungs, *(c.value for p in run.prompts for c in p.judges)]):
        try:
            tier = ladder.tier(name)
        except ValueError as exc:
            _say(str(exc))
            return False
        if tier.needs_loading:
            # A model that cannot load: each of its cells fails saying why; the run goes on.
            with contextlib.suppress(TierLoadError):
                await tier.load()
    return True


def _report(
    args: argparse.Namespace, run: CompareRun, ladder: Ladder, estimate: Estimate, source: str
) -> CompareReport:
    return CompareReport(
        rungs=[_info(ladder, name, run) for name in run.rungs],
        prompts=run.prompts,
        routes=run.routes(),
        cells=run.cells,
        source=source,
        status=run.status,
        max_tokens=run.options.max_tokens,
        concurrency=run.concurrency,
        quality=ladder.config.get("ladder", "quality"),
        max_cost=args.max_cost,
        estimate=estimate.total if not estimate.unknown else None,
    )


def _ending(
    run: CompareRun, report: CompareReport, max_cost: Decimal | None, interrupted: bool
) -> int:
    skipped = [c for c in run.cells if c.skipped]
    if interrupted:
        _say(f"interrupted: {len(skipped)} cell(s) not run; what was answered is above")
        return 130
    if skipped:
        _say(
            f"stopped at the cost limit: {len(skipped)} of {len(run.cells)} cell(s) not "
            f"run ({format_usd(run.spent)} spent, limit {format_usd(max_cost)})"
        )
        return 1
    if report.id is not None:
        _say(f"stored as run #{report.id}: rung compare --show {report.id}")
    return 0


def _info(ladder: Ladder, name: str, run: CompareRun) -> RungInfo:
    tier = ladder.tier(name)
    answered = [c.model for c in run.cells if c.rung == name and c.model]
    return RungInfo(
        name, tier.kind, tier.provider or name, answered[-1] if answered else tier.model
    )


def estimate_line(estimate: Estimate, max_cost: Decimal | None) -> str:
    basis = (
        f"up to {estimate.output_per_cell:,} output tokens an answer (--max-tokens)"
        if estimate.output_basis == "--max-tokens"
        else f"a typical {estimate.output_per_cell:,} output tokens an answer"
    )
    total = format_usd(estimate.total, estimated=True)
    line = (
        f"{estimate.cells} cell(s); estimate {total} "
        f"(~{estimate.prompt_tokens:,} prompt tokens, {basis}"
        + (f"; judging ~{format_usd(estimate.judges)}" if estimate.judges else "")
        + ")"
    )
    if estimate.unknown:
        line += f"; price unknown for {', '.join(estimate.unknown)}, not in the estimate"
    if max_cost is not None:
        line += f"; limit {format_usd(max_cost)}"
    for note in estimate.notes:
        line += f"\n  {note}"
    return line


def _money_allows(
    estimate: Estimate,
    max_cost: Decimal | None,
    run: CompareRun,
    ladder: Ladder,
    session: Session,
    store: Store | None,
) -> bool:
    if max_cost is not None:
        if estimate.unknown:
            _say(
                f"refusing to start: the price of {', '.join(estimate.unknown)} is unknown, "
                "so --max-cost cannot bound it (set a price under [prices] or leave it out "
                "of --rungs)"
            )
            return False
        if estimate.total > max_cost:
            _say(
                f"refusing to start: the estimate {format_usd(estimate.total, True)} is above "
                f"--max-cost {format_usd(max_cost)} (fewer prompts or rungs, a lower "
                "--max-tokens, or a higher limit)"
            )
            return False
    paid = [n for n in run.rungs if run.identity(n).kind in PAID_KINDS]
    paid += [
        c.value for p in run.prompts for c in p.judges if run.identity(c.value).kind in PAID_KINDS
    ]
    if not paid:
        return True
    today = Decimal(0)
    if store is not None:
        try:
            today = store.spent_since(start_of_today())
        except Exception as exc:
            _say(f"warning: could not read today's spend: {exc}")
    state = session.budget.check(Decimal(0), today)
    if state.blocks_paid:
        _say(f"refusing to start: {state.message}")
        return False
    daily = session.budget.daily_usd
    if daily is not None and today + estimate.total >= daily:
        _say(
            f"warning: with this run today's spend may pass the daily budget of "
            f"{format_usd(daily)} ({format_usd(today)} spent so far)"
        )
    return True


# -- where prompts come from -----------------------------------------------------------
def _read_prompts(args: argparse.Namespace) -> tuple[list[ComparePrompt], str] | None:
    if args.session is not None:
        if args.file:
            _say("give a prompt file or --session, not both")
            return None
        store = _open_store()
        if store is None:
            return None
        try:
            messages = store.transcript(args.session)
        finally:
            store.close()
        prompts = prompts_from_history(messages, args.last)
        source = f"session #{args.session}, last {len(prompts)} question(s)"
        if not prompts:
            _say(f"conversation #{args.session} has no questions (see `rung sessions`)")
            return None
        return prompts, source
    if args.file and args.file != "-":
        path = Path(args.file)
        try:
            with path.open("rb") as fh:
                raw = pipes.read_capped(fh, MAX_PROMPTS_BYTES)
            if len(raw) > MAX_PROMPTS_BYTES:
                _say(f"{args.file} is more than 8 MiB of prompts; split it")
                return None
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _say(f"cannot read {args.file}: {getattr(exc, 'strerror', None) or exc}")
            return None
        source = f"file {path.name}"
    else:
        if sys.stdin is None or sys.stdin.isatty():
            _say("no prompts: give a file, pipe them in, or use --session ID")
            return None
        piped = pipes.read_stdin(MAX_PROMPTS_BYTES)
        if piped.too_big:
            _say("stdin is more than 8 MiB of prompts; split it")
            return None
        if piped.replaced:
            _say(f"stdin is not UTF-8 text: {piped.replaced} byte(s) read as U+FFFD")
        text, source = piped.text, "stdin"
    try:
        prompts = parse_prompts(text)
    except PromptFileError as exc:
        _say(f"{source}: {exc}")
        return None
    if not prompts:
        _say(f"{source} has no prompts")
        return None
    return prompts, source


def _pick_rungs(spec: str | None, ladder: Ladder) -> list[str] | None:
    if spec is None:
        names = [n for n in ladder.names if ladder.rung(n).usable]
        if not names:
            reasons = "; ".join(f"{r.name}: {r.why_not}" for r in ladder.rungs())
            _say(f"no usable rung on your ladder ({reasons})")
            return None
        return names
    names = list(dict.fromkeys(part.strip() for part in spec.split(",") if part.strip()))
    unknown = [n for n in names if n not in PROVIDERS]
    if unknown or not names:
        _say(
            f"unknown rung(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(PROVIDERS)}"
        )
        return None
    for name in names:
        rung = ladder.rung(name)
        if not rung.usable:
            _say(f"{name} cannot be used: {rung.why_not}")
            return None
    return names


def _judges_usable(prompts: list[ComparePrompt], ladder: Ladder) -> bool:
    for name in dict.fromkeys(c.value for p in prompts for c in p.judges):
        if name not in PROVIDERS:
            _say(f"judge {name!r} is not a rung; known: {', '.join(PROVIDERS)}")
            return False
        rung = ladder.rung(name)
        if not rung.usable:
            _say(f"judge {name} cannot be used: {rung.why_not}")
            return False
    return True


# -- progress --------------------------------------------------------------------------
class ProgressLine:
    """One line rewritten in place on a terminal; a plain line per finished cell when
    stderr is a file or a pipe (a log reads well, with no carriage returns)."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.tty = stream.isatty()
        self.drawn = False

    def __call__(self, p: Progress) -> None:
        where = f"{p.cell.rung} #{p.cell.prompt + 1}"
        if self.tty:
            line = (
                f"[{p.done}/{p.total}] {p.in_flight} running · {format_usd(p.spent)} spent"
                f" · {p.kind} {where}"
            )
            self.stream.write("\r\x1b[K" + line)
            self.stream.flush()
            self.drawn = True
            return
        if p.kind == "started":
            return
        c = p.cell
        if p.kind == "skipped":
            what = f"skipped ({c.skipped})"
        else:
            what = f"{_cost(c)}, {c.duration_s:.1f} s, {_ended(c)}"
        print(f"rung compare: [{p.done}/{p.total}] {where}: {what}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


# -- stored runs -----------------------------------------------------------------------
def _list(as_json: bool) -> int:
    store = _open_store()
    if store is None:
        return 1
    try:
        runs = store.compare_runs(limit=50)
    finally:
        store.close()
    if as_json:
        print(
            json_for_terminal(
                json.dumps(
                    [
                        {**r, "rungs": [x["name"] for x in json.loads(str(r["rungs"]))]}
                        for r in runs
                    ],
                    ensure_ascii=False,
                    indent=2,
                )
            )
        )
        return 0
    if not runs:
        print("No comparison runs yet: rung compare prompts.txt")
        return 0
    for r in runs:
        when = str(r["created_at"])[:16].replace("T", " ")
        names = ",".join(x["name"] for x in json.loads(str(r["rungs"])))
        total = format_usd(Decimal(str(r["total_usd"])))
        if r["unknown"]:
            total += " + unknown"
        print(
            f"#{r['id']:<4} {when}  {r['prompts']:>3} prompts × {one_line(names, 30):<30} "
            f"{total:>10}  {one_line(str(r['status']), 26):<26} {one_line(str(r['source']), 40)}"
        )
    print("\nPrint one again with: rung compare --show ID")
    return 0


def _show(args: argparse.Namespace) -> int:
    store = _open_store()
    if store is None:
        return 1
    try:
        found = store.compare_run(args.show)
    finally:
        store.close()
    if found is None:
        _say(f"no comparison run #{args.show} (see rung compare --list)")
        return 1
    print_report(from_rows(*found), args)
    return 0


# -- the report ------------------------------------------------------------------------
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


def _cost(c: Cell) -> str:
    if c.skipped:
        return "skipped"
    if c.cost_usd is None:
        return "price unknown"
    return format_usd(c.cost_usd, not c.cost_exact)


def _ended(c: Cell) -> str:
    if c.skipped:
        return f"skipped: {c.skipped}"
    if c.error:
        return f"error: {c.error}"
    return c.finish_reason


def _mark(c: Cell) -> str:
    if c.skipped:
        return "skipped"
    if c.finish_reason == "error":
        return f"{_cost(c)} error"
    verdict = {True: " ✓", False: " ✗", None: ""}[c.passed]
    if c.passed is None and c.checks:
        verdict = " ?"
    return _cost(c) + verdict


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
            for name in report.names:
                c = report.cell(i, name)
                if c is None or c.skipped:
                    continue
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
            for name in report.names:
                c = report.cell(i, name)
                if c is None or c.skipped:
                    continue
                out += ["", f"### {name} ({_md(c.model)}) — {_md(_mark(c))}", "", c.text.rstrip()]
    return "\n".join(out) + "\n"


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
