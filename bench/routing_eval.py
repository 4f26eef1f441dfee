"""How well the router sorts prompts, how fast it decides, and what the routed mix costs.

    python bench/routing_eval.py [FILE.jsonl ...]   (default: ../shared/eval/routing_dev.jsonl)

Each line is {"prompt": ..., "label": "quick" | "hard"}. Reports, per file:
- the share of hard prompts sent above the local rung, and of quick prompts kept local;
- decision time per prompt, against a reference measured in the same run (one regex
  search over the prompt, the cheapest thing any router must do);
- the cost of the routed mix against sending everything to the premium reference
  model, with token counts estimated from the prompt and a typical answer length.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rung.tiers.base import ChatRequest, Message, Usage, estimate_tokens
from rung.tiers.pricing import PriceBook, format_usd
from rung.tiers.router import Rung, choose

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "routing_dev.jsonl"
# Typical answer lengths in tokens (a short fact vs a worked engineering answer).
ANSWER_TOKENS = {"quick": 150, "hard": 900}
PROMPT_OVERHEAD = 40  # system prompt and chat template
WHEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a fixed, peak-price moment
PREMIUM = ("anthropic", "claude-opus-4-5")
CHEAP = ("deepseek", "deepseek-chat")


def evaluate(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    requests = [ChatRequest(messages=(Message("user", r["prompt"]),)) for r in rows]
    two = [Rung("local", "local"), Rung("api", "api")]
    three = [Rung("local", "local"), Rung("deepseek", "api"), Rung("anthropic", "api")]

    decisions = [choose(req, two) for req in requests]
    hard = [d for d, r in zip(decisions, rows, strict=True) if r["label"] == "hard"]
    quick = [d for d, r in zip(decisions, rows, strict=True) if r["label"] == "quick"]
    hard_up = sum(d.rung > 0 for d in hard) / max(1, len(hard))
    quick_local = sum(d.rung == 0 for d in quick) / max(1, len(quick))

    # Timing: each prompt decided 200 times; reference is one regex pass per prompt.
    probe = re.compile(r"\bdesign\b", re.IGNORECASE)
    rounds = 200
    t0 = time.perf_counter()
    for _ in range(rounds):
        for req in requests:
            choose(req, two)
    router_us = (time.perf_counter() - t0) / (rounds * len(requests)) * 1e6
    t0 = time.perf_counter()
    for _ in range(rounds):
        for r in rows:
            probe.search(r["prompt"])
    regex_us = (time.perf_counter() - t0) / (rounds * len(rows)) * 1e6

    book = PriceBook()

    def cost(provider_model: tuple[str, str], usage: Usage) -> Decimal:
        return book.api_cost(*provider_model, usage, WHEN).usd or Decimal(0)

    premium_all = routed_two = routed_three = Decimal(0)
    for r, d2, req in zip(rows, decisions, requests, strict=True):
        usage = Usage(
            input_tokens=estimate_tokens(r["prompt"]) + PROMPT_OVERHEAD,
            output_tokens=ANSWER_TOKENS[r["label"]],
        )
        premium_all += cost(PREMIUM, usage)
        routed_two += cost(PREMIUM, usage) if d2.rung > 0 else Decimal(0)
        d3 = choose(req, three)
        routed_three += [Decimal(0), cost(CHEAP, usage), cost(PREMIUM, usage)][d3.rung]

    print(f"== {path.name}: {len(rows)} prompts ({len(hard)} hard, {len(quick)} quick)")
    print(f"hard prompts sent above local : {hard_up:6.1%}  (target >= 90%)")
    print(f"quick prompts kept local      : {quick_local:6.1%}  (target >= 80%)")
    print(
        f"decision time per prompt      : {router_us:6.1f} us  "
        f"(one regex search: {regex_us:.2f} us; ratio {router_us / regex_us:.0f}x)"
    )
    print(
        f"scores: hard median {statistics.median(d.score for d in hard):.2f}, "
        f"quick median {statistics.median(d.score for d in quick):.2f}"
    )
    print(f"cost, everything on {PREMIUM[1]:<18}: {format_usd(premium_all)}")
    print(
        f"cost, routed local|{PREMIUM[1]:<18}: {format_usd(routed_two)}"
        f"  ({routed_two / premium_all:.1%} of premium)"
    )
    print(
        f"cost, routed local|{CHEAP[1]}|{PREMIUM[1]}: {format_usd(routed_three)}"
        f"  ({routed_three / premium_all:.1%} of premium)"
    )
    misses = [
        (r["label"], d.score, r["prompt"][:70].replace("\n", " "))
        for r, d in zip(rows, decisions, strict=True)
        if (d.rung > 0) != (r["label"] == "hard")
    ]
    for label, score, prompt in misses:
        print(f"  miss: {label:5} score {score:.2f}  {prompt}")
    print()


if __name__ == "__main__":
    files = [Path(a) for a in sys.argv[1:]] or [DEFAULT]
    for file in files:
        evaluate(file)
