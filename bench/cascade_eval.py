"""Would a cascade beat plain competence routing? (issue 25, item 3; FrugalGPT-style)

The local model drafts; a cheap check keeps the draft or escalates. The check here is
the draft's mean token log-probability (the model's own confidence), with a keep
threshold chosen on the CALIBRATION set (the smallest threshold whose kept drafts are
right >= 90%) and then scored once on the HELD-ASIDE set.

    python bench/cascade_eval.py          # runs the embedded model on both sets (minutes)

Writes every draft, its log-probability and its check's verdict to
bench/competence_data/cascade_drafts.jsonl, so the threshold can be re-examined
without the model. The model is loaded the product's way (tiers/llama_safety
decides the safe load on AMX CPUs).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from llama_cpp import LogitsProcessorList

from rung.engine.calibration import passed, read_set
from rung.tiers.competence import CALIBRATION_SET, HELDOUT_SET
from rung.tiers.llama_safety import decide_safe, load_llama
from rung.tiers.local import embedded_model_path

DRAFTS = Path(__file__).with_name("competence_data") / "cascade_drafts.jsonl"
TARGET_PRECISION = 0.90


def draft(
    llm: object, prompt: str, max_tokens: int = 64, system: str | None = None
) -> tuple[str, float]:
    """The reply (temperature 0) and its mean token log-probability."""
    chosen: list[float] = []
    previous: list[np.ndarray] = []

    def track(input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if previous:
            chosen.append(float(previous[0][input_ids[-1]]))
            previous.clear()
        shifted = scores - scores.max()
        previous.append(shifted - np.log(np.exp(shifted).sum()))
        return scores

    out = llm.create_chat_completion(  # type: ignore[attr-defined]
        messages=[*([{"role": "system", "content": system}] if system else []),
                  {"role": "user", "content": prompt}],
        max_tokens=max_tokens, temperature=0.0, logits_processor=LogitsProcessorList([track]),
    )  # fmt: skip
    text = out["choices"][0]["message"]["content"] or ""
    return text, statistics.mean(chosen) if chosen else -10.0


def collect() -> list[dict[str, object]]:
    path = embedded_model_path()
    assert path is not None
    llm = load_llama(str(path), safe=decide_safe("auto"), n_ctx=2048, verbose=False)
    rows = []
    for name, file in (("calibration", CALIBRATION_SET), ("heldout", HELDOUT_SET)):
        items = read_set(file)
        for i, item in enumerate(items, 1):
            text, lp = draft(llm, item.prompt.text)
            ok = passed(item.prompt.checks, text)
            rows.append({"set": name, "kind": item.kind, "prompt": item.prompt.text,
                         "logprob": round(lp, 4), "right": ok, "text": text})  # fmt: skip
            print(f"[{name} {i}/{len(items)}] {lp:.3f} {'right' if ok else 'wrong'}",
                  file=sys.stderr, flush=True)  # fmt: skip
    return rows


def threshold(rows: list[dict[str, object]]) -> float | None:
    """The lowest log-prob threshold whose kept drafts are right >= TARGET_PRECISION
    (most kept), on these rows; None if no threshold reaches it."""
    best = None
    for t in sorted({float(r["logprob"]) for r in rows}, reverse=True):
        kept = [r for r in rows if float(r["logprob"]) >= t]
        if sum(bool(r["right"]) for r in kept) / len(kept) >= TARGET_PRECISION:
            best = t
    return best


def cached(path: Path, make: Callable[[], list[dict[str, object]]]) -> list[dict[str, object]]:
    """The drafts kept in ``path`` (JSON lines); made with ``make`` first when the file is
    missing or ``--run`` is given (model time: minutes)."""
    if not path.exists() or "--run" in sys.argv:
        started = time.monotonic()
        rows = make()
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        print(f"{len(rows)} drafts in {time.monotonic() - started:.0f} s", file=sys.stderr)
    return [json.loads(line) for line in path.read_text().splitlines()]


def main() -> int:
    rows = cached(DRAFTS, collect)
    cal = [r for r in rows if r["set"] == "calibration"]
    held = [r for r in rows if r["set"] == "heldout"]
    for name, part in (("calibration", cal), ("held-aside", held)):
        right = [r["logprob"] for r in part if r["right"]]
        wrong = [r["logprob"] for r in part if not r["right"]]
        print(f"{name}: {len(right)}/{len(part)} drafts right; mean log-prob right "
              f"{statistics.mean(right):.3f}, wrong {statistics.mean(wrong):.3f}")  # fmt: skip
    t = threshold(cal)
    if t is None:
        print("no log-prob threshold keeps calibration drafts right 90% of the time: "
              "the cascade cannot beat plain routing here")  # fmt: skip
        return 0
    kept_cal = [r for r in cal if r["logprob"] >= t]
    kept = [r for r in held if r["logprob"] >= t]
    good = sum(bool(r["right"]) for r in kept)
    print(f"threshold (chosen on calibration): {t:.3f}; calibration kept {len(kept_cal)}/"
          f"{len(cal)}, right {sum(bool(r['right']) for r in kept_cal)}")  # fmt: skip
    share = f"{good / len(kept):.0%}" if kept else "n/a"
    print(f"held-aside: cascade keeps {len(kept)}/{len(held)} local drafts, right {good}/"
          f"{len(kept)} ({share})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
