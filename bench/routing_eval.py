"""How well the router sorts prompts, how fast it decides, and what the routed mix costs.

    python bench/routing_eval.py [FILE.jsonl ...]

With no file: every labelled set we keep, each reported separately: the held-aside
sets bench/router_data/test.jsonl and test2.jsonl, bench/routing_heldout.jsonl,
bench/routing_fresh.jsonl and the shared dev set (../shared/eval/routing_dev.jsonl).
Each line is {"prompt": ..., "label": "quick" | "hard"}. Reports, per file:
- the share of hard prompts sent above the local rung and of quick prompts kept local
  (ladder local|api, quality 0.5), for the trained model and for the hand-weighted
  score it falls back on, both measured in this run;
- decision time per prompt (median and 90th percentile over the prompts, each timed
  over many rounds), against two references measured in the same run: one regex
  search over the prompt (the least any router must do) and the hand-weighted router;
- the cost of the routed mix against sending everything to the premium reference
  model, with token counts estimated from the prompt and a typical answer length;
- the same with a populated lessons store (what the router learned from a user,
  tiers/lessons.py): ``MAX_LESSONS`` lessons made from bench/router_data/train.jsonl
  (hard prompts escalated from local, quick ones kept on local), never from the set
  being scored. Its decision time, its rates, and how many decisions it changed;
- the decision time of the engine's full call: lessons, and a context that prices the
  rungs (a three-rung ladder with real models, so a climb prices the rung passed over).
Once: the time to read the model file, paid by the first decision only.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from rung.tiers import router
from rung.tiers.base import ChatRequest, Message, Usage, estimate_tokens
from rung.tiers.lessons import DOWN, MAX_LESSONS, UP, Lesson, LessonMemory
from rung.tiers.pricing import PriceBook, format_usd
from rung.tiers.route_cost import RouteContext
from rung.tiers.router import Decision, Rung, TrainedModel, choose

BENCH = Path(__file__).resolve().parent
SHARED_DEV = BENCH.parents[1] / "shared" / "eval" / "routing_dev.jsonl"
DEFAULT = [
    BENCH / "router_data" / "test.jsonl",
    BENCH / "router_data" / "test2.jsonl",
    BENCH / "routing_heldout.jsonl",
    BENCH / "routing_fresh.jsonl",
    SHARED_DEV,
]
# Typical answer lengths in tokens (a short fact vs a worked engineering answer).
ANSWER_TOKENS = {"quick": 150, "hard": 900}
PROMPT_OVERHEAD = 40  # system prompt and chat template
WHEN = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a fixed, peak-price moment
PREMIUM = ("anthropic", "claude-opus-4-5")
CHEAP = ("deepseek", "deepseek-chat")
TWO = [Rung("local", "local"), Rung("api", "api")]
THREE = [Rung("local", "local"), Rung("deepseek", "api"), Rung("anthropic", "api")]
# The same ladder as the engine builds it: priced, and the local model's context window.
PRICED = [
    Rung("local", "local", n_ctx=4096),
    Rung("deepseek", "api", provider=CHEAP[0], model=CHEAP[1]),
    Rung("anthropic", "api", provider=PREMIUM[0], model=PREMIUM[1]),
]
TRAIN = BENCH / "router_data" / "train.jsonl"
ROUNDS = 40  # each prompt is decided this many times; its time is the mean


@contextmanager
def hand_only() -> Iterator[None]:
    """Route as if the model file were missing: the fallback Rung uses then."""
    shipped = router.MODEL_FILE
    router.MODEL_FILE = shipped.with_name("no-such-model.json")
    router.trained_model.cache_clear()
    try:
        yield
    finally:
        router.MODEL_FILE = shipped
        router.trained_model.cache_clear()


def per_prompt_us(
    requests: list[ChatRequest], decide: Callable[[ChatRequest], object]
) -> list[float]:
    times = []
    for req in requests:
        t0 = time.perf_counter()
        for _ in range(ROUNDS):
            decide(req)
        times.append((time.perf_counter() - t0) / ROUNDS * 1e6)
    return times


def interleaved_us(
    requests: list[ChatRequest], deciders: dict[str, Callable[[ChatRequest], object]]
) -> dict[str, list[float]]:
    """Per prompt, each decider's mean time, the deciders taking turns round by round:
    on a shared machine a load spike then hits all of them alike, so their ratios hold."""
    times: dict[str, list[float]] = {name: [] for name in deciders}
    for req in requests:
        spent = dict.fromkeys(deciders, 0.0)
        for _ in range(ROUNDS):
            for name, decide in deciders.items():
                t0 = time.perf_counter()
                decide(req)
                spent[name] += time.perf_counter() - t0
        for name in deciders:
            times[name].append(spent[name] / ROUNDS * 1e6)
    return times


def p90(values: list[float]) -> float:
    return sorted(values)[int(0.9 * (len(values) - 1))]


def rates(rows: list[dict[str, str]], decisions: list[Decision]) -> tuple[float, float, int, int]:
    labels = [r["label"] for r in rows]
    hard = [d for d, label in zip(decisions, labels, strict=True) if label == "hard"]
    quick = [d for d, label in zip(decisions, labels, strict=True) if label == "quick"]
    hard_up = sum(d.rung > 0 for d in hard) / max(1, len(hard))
    quick_local = sum(d.rung == 0 for d in quick) / max(1, len(quick))
    return hard_up, quick_local, len(hard), len(quick)


def populated_memory(exclude: set[str]) -> LessonMemory:
    """A full lessons store, as a heavy user's would be: training prompts, hard ones
    escalated from local and quick ones kept on local (none from the set scored)."""
    rows = [json.loads(line) for line in TRAIN.read_text().splitlines() if line.strip()]
    lessons = [
        Lesson(r["prompt"][:300], UP, "local", "api")
        if r["label"] == "hard"
        else Lesson(r["prompt"][:300], DOWN, "local")
        for r in rows
        if r["prompt"] not in exclude
    ]
    return LessonMemory(lessons[-MAX_LESSONS:])


def evaluate(path: Path) -> dict[str, float]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    requests = [ChatRequest(messages=(Message("user", r["prompt"]),)) for r in rows]
    if router.trained_model() is None:
        print(f"warning: {router.MODEL_FILE.name} did not load; both rows are the fallback")

    decisions = [choose(req, TWO) for req in requests]
    hard_up, quick_local, n_hard, n_quick = rates(rows, decisions)
    with hand_only():
        hand_decisions = [choose(req, TWO) for req in requests]
        hand_us = per_prompt_us(requests, lambda req: choose(req, TWO))
    hand_up, hand_local, _, _ = rates(rows, hand_decisions)
    probe = re.compile(r"\bdesign\b", re.IGNORECASE)
    regex_us = per_prompt_us(requests, lambda req: probe.search(req.messages[-1].content))
    memory = populated_memory({r["prompt"] for r in rows})
    learned = [choose(req, TWO, 0.5, None, memory) for req in requests]
    learned_up, learned_local, _, _ = rates(rows, learned)
    changed = sum(a.rung != b.rung for a, b in zip(decisions, learned, strict=True))
    touched = sum(d.learned is not None for d in learned)
    prices = PriceBook()
    prices.api_cost(*CHEAP, Usage(1, 1), WHEN)  # genai-prices loads once per process
    context = RouteContext(prices=prices, when=WHEN)
    # The model alone, with lessons, and the engine's full call, timed turn by turn.
    timed = interleaved_us(requests, {
        "model": lambda req: choose(req, TWO),
        "lessons": lambda req: choose(req, TWO, 0.5, None, memory),
        "full": lambda req: choose(req, PRICED, 0.5, context, memory),
    })  # fmt: skip
    lessons_us, full_us = timed["lessons"], timed["full"]

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
        d3 = choose(req, THREE)
        routed_three += [Decimal(0), cost(CHEAP, usage), cost(PREMIUM, usage)][d3.rung]

    model_us = timed["model"]
    median_model, median_hand = statistics.median(model_us), statistics.median(hand_us)
    median_regex = statistics.median(regex_us)
    median_lessons, median_full = statistics.median(lessons_us), statistics.median(full_us)
    print(f"== {path.name}: {len(rows)} prompts ({n_hard} hard, {n_quick} quick)")
    print(f"hard prompts sent above local : {hard_up:6.1%}  (hand-weighted: {hand_up:.1%})")
    print(f"quick prompts kept local      : {quick_local:6.1%}  (hand-weighted: {hand_local:.1%})")
    print(
        f"decision time, median (p90)   : {median_model:6.1f} us ({p90(model_us):.1f})  "
        f"hand-weighted {median_hand:.1f} us, one regex search {median_regex:.2f} us; "
        f"ratios {median_model / median_hand:.1f}x hand, {median_model / median_regex:.0f}x regex"
    )
    print(
        f"with {len(memory)} lessons        : hard above local {learned_up:.1%}, quick local "
        f"{learned_local:.1%}; {touched} decisions had a similar lesson, {changed} changed rung"
    )
    print(
        f"decision time with lessons    : {median_lessons:6.1f} us ({p90(lessons_us):.1f}); "
        f"lessons + priced 3-rung context {median_full:.1f} us ({p90(full_us):.1f})"
    )
    hard_scores = [d.score for d, r in zip(decisions, rows, strict=True) if r["label"] == "hard"]
    quick_scores = [d.score for d, r in zip(decisions, rows, strict=True) if r["label"] == "quick"]
    print(
        f"scores: hard median {statistics.median(hard_scores):.2f}, "
        f"quick median {statistics.median(quick_scores):.2f}"
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
    for r, d in zip(rows, decisions, strict=True):
        if (d.rung > 0) != (r["label"] == "hard"):
            prompt = r["prompt"][:60].replace("\n", " ")
            print(f"  miss: {r['label']:5} score {d.score:.2f}  {prompt!r} -> {d.reason}")
    print()
    return {"model_us": median_model, "hand_us": median_hand, "regex_us": median_regex,
            "lessons_us": median_lessons, "full_us": median_full}  # fmt: skip


def load_time_ms() -> float:
    """Reading and decoding the model file: once per process, on the first decision."""
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        TrainedModel.load(router.MODEL_FILE)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


if __name__ == "__main__":
    files = [Path(a) for a in sys.argv[1:]] or [p for p in DEFAULT if p.exists()]
    size_kb = router.MODEL_FILE.stat().st_size / 1024 if router.MODEL_FILE.exists() else 0
    print(
        f"model file: {router.MODEL_FILE.name}, {size_kb:.0f} KB, read in {load_time_ms():.1f} ms"
    )
    print()
    medians = [evaluate(file) for file in files]
    if len(medians) > 1:
        print(
            "median decision time over the sets: "
            f"{statistics.median(m['model_us'] for m in medians):.1f} us "
            f"(hand-weighted {statistics.median(m['hand_us'] for m in medians):.1f} us, "
            f"one regex search {statistics.median(m['regex_us'] for m in medians):.2f} us); "
            f"with {MAX_LESSONS} lessons {statistics.median(m['lessons_us'] for m in medians):.1f}"
            f" us, with lessons and prices {statistics.median(m['full_us'] for m in medians):.1f}"
            " us"
        )
