"""Memory of the real `rung` in a pseudo-terminal: at start with the embedded model
loaded, after an 8,000-token reply, and over 50 turns, against the text it keeps.

The ladder is the embedded local model plus an openai rung pointed at a local server
(bench/stream_render.py's: realistic Markdown, one chunk per token); the local model
loads as it does for a user, then F3 pins the openai rung so every reply streams
from the server. Measured from /proc: VmRSS (now) and VmHWM (peak).

- start: the status line says the local model is ready;
- one 8,000-token reply in a new chat;
- 50 turns of ~300-token replies in one conversation (after Ctrl+N): RSS after each
  turn; growth per turn (a least-squares slope) against the characters a turn adds
  (question + reply), over two stretches: while the chat fills its window of mounted
  messages (turns 11-25: every message has widgets), and once the oldest are shelved
  as text (turns 31-50; rung.tui.widgets.messages.MOUNTED_MAX).

Reference in the same run: the floor Textual app (one TextArea) at start.

    python bench/memory.py [--turns 50] [--turn-tokens 300]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ptyterm import Term, isolated_env, tail_text
from startup import REFERENCE_APP
from stream_render import MARK, ServerLog, bench_config, handler_for, reply_text

from rung.tui.widgets.messages import MOUNTED_MAX
from tests.fakes import ScriptedServer

ROWS, COLS = 40, 120
F3 = "\x1bOR"


def ask(term: Term, case: str, n: int, timeout: float = 120) -> float:
    question = f"case {case} n{n} r0"
    for ch in question:
        term.write(ch)
    if term.wait_for(question, term.started, 10) is None:
        raise SystemExit(f"the prompt did not show {question!r}")
    enter = term.write("\r")
    if term.wait_for(MARK + case, enter, timeout) is None:
        raise SystemExit(f"{case}: the reply never finished on screen:\n{tail_text(term)}")
    term.quiet(0.25, timeout=5)
    return time.perf_counter() - enter


def mb(kb: int) -> str:
    return f"{kb / 1024:7.1f} MB"


def slope(xs: list[float], ys: list[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=False)) / sum(
        (x - mx) ** 2 for x in xs
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--turn-tokens", type=int, default=300)
    parser.add_argument("--big", type=int, default=8000, help="tokens of the one long reply")
    args = parser.parse_args()
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}"
    )
    server = ScriptedServer(handler_for(ServerLog()))
    try:
        with tempfile.TemporaryDirectory(prefix="rung-memory-") as tmp_name:
            tmp = Path(tmp_name)
            env = isolated_env(tmp, ROWS, COLS)
            floor = tmp / "floor.py"
            floor.write_text(REFERENCE_APP)
            ref = Term([sys.executable, str(floor)], env, ROWS, COLS)
            ref.wait_for("Ask anything", ref.started, 30)
            ref.quiet(0.5)
            ref_mem = ref.memory_kb()
            ref.close()

            bench_config(env, server.url, ["local", "openai"])
            (tmp / "work").mkdir()
            term = Term([sys.executable, "-m", "rung"], env, ROWS, COLS, cwd=str(tmp / "work"))
            try:
                if term.wait_for("ready", term.started, 60) is None:
                    raise SystemExit("the local model did not load")
                term.quiet(0.5)
                start = term.memory_kb()
                term.write(F3)
                term.quiet(0.3)
                term.write("\x0e")
                term.quiet(0.3)
                took = ask(term, "big", args.big, timeout=300)
                big = term.memory_kb()
                big_chars = len(reply_text(args.big, "big"))
                term.write("\x0e")
                term.quiet(0.5)
                after_new = term.memory_kb()
                rss: list[int] = []
                chars = 0
                for i in range(args.turns):
                    case = f"t{i}"
                    ask(term, case, args.turn_tokens)
                    chars += len(f"case {case} n{args.turn_tokens} r0")
                    chars += len(reply_text(args.turn_tokens, case))
                    rss.append(term.memory_kb()["VmRSS"])
                end = term.memory_kb()
            finally:
                term.close()
    finally:
        server.close()
    per_turn_chars = chars / args.turns
    print(
        f"\nreference (floor Textual app, one TextArea): RSS {mb(ref_mem['VmRSS'])}, "
        f"peak {mb(ref_mem['VmHWM'])}"
    )
    print(
        f"rung at start, local model loaded:            RSS {mb(start['VmRSS'])}, "
        f"peak {mb(start['VmHWM'])}  ({start['VmRSS'] / ref_mem['VmRSS']:.2f}x the floor)"
    )
    print(
        f"after one {args.big:,}-token reply ({big_chars:,} chars, {took:.1f} s): "
        f"RSS {mb(big['VmRSS'])}, peak {mb(big['VmHWM'])}; "
        f"+{(big['VmRSS'] - start['VmRSS']) / 1024:.1f} MB "
        f"= {(big['VmRSS'] - start['VmRSS']) * 1024 / big_chars:.0f} bytes per character"
    )
    print(f"after Ctrl+N (new chat):                      RSS {mb(after_new['VmRSS'])}")
    print(
        f"after {args.turns} turns of ~{args.turn_tokens} tokens "
        f"({per_turn_chars:,.0f} chars of text per turn): RSS {mb(end['VmRSS'])}, "
        f"peak {mb(end['VmHWM'])}"
    )
    full = MOUNTED_MAX // 2 + 5  # the first turn after the window filled, and a shelving
    stretches = [("while the window fills", 11, min(full - 5, args.turns))]
    stretches.append(("once old messages are shelved", full + 1, args.turns))
    for label, first, last in stretches:
        if last - first < 4:
            continue
        xs = [float(x) for x in range(first, last + 1)]
        growth = slope(xs, [float(v) for v in rss[first - 1 : last]]) * 1024
        print(
            f"growth per turn {label} (turns {first}-{last}): {growth / 1024:,.1f} KB"
            f" = {growth / per_turn_chars:.0f} bytes per character of text kept"
        )
    print(
        "RSS by turn (MB): " + " ".join(f"{v / 1024:.0f}" for v in rss[:: max(1, args.turns // 10)])
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
