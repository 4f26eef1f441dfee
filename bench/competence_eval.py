"""Does competence-aware routing keep only answers that are right? Measured on the
HELD-ASIDE set (tiers/calibration/heldout.jsonl: written apart from the calibration
set, never used to tune the task-kind rules, the bar or the profiles).

    python bench/competence_eval.py            # route with cached local answers
    python bench/competence_eval.py --run      # ask the embedded model again (minutes)

1. The embedded SmolLM2-135M answers every held-aside prompt, with the product's
   default system prompt, temperature 0, 64 tokens (cached in
   bench/competence_data/heldout_local_answers.jsonl, with its check's verdict).
2. Auto routes each prompt on the ladder local → deepseek → anthropic, once by the
   difficulty score alone (before) and once with the models' competence (after), at
   the default quality. Printed: kept local N/M and right K/N for each.
3. Cost: every prompt priced on the rung Auto chose (genai-prices' real prices, the
   providers' default models; a local answer is free) against all on the premium rung.
4. Bigger local models: the same routing with a documented prior profile for a 1.5B
   and a 7B GGUF (tiers/competence.py size_prior): how many prompts each would keep
   local, and the precision its profile predicts (it cannot be run here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

from rung.engine.calibration import Labelled, answer, passed, read_set
from rung.engine.config import SCHEMA
from rung.tiers.base import ChatRequest, Message
from rung.tiers.competence import (
    HELDOUT_SET,
    Profile,
    bar,
    provider_prior,
    shipped_profiles,
    size_prior,
)
from rung.tiers.local import EMBEDDED_MODEL_FILE
from rung.tiers.pricing import PriceBook
from rung.tiers.route_cost import RouteContext, expected_cost, next_usage, prompt_tokens
from rung.tiers.router import Rung, choose

ANSWERS = Path(__file__).with_name("competence_data") / "heldout_local_answers.jsonl"
OUTPUT_TOKENS = 150  # a short answer's length, for pricing every rung alike
# The system prompt every product path sends (`[ui] system_prompt`'s default): the model
# is measured as users meet it, as `rung calibrate` does.
SYSTEM = SCHEMA["ui"]["system_prompt"][1]
LADDER = [
    Rung("local", "local", provider="local", model="SmolLM2-135M-Instruct", n_ctx=2048),
    Rung("deepseek", "api", provider="deepseek", model="deepseek-v4-flash"),
    Rung("anthropic", "api", provider="anthropic", model="claude-opus-4-6"),
]


def run_local(items: list[Labelled]) -> list[dict[str, object]]:
    from rung.tiers.local import LocalTier

    tier = LocalTier(n_ctx=2048)  # loads as the product does (llama_safety decides)
    tier.wait_loaded()
    if not tier.ready:
        sys.exit(f"local model not ready: {tier.load_error}")

    async def go() -> list[dict[str, object]]:
        rows = []
        for i, item in enumerate(items, 1):
            text = await answer(tier, item.prompt.text, 64, SYSTEM)
            ok = passed(item.prompt.checks, text)
            print(f"[{i}/{len(items)}] {item.kind} {'right' if ok else 'wrong'}", file=sys.stderr)
            rows.append({"prompt": item.prompt.text, "kind": item.kind, "text": text, "right": ok})
        return rows

    try:
        return asyncio.run(go())
    finally:
        tier.close()


def route_all(
    items: list[Labelled], profiles: dict[str, Profile] | None, quality: float = 0.5
) -> list[int]:
    out = []
    for item in items:
        request = ChatRequest(messages=(Message("user", item.prompt.text),))
        out.append(choose(request, LADDER, quality, competence=profiles).rung)
    return out


def cost_of(items: list[Labelled], rungs: list[int], prices: PriceBook) -> Decimal:
    total = Decimal(0)
    when = None
    for item, index in zip(items, rungs, strict=True):
        rung = LADDER[index]
        request = ChatRequest(messages=(Message("user", item.prompt.text),))
        usage = next_usage(rung.provider, prompt_tokens(request, RouteContext()), OUTPUT_TOKENS, 0)
        cost = expected_cost(rung.kind, rung.provider, rung.model, usage, prices, when)
        total += cost or Decimal(0)
    return total


def summary(label: str, rungs: list[int], right: list[bool]) -> dict[str, object]:
    local = [i for i, r in enumerate(rungs) if r == 0]
    good = sum(1 for i in local if right[i])
    precision = good / len(local) if local else 1.0
    print(f"{label:<34} kept local {len(local):>2}/{len(rungs)}  right {good:>2}/{len(local):<2}"
          f" ({precision:.0%})")  # fmt: skip
    return {"kept": len(local), "of": len(rungs), "right": good, "precision": round(precision, 3)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run", action="store_true", help="ask the embedded model again")
    parser.add_argument("--quality", type=float, default=0.5)
    args = parser.parse_args()
    items = read_set(HELDOUT_SET)
    if args.run or not ANSWERS.exists():
        started = time.monotonic()
        rows = run_local(items)
        ANSWERS.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        print(f"asked the embedded model {len(rows)} prompts in {time.monotonic() - started:.0f} s",
              file=sys.stderr)  # fmt: skip
    cached = {r["prompt"]: r for r in map(json.loads, ANSWERS.read_text().splitlines())}
    right = [bool(cached[i.prompt.text]["right"]) for i in items]
    print(f"held-aside set: {len(items)} prompts; the embedded model alone gets "
          f"{sum(right)}/{len(items)} right ({sum(right) / len(items):.0%})")  # fmt: skip
    embedded = shipped_profiles().get(EMBEDDED_MODEL_FILE)
    if embedded is None:
        sys.exit("no shipped profile for the embedded model: run rung calibrate first")
    remote = {"deepseek": provider_prior("deepseek", "deepseek-v4-flash"),
              "anthropic": provider_prior("anthropic", "claude-opus-4-6")}  # fmt: skip
    q = args.quality
    print(f"quality {q}: competence bar {bar(q):.2f}")
    before = route_all(items, None, q)
    after = route_all(items, {"local": embedded, **remote}, q)
    results = {
        "before (difficulty score only)": summary("before (difficulty score only)", before, right),
        "after (with competence)": summary("after (with competence)", after, right),
    }
    prices = PriceBook.from_tables({})
    premium = cost_of(items, [2] * len(items), prices)
    for label, rungs in (("before", before), ("after", after)):
        spent = cost_of(items, rungs, prices)
        counts = [rungs.count(i) for i in range(3)]
        print(f"cost {label:<7} ${spent:.4f} vs all-premium ${premium:.4f} "
              f"({spent / premium:.0%}); local/deepseek/anthropic = {counts}")  # fmt: skip
    print("the quality dial with the embedded model (kept local, right):")
    for dial in (0.0, 0.1, 0.2, 0.25, 0.3, 0.5, 1.0):
        rungs = route_all(items, {"local": embedded, **remote}, dial)
        kept = [i for i, r in enumerate(rungs) if r == 0]
        good = sum(right[i] for i in kept)
        print(f"  quality {dial:.2f} (bar {bar(dial):.2f}): kept {len(kept)}/{len(items)}, "
              f"right {good}/{len(kept)}")  # fmt: skip
    # Interleaved rounds, median per decision: on a busy machine one block of rounds
    # after the other measures the load, not the gate.
    timed: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(8):
        for gated in (True, False):
            started = time.perf_counter()
            route_all(items, {"local": embedded, **remote} if gated else None, q)
            timed[gated].append((time.perf_counter() - started) / len(items))
    with_gate, without = statistics.median(timed[True]), statistics.median(timed[False])
    print(
        f"decision time: {with_gate * 1e6:.0f} us with competence, {without * 1e6:.0f} us without"
    )
    print("bigger local models (prior profiles, predicted precision = mean P(right) kept):")
    for label, params in (("1.5B Q4_K_M", 1.5e9), ("7B Q4_K_M", 7e9)):
        prior = size_prior(label, params, 4.85)
        rungs = route_all(items, {"local": prior, **remote}, q)
        kept = [i for i, r in enumerate(rungs) if r == 0]
        predicted = sum(prior.rate(items[i].kind) for i in kept) / len(kept) if kept else 1.0
        print(f"  {label:<12} kept local {len(kept)}/{len(items)}, predicted right {predicted:.0%}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
