"""`rung ask`: one question, the answer streamed to stdout, errors on stderr."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from rung.engine import attachments
from rung.engine.build_tiers import RungOverrides, UnknownTierError, build_tier, key_store
from rung.engine.config import Config
from rung.engine.ladder import static_ladder
from rung.engine.prices_update import start_price_updates, wait_for_prices
from rung.engine.session import Session
from rung.tiers.base import ChatRequest, Event, Message, Reply, TextDelta, Tier
from rung.tiers.meter import MessageCost
from rung.tiers.router import Decision, Rung, choose, next_usable
from rung.tiers.turn import Turn

# With price updates on, how long an answered question waits for fresh prices.
PRICE_WAIT_S = 5.0


def _question(args: argparse.Namespace) -> str | None:
    """The question from the arguments, the pipe, or both: `git diff | rung ask "write a
    commit message"` sends the instruction followed by the piped text."""
    asked = " ".join(args.question).strip()
    piped = ""
    if sys.stdin is not None and not sys.stdin.isatty():
        piped = sys.stdin.read().strip()
    if asked and piped:
        return f"{asked}\n\n{piped}"
    return asked or piped or None


def run_ask(args: argparse.Namespace, config: Config) -> int:
    for problem in config.problems:
        print(f"rung: warning: {problem}", file=sys.stderr)
    question = _question(args)
    if not question:
        print("rung ask: no question given (pass it as an argument or on stdin)", file=sys.stderr)
        return 2
    overrides = RungOverrides(args.tier, args.model, args.base_url)
    question, attached, problems = attachments.expand(question, Path.cwd())
    for problem in problems:
        print(f"rung: not attached: {problem}", file=sys.stderr)
    if attached:
        print(f"rung: attached {attachments.describe(attached)}", file=sys.stderr)
    request = ChatRequest(
        messages=(Message("user", question),),
        system=args.system if args.system is not None else config.get("ui", "system_prompt"),
        max_tokens=args.max_tokens or config.get("ui", "max_tokens"),
    )
    if overrides.tier:
        ladder = [Rung(overrides.tier, "api")]
        decision = Decision(0, overrides.tier, 0.0, f"pinned: {overrides.tier}")
    else:
        ladder = static_ladder(config, key_store(config))
        decision = choose(request, ladder, config.get("ladder", "quality"))
    updater = start_price_updates(config)
    session = Session(config, "ask")
    if session.store_error:
        print(f"rung: warning: {session.store_error}", file=sys.stderr)
    index = decision.rung
    while True:
        name = ladder[index].name
        try:
            # Only the rung that answers is built: no model loads for nothing. --model and
            # --base-url belong to --tier, or without it to the first rung.
            tier = build_tier(name, config, overrides if index == 0 else RungOverrides())
        except UnknownTierError as exc:
            print(f"rung: {exc}", file=sys.stderr)
            return 2
        verdict = session.allows(tier)
        if verdict.blocks_paid:
            print(f"rung: {verdict.message} (try --tier local)", file=sys.stderr)
            return 1
        if verdict.level == "warn":
            print(f"rung: warning: {verdict.message}", file=sys.stderr)
        try:
            reply = asyncio.run(_ask(tier, request, stream_text=not args.json))
        except KeyboardInterrupt:
            print("\nrung: interrupted", file=sys.stderr)
            return 130
        finally:
            close = getattr(tier, "close", None)
            if close:
                close()
        if updater is not None:
            problem = wait_for_prices(updater, PRICE_WAIT_S)
            if problem:
                print(f"rung: warning: {problem}", file=sys.stderr)
        record = session.record(tier, question, reply)
        above = next_usable(ladder, index) if reply.failed is not None else None
        if above is None or overrides.tier or not config.get("ladder", "fallback"):
            break
        failure = reply.failed.message if reply.failed else ""
        print(f"rung: {name} failed ({failure}); falling back to {ladder[above].name}",
              file=sys.stderr)  # fmt: skip
        index = above
    session.close()
    if updater is not None:
        updater.stop()
    if args.json:
        print(json.dumps(_as_json(tier, reply, record, decision.reason), ensure_ascii=False))
    elif reply.text and not reply.text.endswith("\n"):
        print()
    for notice in reply.notices:
        print(f"rung: {notice}", file=sys.stderr)
    if reply.failed is not None:
        print(f"rung: {tier.name}: {reply.failed.message}", file=sys.stderr)
        return 1
    return 0


async def _ask(tier: Tier, request: ChatRequest, stream_text: bool) -> Reply:
    def write(event: Event) -> None:
        if stream_text and isinstance(event, TextDelta):
            sys.stdout.write(event.text)
            sys.stdout.flush()

    try:
        return await Turn(tier, request, [write]).run()
    finally:
        await tier.aclose()


def _as_json(tier: Tier, reply: Reply, record: MessageCost, route: str) -> dict[str, object]:
    u = reply.usage
    return {
        "text": reply.text,
        "tier": tier.name,
        "model": (reply.finished.model if reply.finished and reply.finished.model else tier.model),
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
    }
