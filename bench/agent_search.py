"""The agent's search tool against bare ripgrep on a generated 100k-file tree.

Generates (once; kept in /tmp) a tree of 1,000 folders of 100 small Python-like files
each, ~50 of which define ``needle_function``. Then, alternating in rounds, times:

- reference: ``rg --line-number --no-heading -e PATTERN -- .`` as a subprocess;
- the search tool through the agent's dispatcher (argument check, permission, ripgrep
  with the tool's bounds, output read as it arrives, sanitising and masking);
- (for information) the Python fallback used where ripgrep is not installed.

Prints medians and the ratio tool / ripgrep (target: at most 1.5).

    python bench/agent_search.py [--rounds 7] [--tree /tmp/rung-bench-tree]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rung.engine.agent import Dispatcher, Mode, Permissions, ToolContext
from rung.engine.agent.tools.search import search_python

FOLDERS, FILES = 1000, 100
PATTERN = "def needle_function"


def build(tree: Path) -> float:
    marker = tree / ".complete"
    if marker.exists():
        return 0.0
    started = time.monotonic()
    if tree.exists():
        shutil.rmtree(tree)
    rng = random.Random(26)
    body = "".join(f"def helper_{n}(x):\n    return x * {n}\n\n" for n in range(6))
    for folder in range(FOLDERS):
        directory = tree / f"pkg{folder // 100}" / f"mod{folder}"
        directory.mkdir(parents=True)
        for number in range(FILES):
            text = f"# module {folder}.{number}\nimport os\n\n{body}"
            if rng.random() < 0.0005:
                text += "def needle_function():\n    return 42\n"
            (directory / f"file{number}.py").write_text(text)
    marker.write_text("ok")
    return time.monotonic() - started


def bare_rg(tree: Path) -> tuple[float, int]:
    started = time.perf_counter()
    done = subprocess.run(
        ["rg", "--line-number", "--no-heading", "-e", PATTERN, "--", "."],
        cwd=tree, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    return time.perf_counter() - started, len(done.stdout.splitlines())


async def tool(agent: Dispatcher) -> tuple[float, int]:
    started = time.perf_counter()
    result = await agent.call("search", {"pattern": PATTERN})
    took = time.perf_counter() - started
    hits = 0 if result.text == "No matches." else len(result.text.splitlines())
    return took, hits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--tree", type=Path, default=Path("/tmp/rung-bench-tree"))
    args = parser.parse_args()
    if shutil.which("rg") is None:
        print("ripgrep (rg) is not installed: nothing to compare with", file=sys.stderr)
        return 1
    built = build(args.tree)
    count = sum(1 for _ in args.tree.rglob("*.py"))
    print(f"tree: {args.tree} ({count} files; built in {built:.1f} s, 0: reused)")
    agent = Dispatcher(ToolContext(args.tree), Permissions(Mode.ASK))
    bare_rg(args.tree)  # warm the page cache once for both
    rg_times, tool_times = [], []
    hits = (0, 0)
    for round_number in range(args.rounds):
        order = [0, 1] if round_number % 2 == 0 else [1, 0]
        for which in order:
            if which == 0:
                took, rg_hits = bare_rg(args.tree)
                rg_times.append(took)
            else:
                took, tool_hits = asyncio.run(tool(agent))
                agent.new_turn(f"round-{round_number}")  # not the repeated-call guard
                tool_times.append(took)
        hits = (rg_hits, tool_hits)
    started = time.perf_counter()
    fallback = search_python(args.tree, ".", {"pattern": PATTERN})
    python_time = time.perf_counter() - started
    rg_median, tool_median = statistics.median(rg_times), statistics.median(tool_times)
    print(f"hits: ripgrep {hits[0]}, tool {hits[1]}, python fallback: {fallback.summary}")
    print(f"ripgrep (bare): median {rg_median * 1000:.0f} ms over {args.rounds} rounds")
    print(f"search tool:    median {tool_median * 1000:.0f} ms")
    print(f"python fallback: {python_time * 1000:.0f} ms (one run, for information)")
    ratio = tool_median / rg_median
    print(f"ratio tool / ripgrep: {ratio:.2f}x (target <= 1.5x)")
    return 0 if ratio <= 1.5 else 2


if __name__ == "__main__":
    sys.exit(main())
