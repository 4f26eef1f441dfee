"""`rung compare`: your prompts on several rungs, side by side, priced, timed and checked.
Printing only: the run is app/engine/compare.py, the report app/engine/compare_report.py.

The command itself is here: it checks the arguments, guards the money, runs, stores and
prints. Its parts live next to it: where prompts and rungs come from (compare_inputs.py),
the money guard (compare_money.py), stderr (compare_progress.py), the report's formats
(compare_text.py, compare_csv.py) and the stored runs (compare_stored.py).

Everything a model or the history said (answers, model names, errors, prompts read
back) passes through the terminal sanitizer on its way out; JSON keeps it intact as
escapes. Progress goes to stderr, the report to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from decimal import Decimal

from rung.cli.compare_inputs import judges_usable, pick_rungs, read_prompts
from rung.cli.compare_money import dollars, estimate_line, money_allows
from rung.cli.compare_progress import ProgressLine, say
from rung.cli.compare_stored import list_runs, open_history, show_run
from rung.cli.compare_text import print_report
from rung.engine.compare import CompareRun, Estimate
from rung.engine.compare_report import CompareReport, RungInfo
from rung.engine.compare_report_rows import to_rows
from rung.engine.config import Config
from rung.engine.conversation import ChatOptions
from rung.engine.ladder import Ladder
from rung.engine.session import Session
from rung.engine.store import Store
from rung.engine.whatif import measured_throughput
from rung.tiers.base import TierLoadError
from rung.tiers.pricing import format_usd


def run_compare(args: argparse.Namespace, config: Config) -> int:
    for problem in config.problems:
        say(f"warning: {problem}")
    if args.list:
        return list_runs(args.json)
    if args.show is not None:
        return show_run(args)
    if args.concurrency < 1 or (args.max_tokens is not None and args.max_tokens < 1):
        say("--concurrency and --max-tokens must be at least 1")
        return 2
    if args.max_cost is not None:
        limit = dollars(args.max_cost)
        if limit is None:
            say(f"--max-cost wants an amount of dollars, such as 0.50, not {args.max_cost!r}")
            return 2
        args.max_cost = limit
    found = read_prompts(args)
    if found is None:
        return 2
    prompts, source = found
    ladder = Ladder(config)
    for problem in ladder.problems:
        say(f"warning: {problem}")
    rungs = pick_rungs(args.rungs, ladder)
    if rungs is None or not judges_usable(prompts, ladder):
        return 2
    options = ChatOptions(
        system=args.system if args.system is not None else config.get("ui", "system_prompt"),
        max_tokens=args.max_tokens or config.get("ui", "max_tokens"),
        temperature=0.2,
        fallback=False,  # a comparison measures each rung, never a detour
    )
    session = Session(config, "compare", history=False)
    store = open_history()
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
        say(estimate_line(estimate, args.max_cost))
        if not money_allows(estimate, args.max_cost, run, ladder, session, store):
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
                say(f"warning: the run was not stored: {exc}")
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
            say(str(exc))
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
        say(f"interrupted: {len(skipped)} cell(s) not run; what was answered is above")
        return 130
    if skipped:
        say(
            f"stopped at the cost limit: {len(skipped)} of {len(run.cells)} cell(s) not "
            f"run ({format_usd(run.spent)} spent, limit {format_usd(max_cost)})"
        )
        return 1
    if report.id is not None:
        say(f"stored as run #{report.id}: rung compare --show {report.id}")
    return 0


def _info(ladder: Ladder, name: str, run: CompareRun) -> RungInfo:
    tier = ladder.tier(name)
    answered = [c.model for c in run.cells if c.rung == name and c.model]
    return RungInfo(
        name, tier.kind, tier.provider or name, answered[-1] if answered else tier.model
    )
