"""Can the local model's own confidence tell when its answer needs a bigger model?

The router's optional second stage would let the local model draft borderline answers
and escalate when the draft looks unreliable, e.g. by a low mean token log-probability.
This measures that signal on labelled prompts: the mean log-probability of the tokens
the local model chose, for quick vs hard prompts. If the two do not separate, the
signal cannot drive escalation.

    python bench/draft_confidence.py [FILE.jsonl ...]

Log-probabilities come from a logits processor (one log-softmax per token), because
llama-cpp-python's own ``logprobs`` needs ``logits_all=True`` — logits for every
prompt position, ~400 MB at n_ctx 2048 for this vocabulary.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

import numpy as np
from llama_cpp import LogitsProcessorList

from rung.tiers.local import LocalTier

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "eval" / "routing_dev.jsonl"


def mean_logprob(tier: LocalTier, prompt: str, max_tokens: int = 80) -> float:
    tokens, stop = tier._prompt_tokens([{"role": "user", "content": prompt}])
    chosen: list[float] = []
    previous: list[np.ndarray] = []

    def track(input_ids: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if previous:  # the token sampled from the last distribution is now the last input
            chosen.append(float(previous[0][input_ids[-1]]))
            previous.clear()
        shifted = scores - scores.max()
        previous.append(shifted - np.log(np.exp(shifted).sum()))
        return scores

    for _ in tier._llm.create_completion(
        prompt=tokens, max_tokens=max_tokens, temperature=0, stream=True, stop=stop,
        logits_processor=LogitsProcessorList([track]),
    ):  # fmt: skip
        pass
    return statistics.mean(chosen) if chosen else 0.0


def main() -> None:
    files = [Path(a) for a in sys.argv[1:]] or [DEFAULT]
    rows = [json.loads(line) for f in files for line in f.read_text().splitlines() if line]
    tier = LocalTier(n_ctx=2048)
    tier.wait_loaded()
    by_label: dict[str, list[float]] = {"quick": [], "hard": []}
    for row in rows:
        by_label[row["label"]].append(mean_logprob(tier, row["prompt"]))
    tier.close()
    print(f"model: {tier.model}, {len(rows)} prompts")
    for label, values in by_label.items():
        q1, median, q3 = statistics.quantiles(values, n=4)
        print(
            f"{label:5}  mean log-prob {statistics.mean(values):.3f}  "
            f"quartiles {q1:.3f} / {median:.3f} / {q3:.3f}"
        )
    gap = statistics.mean(by_label["quick"]) - statistics.mean(by_label["hard"])
    spread = statistics.pstdev(by_label["quick"] + by_label["hard"])
    print(f"separation (mean gap / overall spread): {gap / spread:.2f}")


if __name__ == "__main__":
    main()
