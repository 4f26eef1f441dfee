"""`rung ask`: one question, the answer streamed to stdout, errors on stderr.

A thin view of the conversation engine: it prints the engine's events. Everything that
did not come from Rung itself passes through the terminal sanitizer on its way out.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from rung.cli import pipes
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
from rung.engine.ladder import Ladder
from rung.engine.prices_update import start_price_updates, wait_for_prices
from rung.engine.safe_text import StreamSanitizer, for_terminal, json_for_terminal
from rung.engine.session import Session
from rung.tiers.base import Failed, Finished, Notice, TextDelta, Usage
from rung.tiers.pricing import usd_text
from rung.tiers.providers import PROVIDERS

# With price updates on, how long an answered question waits for fresh prices.
PRICE_WAIT_S = 5.0


def warn(message: str) -> None:
    print(f"rung: {for_terminal(message)}", file=sys.stderr, flush=True)


def _question(args: argparse.Namespace) -> tuple[str, str] | None:
    """(what the user typed, what was piped in), or None after saying why stdin cannot
    be sent. `git diff | rung ask "write a commit message"` sends the instruction
    followed by the piped text."""
    # An argument that is not UTF-8 arrives with surrogate escapes, which no encoder
    # takes: its odd bytes become U+FFFD, as in piped text.
    asked = " ".join(args.question).strip()
    asked = asked.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if sys.stdin is None or sys.stdin.isatty():
        return asked, ""
    piped = pipes.read_stdin()
    size = _size(pipes.MAX_STDIN_BYTES)
    if piped.too_big and not getattr(args, "truncate_stdin", False):
        print(
            f"rung ask: stdin is more than {size}; nothing was sent. Pass --truncate-stdin "
            f"to send its first {size}, or pipe in less (e.g. `| tail -c 500000`).",
            file=sys.stderr,
        )
        return None
    if piped.too_big:
        warn(f"stdin is more than {size}: sending its first {size} only (--truncate-stdin)")
    if piped.replaced:
        warn(
            f"stdin is not UTF-8 text: {piped.replaced} byte(s) that could not be read "
            "are sent as U+FFFD (\ufffd)"
        )
    return asked, piped.text.strip()


def _size(n: int) -> str:
    return f"{n // 1_048_576} MiB" if n % 1_048_576 == 0 else f"{n:,} bytes"


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
    from rung.cli.agent_ask import usage_problem

    agent_problem = usage_problem(args)
    if agent_problem:
        print(f"rung ask: {agent_problem}", file=sys.stderr)
        return 2
    question_parts = _question(args)
    if question_parts is None:
        return 2
    asked, piped = question_parts
    if not asked and not piped and not (args.agent and args.continue_last):
        print("rung ask: no question given (pass it as an argument or on stdin)", file=sys.stderr)
        return 2
    if args.tier and args.tier not in PROVIDERS:
        print(f"rung: Unknown tier {args.tier!r}. Known tiers: {', '.join(PROVIDERS)}.",
              file=sys.stderr)  # fmt: skip
        return 2
    if args.agent:  # the agent reads files itself: @path is not expanded
        from rung.cli.agent_ask import run_agent_ask

        question = f"{asked}\n\n{piped}" if asked and piped else asked or piped
        return run_agent_ask(args, config, question)
    question = _attach(asked, piped)
    wants_edits = getattr(args, "diff", False) or getattr(args, "apply", False)
    if wants_edits and "<file path=" not in question:
        print("rung ask: --diff and --apply need files attached with @path in the question",
              file=sys.stderr)  # fmt: skip
        return 2
    if getattr(args, "trust_base_url", False):
        _trust_base_url(args.tier, config)
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
    # A reader that closed stdout has read enough: the reply stops there (late binding:
    # ``conversation`` exists by the time text is printed) and is saved as cancelled.
    printer = _printer(not args.json, text_out, on_closed=lambda: conversation.cancel())
    conversation = Conversation(ladder, session, options, [printer])
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
    if final.reply.finish_reason == "length":
        warn(_cut_note(args.max_tokens, options.max_tokens, final.reply.usage))
    if wants_edits:
        return _edits(conversation, args)
    return 0


def _trust_base_url(tier: str | None, config: Config) -> None:
    """--trust-base-url: confirm the config's base URL for the tier asked (or the first
    rung), as `rung trust-host` would."""
    from rung.engine.trusted_hosts import trust_configured

    name = tier or (config.get("ladder", "rungs") or ["local"])[0]
    host, message = trust_configured(config, name)
    if host:
        warn(message)


def _edits(conversation: Conversation, args: argparse.Namespace) -> int:
    """The answer's proposed edits as a diff on stdout (`| git apply`), or applied.

    Only attached files are changed, and others the flags allow (--allow-new,
    --allow-path; a file that runs code by itself only when named exactly): each file
    left out is named with the reason, the rest still goes ahead, and the exit code is 1.
    Nothing is applied when any block cannot be used: a half-applied change is worse
    than none."""
    # Here, not at the top: the edits library (~70 ms) is for --diff and --apply only.
    from rung.engine.edits import apply_proposal
    from rung.engine.edits.policy import Allowance
    from rung.engine.workspace import edits_journal, proposal_for

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


def _cut_note(asked: int | None, limit: int, usage: Usage) -> str:
    """Why the answer ends where it does, when the limit (not the model) ended it."""
    produced = usage.output_tokens
    if produced and produced < limit and not usage.estimated:
        # Fewer tokens than allowed: the model's context window ran out first.
        return f"answer cut after {produced} tokens: the model's context window is full"
    if asked:
        return f"answer cut at the --max-tokens limit ({asked})"
    return f"answer cut at the output token limit ({limit}; raise it with --max-tokens)"


def _wait_for_prices(updater: Any) -> None:
    problem = wait_for_prices(updater, PRICE_WAIT_S)
    if problem:
        warn(f"warning: {problem}")


async def _run(conversation: Conversation, plan: Plan) -> Outcome:
    try:
        return await conversation.run(plan)
    finally:
        await conversation.ladder.aclose()


def _printer(  # type: ignore[no-untyped-def]
    stream_text: bool, out: TextIO = sys.stdout, on_closed: Callable[[], None] | None = None
):
    closed = False
    # Keys split across two pieces are masked too: the last word waits for the next.
    sanitizer = StreamSanitizer()

    def write(text: str) -> None:
        nonlocal closed
        if closed or not text:
            return
        try:
            out.write(text)
            out.flush()
        except OSError as exc:
            if not pipes.is_closed_pipe(exc):
                raise
            # The reader left (`| head -1`): the end of this answer, not a failure.
            closed = True
            if out is sys.stdout:
                pipes.silence_stdout()
            if on_closed is not None:
                on_closed()

    def show(event: EngineEvent) -> None:
        match event:
            case TextDelta(text=text) if stream_text:
                write(sanitizer.feed(text))
            case Finished() | Failed() if stream_text:
                write(sanitizer.end())
            case Notice(text=text):
                warn(text)
            case FallingBack():
                warn(event.notice)
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
        "cost_usd": None if record.cost.usd is None else usd_text(record.cost.usd),
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
                "cost_usd": None if a.record.cost.usd is None else usd_text(a.record.cost.usd),
            }
            for a in outcome.attempts
        ],
        "total_cost_usd": None if total is None else usd_text(total),
    }
