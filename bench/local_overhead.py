"""Rung's local rung vs llama-cpp-python called directly, side by side in one run.

Same GGUF, same thread count, same prompts, temperature 0 (so both generate the same
tokens). Each side has its own ``Llama`` so neither profits from the other's KV cache.
Prints tokens/s and time to first token for both, and Rung's share of direct speed.

    python bench/local_overhead.py [--rounds 3] [--max-tokens 128] [--weight-repacking off]

``--weight-repacking off`` runs Rung's side on the AMX-safe load (no weight repacking),
which is what an AMX CPU gets; the direct side always loads as llama.cpp does.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from llama_cpp import Llama

from rung.tiers.base import ChatRequest, Message, TextDelta
from rung.tiers.llama_safety import decide_safe, load_llama, read_cpuinfo
from rung.tiers.local import LocalTier, embedded_model_path, physical_cores

PROMPTS = [
    "Explain what a hash map is.",
    "Write a Python function that reverses a string.",
    "List five uses of the Linux command grep.",
    "What is the difference between a process and a thread?",
]


def direct_run(llm: Llama, prompt: str, max_tokens: int) -> tuple[float, float, int]:
    start = time.perf_counter()
    first = None
    pieces = 0
    for chunk in llm.create_chat_completion(
        messages=[{"role": "user", "content": prompt}],
        max_tokens=max_tokens,
        temperature=0,
        stream=True,
    ):
        if chunk["choices"][0]["delta"].get("content"):
            pieces += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    assert first is not None
    # Both sides use one measure: streamed pieces after the first, over the time after it.
    return first - start, (pieces - 1) / (end - first), pieces


async def rung_run(tier: LocalTier, prompt: str, max_tokens: int) -> tuple[float, float, int]:
    request = ChatRequest(messages=(Message("user", prompt),), max_tokens=max_tokens, temperature=0)
    start = time.perf_counter()
    first = None
    pieces = 0
    async for event in tier.stream(request):
        if isinstance(event, TextDelta):
            pieces += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    assert first is not None
    # Measured where the UI reads events (the event loop), so the thread hop counts.
    return first - start, (pieces - 1) / (end - first), pieces


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--weight-repacking", choices=("auto", "off", "on"), default="auto")
    args = parser.parse_args()

    path = embedded_model_path()
    threads = physical_cores()
    # The direct side loads as a careful user would on this CPU: without weight repacking
    # only where llama.cpp's AMX backend would crash (so the benchmark runs everywhere).
    llm = load_llama(str(path), safe=decide_safe("auto"), n_ctx=4096, n_threads=threads)
    tier = LocalTier(path, n_ctx=4096, n_threads=threads, weight_repacking=args.weight_repacking)
    await tier.load()
    # Warm both up once (first call pays one-off allocation costs).
    direct_run(llm, "hi", 8)
    await rung_run(tier, "hi", 8)

    direct_ttft, direct_tps, rung_ttft, rung_tps = [], [], [], []
    for _ in range(args.rounds):
        for prompt in PROMPTS:
            llm.reset()
            tier._llm.reset()  # idle between requests, so safe from this thread
            # Alternate the order so neither side always runs on a warmer CPU.
            t, s, _ = direct_run(llm, prompt, args.max_tokens)
            direct_ttft.append(t)
            direct_tps.append(s)
            t, s, _ = await rung_run(tier, prompt, args.max_tokens)
            rung_ttft.append(t)
            rung_tps.append(s)
    tier.close()

    def med(xs: list[float]) -> float:
        return statistics.median(xs)

    print(f"model: {path.name}  threads: {threads}  runs: {len(direct_tps)} per side")
    amx = "amx_int8" in read_cpuinfo()
    load = "no weight repacking (AMX-safe)" if tier.safe_load else "llama.cpp default"
    print(f"CPU has AMX: {'yes' if amx else 'no'}  Rung's load: {load}")
    print(f"{'':24}{'direct':>12}{'rung':>12}{'rung/direct':>14}")
    print(
        f"{'tokens/s (median)':24}{med(direct_tps):12.1f}{med(rung_tps):12.1f}"
        f"{med(rung_tps) / med(direct_tps):14.3f}"
    )
    print(
        f"{'TTFT ms (median)':24}{med(direct_ttft) * 1000:12.1f}{med(rung_ttft) * 1000:12.1f}"
        f"{med(rung_ttft) / med(direct_ttft):14.3f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
