"""`rung ask`: one question, the answer streamed to stdout, errors on stderr.

A thin view of the conversation engine: it prints the engine's events. Everything that
did not come from Rung itself passes through the terminal sanitizer on its way out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from rung.engine import attachments
from rung.engine.build_tiers import RungOverrides, UnknownTierError
from rung.engine.config import Config
from rung.engine.conversation import (
    ChatOptions,
    Conversation,
    EngineEvent,
    FallingBack,
    Outcome,
    Plan,
    StoreProblem,
)
from rung.engine.edits import apply_proposal
from rung.engine.ladder import Ladder
from rung.engine.prices_update import start_price_updates, wait_for_prices
from rung.engine.safe_text import for_terminal, json_for_terminal
from rung.engine.session import Session
from rung.engine.workspace import edits_journal, proposal_for
from rung.tiers.base import Notice, TextDelta
from rung.tiers.providers import PROVIDERS

# With price updates on, how long an answered question waits for fresh prices.
PRICE_WAIT_S = 5.0


def warn(message: str) -> None:
    print(f"rung: {for_terminal(message)}", file=sys.stderr, flush=True)


def _question(args: argparse.Namespace) -> tuple[str, str]:
    """(what the user typed, what was piped in). `git diff | rung ask "write a commit
    message"` sends the instruction followed by the piped text."""
    asked = " ".join(args.question).strip()
    piped = ""
    if sys.stdin is not None and not sys.stdin.isatty():
        piped = sys.stdin.read().strip()
    return asked, piped


def _attach(asked: str, piped: str) -> str:
    """Only the typed instruction can attach files; piped text is never scanned."""
    expansion = attachments.expand(asked, Path.cwd())
    for problem in expansion.problems:
        warn(f"not attached: {problem}")
    for name in expansion.needs_confirmation:
        warn(
            f"not attached: @{name} is outside the working directory; from the command "
            f"line Rung attaches only files under {Path.cwd()} (pipe it in instead)"
        )
    if expansion.attached:
        warn(f"attached {attachments.describe(expansion.attached)}")
    text = expansion.text
    return f"{text}\n\n{piped}" if text and piped else text or piped


def run_ask(args: argparse.Namespace, config: Config) -> int:
    for problem in config.problems:
        warn(f"warning: {problem}")
    asked, piped = _question(args)
    if not asked and not piped:
        print("rung ask: no question given (pass it as an argument or on stdin)", file=sys.stderr)
        return 2
    if args.tier and args.tier not in PROVIDERS:
        print(f"rung: Unknown tier {args.tier!r}. Known tiers: {', '.join(PROVIDERS)}.",
              file=sys.stderr)  # fmt: skip
        return 2
    question = _attach(asked, piped)
    wants_edits = getattr(args, "diff", False) or getattr(args, "apply", False)
    if wants_edits and "<file path=" not in question:
        print("rung ask: --diff and --apply need files attached with @path in the question",
              file=sys.stderr)  # fmt: skip
        return 2
    overrides = RungOverrides(args.tier, args.model, args.base_url)
    ladder = Ladder(config, overrides, only_override=bool(args.tier))
    for problem in ladder.problems:
        warn(f"warning: {problem}")
    session = Session(config, "ask", history=not args.no_save)
    updater = start_price_updates(config)
    if updater is not None:
        session.before_pricing = lambda: _wait_for_prices(updater)
    options = ChatOptions(
        system=args.system if args.system is not None else config.get("ui", "system_prompt"),
        max_tokens=args.max_tokens or config.get("ui", "max_tokens"),
        # --tier means that rung and no other.
        fallback=config.get("ladder", "fallback") and not args.tier,
    )
    # With --diff/--apply, stdout is for the diff or the changes: the answer goes to stderr.
    text_out = sys.stderr if wants_edits else sys.stdout
    conversation = Conversation(
        ladder, session, options, [_printer(stream_text=not args.json, out=text_out)]
    )
    try:
        try:
            plan = conversation.prepare(question)
        except UnknownTierError as exc:
            warn(str(exc))
            return 2
        if not isinstance(plan, Plan):
            hint = " (try --tier local)" if plan.kind == "budget" else ""
            warn(f"{plan.message}{hint}")
            return 1
        try:
            outcome = asyncio.run(_run(conversation, plan))
        except KeyboardInterrupt:
            # The engine has recorded the partial reply as interrupted; write it out.
            print("\nrung: interrupted", file=sys.stderr)
            return 130
    finally:
        session.close()
        if updater is not None:
            updater.stop()
        for problem in session.problems():
            warn(f"warning: {problem}")
    final = outcome.final
    if args.json:
        data = _as_json(outcome, plan.reason)
        print(json_for_terminal(json.dumps(data, ensure_ascii=False)))
    elif final.reply.text and not final.reply.text.endswith("\n"):
        print(file=text_out)
    if final.reply.failed is not None:
        warn(f"{final.tier}: {final.reply.failed.message}")
        return 1
    if wants_edits:
        return _edits(conversation, args)
    return 0


def _edits(conversation: Conversation, args: argparse.Namespace) -> int:
    """The answer's proposed edits as a diff on stdout (`| git apply`), or applied.

    Only attached files are changed, and others the flags allow (--allow-new,
    --allow-path; a file that runs code by itself only when named exactly): each file
    left out is named with the reason, the rest still goes ahead, and the exit code is 1.
    Nothing is applied when any block cannot be used: a half-applied change is worse
    than none."""
    from rung.engine.edits.policy import Allowance

    result = conversation.last_edits
    if result is None or not result.edits:
        warn("the answer proposes no edits to the attached files")
        return 1
    root = Path.cwd()
    proposal = proposal_for(result, root)
    allowance = Allowance(
        new_files=getattr(args, "allow_new", False),
        patterns=tuple(getattr(args, "allow_path", None) or ()),
    )
    proposal.limit(allowance)
    for note in proposal.notes:
        warn(f"note: {note}")
    for refused in proposal.refused:
        warn(f"left out {refused.describe()}")
    problems = proposal.all_problems
    for problem in problems:
        warn(f"edit not usable: {problem}")
    failed = 1 if problems or proposal.refused else 0
    if not args.apply:
        diff = proposal.as_unified_diff()
        # Byte for byte for `git apply` in a pipe; a terminal shows it made safe.
        sys.stdout.write(for_terminal(diff) if sys.stdout.isatty() else diff)
        return failed
    if problems:
        warn("nothing was applied: fix or drop the blocks above, or use --diff")
        return 1
    if not proposal.to_write:
        warn("nothing was applied: every change was left out (see above)")
        return 1
    applied = apply_proposal(proposal, edits_journal(root))
    if not applied.ok:
        warn(applied.message)
        return 1
    print(for_terminal(applied.message))
    for path in applied.paths:
        print(f"  {for_terminal(path)}")
    print("Undo with: rung undo")
    return failed


def _wait_for_prices(updater: Any) -> None:
    problem = wait_for_prices(updater, PRICE_WAIT_S)
    if problem:
        warn(f"warning: {problem}")


async def _run(conversation: Conversation, plan: Plan) -> Outcome:
    try:
        return await conversation.run(plan)
    finally:
        await conversation.ladder.aclose()


def _printer(stream_text: bool, out: TextIO = sys.stdout):  # type: ignore[no-untyped-def]
    def show(event: EngineEvent) -> None:
        match event:
            case TextDelta(text=text) if stream_text:
                out.write(for_terminal(text))
                out.flush()
            case Notice(text=text):
                warn(text)
            case FallingBack(from_tier=bad, to_tier=good, failed=failed):
                warn(f"{bad} failed ({failed.message}); falling back to {good}")
            case StoreProblem(message=message):
                warn(f"warning: {message}")

    return show


def _as_json(outcome: Outcome, route: str) -> dict[str, object]:
    final = outcome.final
    reply, record = final.reply, final.record
    u = reply.usage
    costs = [a.record.cost.usd for a in outcome.attempts]
    total = None if any(c is None for c in costs) else sum(c for c in costs if c is not None)
    return {
        "text": reply.text,
        "tier": final.tier,
        "model": final.model,
        "finish_reason": reply.finish_reason,
        "usage": {
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "cached_input_tokens": u.cached_input_tokens,
            "cache_write_tokens": u.cache_write_tokens,
            "estimated": u.estimated,
        },
        # Exact decimal string; null only when the price is unknown.
        "cost_usd": None if record.cost.usd is None else str(record.cost.usd),
        "cost_estimated": not record.cost.exact,
        "error": reply.failed.message if reply.failed else None,
        "route": route,
        # Every rung that was tried, in order (a failed one, then its fallback).
        "attempts": [
            {
                "tier": a.tier,
                "model": a.model,
                "finish_reason": a.reply.finish_reason,
                "error": a.reply.failed.message if a.reply.failed else None,
                "cost_usd": None if a.record.cost.usd is None else str(a.record.cost.usd),
            }
            for a in outcome.attempts
        ],
        "total_cost_usd": None if total is None else str(total),
    }
