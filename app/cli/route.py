"""`rung route`: the router as a command, for scripts and evaluation."""

from __future__ import annotations

import argparse
import json
import sys

from rung.engine.config import Config
from rung.engine.ladder import Ladder, kinds_ladder
from rung.engine.safe_text import for_terminal
from rung.tiers.base import ChatRequest, Message
from rung.tiers.router import Decision, Rung, choose


def _as_dict(decision: Decision) -> dict[str, object]:
    return {
        # Counted from 1, as everywhere a user sees rungs (F2 pins rung 1).
        "rung": decision.rung + 1,
        "tier": decision.tier,
        "score": decision.score,
        "reason": decision.reason,
    }


def run_route(args: argparse.Namespace, config: Config) -> int:
    for problem in config.problems:
        print(f"rung: warning: {problem}", file=sys.stderr)
    ladder: list[Rung] = kinds_ladder(args.ladder) if args.ladder else Ladder(config).rungs()
    if not ladder:
        print("rung route: the ladder is empty", file=sys.stderr)
        return 2
    quality = args.quality if args.quality is not None else config.get("ladder", "quality")

    def decide(prompt: str) -> Decision:
        return choose(ChatRequest(messages=(Message("user", prompt),)), ladder, quality)

    if args.prompt:
        decision = decide(" ".join(args.prompt))
        if args.json:
            print(json.dumps(_as_dict(decision)))
        else:
            print(f"rung {decision.rung + 1} of {len(ladder)} ({decision.tier}), "
                  f"score {decision.score:.2f}: {for_terminal(decision.reason)}")  # fmt: skip
        return 0
    # No prompt: JSON lines on stdin, one decision per line, in order.
    failures = 0
    for number, line in enumerate(sys.stdin, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            prompt = item["prompt"]
            if not isinstance(prompt, str):
                raise TypeError("prompt must be a string")
        except (ValueError, KeyError, TypeError) as exc:
            failures += 1
            print(json.dumps({"error": f"line {number}: {exc}"}), flush=True)
            continue
        print(json.dumps(_as_dict(decide(prompt))), flush=True)
    return 1 if failures else 0
