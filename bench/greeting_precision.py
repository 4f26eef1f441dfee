"""Can the embedded 135M model be trusted with greetings (or echo asks) at the default
quality, honestly? (issue 25, item 2: a non-vacuous "kept local, right >= 90%").

Two levers, both chosen on the CALIBRATION set only, then scored once on the
HELD-ASIDE set (tiers/calibration/heldout.jsonl):

1. How the model is asked: the product's system prompt at 64 tokens (what `rung
   calibrate` measured), the same at 16 tokens, or a greeting-specific system prompt.
2. A cheap check of the draft that is NOT the grader (the grader is each prompt's regex):
   the reply must not repeat the user's line, must be short, must not open with an
   apology, and (optionally) the draft's mean token log-probability must clear a
   threshold chosen on calibration.

    python bench/greeting_precision.py          # drafts cached in competence_data/
    python bench/greeting_precision.py --run    # ask the model again (~3 min)

The model is loaded the product's way (tiers/llama_safety decides the safe load).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import cascade_eval

from rung.engine.calibration import Labelled, passed, read_set
from rung.engine.config import SCHEMA
from rung.tiers.competence import CALIBRATION_SET, HELDOUT_SET, bar, wilson_lower
from rung.tiers.llama_safety import decide_safe, load_llama
from rung.tiers.local import embedded_model_path

DRAFTS = Path(__file__).with_name("competence_data") / "greeting_drafts.jsonl"
KINDS = ("greeting", "echo")
PRODUCT_SYSTEM = SCHEMA["ui"]["system_prompt"][1]
GREETING_SYSTEM = (
    "You are a friendly assistant. When the user greets you, thanks you or says "
    "goodbye, answer in one short, polite sentence that fits what they said."
)
VARIANTS = {
    "product prompt, 64 tokens": (PRODUCT_SYSTEM, 64),
    "product prompt, 16 tokens": (PRODUCT_SYSTEM, 16),
    "greeting prompt, 32 tokens": (GREETING_SYSTEM, 32),
}
WORD = re.compile(r"[a-z']+")


def draft(llm: object, system: str, prompt: str, max_tokens: int) -> tuple[str, float]:
    """The reply (temperature 0) and its mean token log-probability."""
    return cascade_eval.draft(llm, prompt, max_tokens, system)


def items() -> dict[str, list[Labelled]]:
    return {
        name: [i for i in read_set(path) if i.kind in KINDS]
        for name, path in (("calibration", CALIBRATION_SET), ("heldout", HELDOUT_SET))
    }


def collect() -> list[dict[str, object]]:
    path = embedded_model_path()
    assert path is not None
    llm = load_llama(str(path), safe=decide_safe("auto"), n_ctx=2048, verbose=False)
    rows = []
    for name, part in items().items():
        for variant, (system, max_tokens) in VARIANTS.items():
            for item in part:
                text, lp = draft(llm, system, item.prompt.text, max_tokens)
                rows.append({"set": name, "variant": variant, "kind": item.kind,
                             "prompt": item.prompt.text, "text": text,
                             "logprob": round(lp, 4),
                             "right": passed(item.prompt.checks, text)})  # fmt: skip
            print(f"{name} / {variant}: done", file=sys.stderr, flush=True)
    return rows


# -- the cheap checks (independent of the graders' regexes) ----------------------------
def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


def echoes(row: dict[str, object]) -> bool:
    """The reply repeats the user's line (most of its words, in order, at the start)."""
    said, reply = words(str(row["prompt"])), words(str(row["text"]))
    return bool(said) and reply[: len(said)] == said


def too_long(row: dict[str, object], limit: int = 25) -> bool:
    return len(words(str(row["text"]))) > limit


def apologises(row: dict[str, object]) -> bool:
    return bool(re.match(r"\s*(i'?m sorry|i apologi[sz]e|sorry)", str(row["text"]).lower()))


Check = Callable[[dict[str, object]], bool]  # True: keep the draft


def plain(r: dict[str, object]) -> bool:
    """The word checks: not an echo, short, no apology."""
    return not (echoes(r) or too_long(r) or apologises(r))


def confident(threshold: float) -> Check:
    return lambda r: float(r["logprob"]) >= threshold  # type: ignore[arg-type]


def check_set(cal: list[dict[str, object]]) -> dict[str, Check]:
    """The checks; each log-prob threshold is chosen on the calibration rows ``cal``."""
    checks: dict[str, Check] = {
        "no check": lambda r: True,
        "not an echo": lambda r: not echoes(r),
        "not an echo, short, no apology": plain,
    }
    alone = best_threshold(cal, lambda r: True)
    if alone is not None:
        checks[f"log-prob >= {alone:.3f} (alone)"] = confident(alone)
    both = best_threshold(cal, plain)
    if both is not None:
        checks[f"word checks and log-prob >= {both:.3f}"] = lambda r: (
            plain(r) and confident(both)(r)
        )
    return checks


def best_threshold(rows: list[dict[str, object]], first: Check) -> float | None:
    """On the rows ``first`` keeps: the lowest log-prob threshold whose kept drafts' Wilson
    lower bound clears the default bar (most kept); None if none does."""
    base = [r for r in rows if first(r)]
    best = None
    for t in sorted({float(r["logprob"]) for r in base}, reverse=True):  # type: ignore[arg-type]
        kept = [r for r in base if float(r["logprob"]) >= t]  # type: ignore[arg-type]
        if wilson_lower(sum(bool(r["right"]) for r in kept), len(kept)) >= bar(0.5):
            best = t
    return best


def line(label: str, rows: list[dict[str, object]], keep: Check) -> str:
    kept = [r for r in rows if keep(r)]
    good = sum(bool(r["right"]) for r in kept)
    share = f"{good / len(kept):.0%}" if kept else "n/a"
    low = wilson_lower(good, len(kept)) if kept else 0.0
    counts = f"kept {len(kept):>2}/{len(rows):<2} right {good:>2}"
    return f"    {label:<44} {counts} ({share}, lower {low:.2f})"


def main() -> int:
    rows = cascade_eval.cached(DRAFTS, collect)
    print(f"default bar {bar(0.5):.2f}; 'lower' = Wilson lower bound (z 1.28), as Auto uses")
    for kind in KINDS:
        for variant in VARIANTS:
            cal = [
                r
                for r in rows
                if (r["set"], r["variant"], r["kind"]) == ("calibration", variant, kind)
            ]
            held = [
                r for r in rows if (r["set"], r["variant"], r["kind"]) == ("heldout", variant, kind)
            ]
            print(f"{kind} / {variant}")
            for label, keep in check_set(cal).items():
                print(f"  {label}")
                print(line("calibration", cal, keep))
                print(line("held-aside", held, keep))
    return 0


if __name__ == "__main__":
    sys.exit(main())
