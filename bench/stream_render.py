"""A streamed Markdown reply into the real chat screen, against the same reply rendered
once, measured side by side in one run of the real `rung` in a pseudo-terminal.

A local server (tests/fakes.py's ScriptedServer, speaking OpenAI's streaming protocol)
answers each question with a realistic Markdown reply of N tokens (headings,
paragraphs, lists, tables, fenced code blocks), one SSE chunk per token, at R tokens/s
(0: as fast as the socket takes them). Rung's only rung is that server (the openai
rung with a base URL, so no local model loads). For each case the bench types the
question and Enter, and reads the terminal's output stream:

- Enter -> last token on screen: until the reply's last word is drawn;
- lag: from the server sending the last token to it being drawn;
- CPU per token: the process's CPU time (all threads, /proc) from Enter to the last
  token drawn, over N;
- reference, in the same process and screen: the same final Markdown sent as ONE
  chunk ("rendered once"): its time and CPU.

Each case starts from an empty chat (Ctrl+N). Cases run in rounds, each round in a
fresh process, cases shuffled within a round; medians over rounds.

Typing while a reply streams (``--typing``, also bench/typing_latency.py): during a
reply at 400 tokens/s, one character is typed into the prompt every 120 ms and the
time until it is drawn is taken; the reference is the same typing with no reply.

    python bench/stream_render.py [--rounds 3] [--tokens 500,2000,8000] [--rates 0,100,400]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ptyterm import Term, isolated_env

from tests.fakes import (
    OPENAI_BASE,
    Request,
    ScriptedServer,
    Send,
    Sleep,
    Status,
    openai_chunk,
    openai_piece,
)

ROWS, COLS = 40, 120
MODEL = "gpt-4o-mini"
MARK = "Qzv7end"  # the reply's last word: when it is drawn, the whole reply is
TOKEN = re.compile(r"\n+| ?[A-Za-z]{1,7}| ?\d{1,3}| ?[^\sA-Za-z\d]| +")
# Typed while a reply streams: characters no reply contains, each typed once per stretch.
TYPING_CHARS = "αβγδεζηθικλμνξοπρστυφχψωабвгдежзийклмнопрстуфхцчшщэюя"

SECTIONS = [
    """## Overview of {topic}

The {topic} module keeps its state in a small set of records, and every change goes \
through one function so that readers never see a half-written value. This section walks \
through how a request moves from the parser to the store, what each step checks, and \
where the time goes when the input is large. Nothing here depends on the network.

""",
    """- **Parsing**: the input is split into lines, then into fields; a malformed line \
is reported with its number and skipped.
- **Validation**: each record is checked against the schema (`{topic}_schema.toml`).
- **Storage**: valid records are written in one transaction, so a crash leaves the old \
state intact.
- **Reporting**: the caller gets a summary with counts and the first ten problems.

""",
    """```python
def load_{topic}(path: Path, *, strict: bool = False) -> list[Record]:
    records: list[Record] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        try:
            records.append(parse_record(line))
        except ValueError as exc:
            if strict:
                raise ValueError(f"line {{number}}: {{exc}}") from None
            log.warning("skipping line %d: %s", number, exc)
    return records
```

""",
    """| Step | Time (ms) | Memory (MB) | Notes |
|------|----------:|------------:|-------|
| parse {topic} | 12.4 | 3.1 | linear in lines |
| validate | 4.8 | 0.2 | schema cached |
| store | 21.0 | 1.7 | one transaction |
| report | 0.9 | 0.1 | first ten problems |

""",
    """1. Read the file once and keep the lines; do not re-open it per record.
2. Compile the patterns at import time, not inside the loop.
3. Batch the inserts: one `executemany` instead of a statement per row.

> Note: the {topic} cache is per process. Two workers that share a database each keep \
their own copy, which is fine for reads but means an update is seen by the other \
worker only after its next reload.

""",
    """```bash
$ {topic}-tool import data/{topic}.csv --strict
imported 10,482 records in 0.38 s (3 skipped)
$ {topic}-tool report --since yesterday
```

""",
]
TOPICS = ["ledger", "invoice", "catalog", "session", "router", "parser", "cache", "queue"]


def reply_text(tokens: int, tag: str = "") -> str:
    """A Markdown reply of about ``tokens`` tokens, ending in MARK and ``tag``."""
    parts: list[str] = []
    count = 0
    i = 0
    while count < tokens:
        text = SECTIONS[i % len(SECTIONS)].format(topic=TOPICS[(i // len(SECTIONS)) % len(TOPICS)])
        parts.append(text)
        count += len(TOKEN.findall(text))
        i += 1
    pieces = TOKEN.findall("".join(parts))[: tokens - 3]
    text = "".join(pieces)
    if text.count("```") % 2:
        text += "\n```"
    return text + f"\n\nThat is all: {MARK}{tag}"


def split_tokens(text: str) -> list[str]:
    pieces = TOKEN.findall(text)
    assert "".join(pieces) == text
    return pieces


@dataclass
class ServerLog:
    last_sent: dict[str, float] = field(default_factory=dict)


def handler_for(log: ServerLog):  # type: ignore[no-untyped-def]
    def handle(request: Request) -> Iterator[object]:
        body = request.json()
        question = body["messages"][-1]["content"]
        m = re.search(r"case (\w+) n(\d+) r(\d+)", question)
        if m is None:
            yield from [
                Status(200),
                Send(
                    openai_chunk(
                        {
                            **OPENAI_BASE,
                            "model": MODEL,
                            "choices": [
                                {"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}
                            ],
                        }
                    )
                ),
                Send(b"data: [DONE]\n\n"),
            ]
            return
        case, n, rate = m.group(1), int(m.group(2)), int(m.group(3))
        text = reply_text(n, case)
        pieces = [text] if case.startswith("once") else split_tokens(text)
        yield Status(200)
        yield Send(
            openai_chunk(
                {
                    **OPENAI_BASE,
                    "model": MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "delta": {"role": "assistant", "content": ""},
                            "finish_reason": None,
                        }
                    ],
                }
            )
        )
        start = time.perf_counter()
        for i, piece in enumerate(pieces):
            if rate:
                wait = start + i / rate - time.perf_counter()
                if wait > 0.0005:
                    yield Sleep(wait)
            yield Send(openai_piece(piece, MODEL))
        log.last_sent[case] = time.perf_counter()  # the last piece's sendall returned
        finish = {"index": 0, "delta": {}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 40, "completion_tokens": n, "total_tokens": 40 + n}
        yield Send(openai_chunk({**OPENAI_BASE, "model": MODEL, "choices": [finish]}))
        yield Send(openai_chunk({**OPENAI_BASE, "model": MODEL, "choices": [], "usage": usage}))
        yield Send(b"data: [DONE]\n\n")

    return handle


@dataclass
class Result:
    case: str
    tokens: int
    rate: int
    total_s: float  # Enter -> last token drawn
    lag_s: float | None  # last token sent -> drawn
    cpu_s: float  # process CPU, Enter -> last token drawn
    typing_ms: list[float] = field(default_factory=list)


def bench_config(env: dict[str, str], url: str, rungs: list[str]) -> None:
    """Point an isolated environment's rung at the bench server (as the openai rung)."""
    env["OPENAI_API_KEY"] = "sk-bench-0000000000000000"
    config = Path(env["XDG_CONFIG_HOME"]) / "rung" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    settings = {
        "ladder": {"rungs": rungs},
        "providers": {"openai": {"base_url": f"{url}/v1", "model": MODEL}},
        # Rung cuts a reply that runs past the requested output limit (2,048 by default).
        "ui": {"max_tokens": 16384},
    }
    config.write_text(tomli_w.dumps(settings))


def start_rung(tmp: Path, url: str) -> Term:
    env = isolated_env(tmp, ROWS, COLS)
    bench_config(env, url, ["openai"])
    work = tmp / "work"
    work.mkdir(exist_ok=True)
    term = Term([sys.executable, "-m", "rung"], env, ROWS, COLS, cwd=str(work))
    if term.wait_for("Ask anything", term.started, 30) is None:
        raise SystemExit("rung did not start")
    term.quiet(0.5)
    return term


def run_case(
    term: Term, log: ServerLog, case: str, n: int, rate: int, typing: bool = False
) -> Result:
    term.write("\x0e")  # Ctrl+N: an empty chat
    term.quiet(0.3)
    term.forget()
    question = f"case {case} n{n} r{rate}"
    for ch in question:
        term.write(ch)
    if term.wait_for(question, term.started, 10) is None:
        raise SystemExit(f"the prompt did not show {question!r}")
    term.quiet(0.2)
    cpu0 = term.cpu_s()
    enter = term.write("\r")
    typed: list[float] = []
    if typing:
        # Keys typed before the prompt is cleared would be cleared with it.
        term.wait_for("Overview", enter, 30)
        typed = type_while(term, enter, until_mark=True)
    seen = term.wait_for(MARK, enter, 600)
    cpu1 = term.cpu_s()
    if seen is None:
        raise SystemExit(f"{case}: the last token never reached the screen")
    sent = log.last_sent.get(case)
    term.quiet(0.3)
    if typing:
        clear_prompt(term, len(typed))
    return Result(case, n, rate, seen - enter, seen - sent if sent else None, cpu1 - cpu0, typed)


def type_while(term: Term, since: float, until_mark: bool, count: int = 40) -> list[float]:
    """Type one character every 120 ms (each a different one) and time each echo."""
    out: list[float] = []
    for i in range(count):
        ch = TYPING_CHARS[i % len(TYPING_CHARS)]
        at = term.write(ch)
        drawn = term.wait_for(ch, at, 5)
        if drawn is None:
            break
        out.append((drawn - at) * 1000)
        time.sleep(max(0.0, 0.12 - (time.perf_counter() - at)))
        if until_mark and term.wait_for(MARK, since, 0) is not None:
            break
    return out


def clear_prompt(term: Term, count: int) -> None:
    # More than were counted: a key whose echo was not seen in time is still in the
    # prompt, and would end up in the next case's question. Extra ones do nothing.
    for _ in range(count + 10):
        term.write("\x7f")
        time.sleep(0.01)  # one key per read, as a person types them
    term.quiet(0.3)


def idle_typing(term: Term) -> list[float]:
    term.write("\x0e")
    term.quiet(0.3)
    term.forget()
    typed = type_while(term, time.perf_counter(), until_mark=False, count=30)
    clear_prompt(term, len(typed))
    return typed


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tokens", default="500,2000,8000")
    parser.add_argument("--rates", default="0,100,400")
    parser.add_argument("--typing", action="store_true", help="also time typing during a reply")
    parser.add_argument("--only-typing", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", metavar="FILE", help="write every result as JSON")
    args = parser.parse_args()
    sizes = [int(x) for x in args.tokens.split(",")]
    rates = [int(x) for x in args.rates.split(",")]
    print(
        f"machine: {os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}, load average {os.getloadavg()[0]:.2f}; terminal "
        f"{COLS}x{ROWS}; rounds: {args.rounds} (one rung process each)"
    )
    for n in sizes:
        text = reply_text(n)
        print(
            f"reply N={n}: {len(split_tokens(text))} pieces, {len(text):,} characters, "
            f"{text.count('```') // 2} code blocks, {text.count('| Step')} tables"
        )
    log = ServerLog()
    server = ScriptedServer(handler_for(log))
    results: list[Result] = []
    idle: list[float] = []
    try:
        for r in range(args.rounds):
            cases: list[tuple[str, int, int, bool]] = []
            if not args.only_typing:
                for n in sizes:
                    cases.append((f"once{n}", n, 0, False))
                    cases += [(f"s{n}x{rate}", n, rate, False) for rate in rates]
            if args.typing or args.only_typing:
                cases.append(("typing", 4000, 400, True))
            random.Random(r).shuffle(cases)
            with tempfile.TemporaryDirectory(prefix="rung-stream-") as tmp:
                term = start_rung(Path(tmp), server.url)
                try:
                    if args.typing or args.only_typing:
                        idle += idle_typing(term)
                    for name, n, rate, typing in cases:
                        name = f"{name}r{r}"
                        res = run_case(term, log, name, n, rate, typing)
                        res.case = name
                        results.append(res)
                        print(
                            f"  round {r + 1}: {name:14s} {res.total_s * 1000:8.0f} ms  "
                            f"cpu {res.cpu_s * 1000:7.0f} ms"
                            + (
                                f"  lag {res.lag_s * 1000:6.0f} ms"
                                if res.lag_s is not None and rate
                                else ""
                            ),
                            flush=True,
                        )
                finally:
                    term.close()
    finally:
        server.close()
    report(results, sizes, rates, idle)
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in results], indent=1))
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


def med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(results: list[Result], sizes: list[int], rates: list[int], idle: list[float]) -> None:
    def pick(prefix: str) -> list[Result]:
        return [r for r in results if re.fullmatch(prefix + r"r\d+", r.case)]

    if any(not r.typing_ms for r in results):
        print(
            f"\n{'case':22s}{'Enter->last drawn ms':>22s}{'lag ms':>16s}{'CPU ms':>18s}"
            f"{'CPU/token us':>14s}"
        )
        print(f"{'':22s}{'min/median/max':>22s}{'median/max':>16s}{'min/median/max':>18s}")
    per_token: dict[tuple[int, int], float] = {}
    once: dict[int, tuple[float, float]] = {}
    for n in sizes:
        for name, rate in [(f"once{n}", 0)] + [(f"s{n}x{rate}", rate) for rate in rates]:
            rs = pick(name)
            if not rs:
                continue
            tot = [r.total_s * 1000 for r in rs]
            cpu = [r.cpu_s * 1000 for r in rs]
            lags = [r.lag_s * 1000 for r in rs if r.lag_s is not None]
            label = f"N={n} " + (
                "rendered once" if name.startswith("once") else f"R={rate or 'max'}"
            )
            lag = f"{med(lags):7.0f}/{max(lags):5.0f}" if lags and rate else ""
            print(
                f"{label:22s}{min(tot):7.0f}/{med(tot):6.0f}/{max(tot):6.0f}"
                f"{lag:>16s}{min(cpu):7.0f}/{med(cpu):5.0f}/{max(cpu):5.0f}"
                f"{med(cpu) * 1000 / n:14.0f}"
            )
            if name.startswith("once"):
                once[n] = (med(tot), med(cpu))
            else:
                per_token[(n, rate)] = med(cpu) / n
    if per_token:
        print("\nratios (medians):")
        small, big = min(sizes), max(sizes)
        for rate in rates:
            if (small, rate) in per_token and (big, rate) in per_token:
                ratio = per_token[(big, rate)] / per_token[(small, rate)]
                print(
                    f"  CPU per token N={big} / N={small} at R={rate or 'max'}: {ratio:.2f}x "
                    f"(target <= 1.2x: {'met' if ratio <= 1.2 else 'NOT met'})"
                )
        for n in sizes:
            if n not in once:
                continue
            rs = pick(f"s{n}x0")
            if rs:
                t = med([r.total_s * 1000 for r in rs]) / once[n][0]
                c = med([r.cpu_s * 1000 for r in rs]) / once[n][1]
                target = (
                    f" (target <= 1.5x: {'met' if t <= 1.5 else 'NOT met'})" if n == 2000 else ""
                )
                print(
                    f"  N={n} streamed unthrottled / rendered once: time {t:.2f}x, CPU {c:.2f}x"
                    + target
                )
        for n in sizes:
            rs = pick(f"s{n}x400")
            lags = [r.lag_s * 1000 for r in rs if r.lag_s is not None]
            if lags:
                print(
                    f"  lag at 400 tokens/s, N={n}: median {med(lags):.0f} ms, max "
                    f"{max(lags):.0f} ms (target < 100 ms: "
                    f"{'met' if max(lags) < 100 else 'NOT met'})"
                )
    typed = [ms for r in results for ms in r.typing_ms]
    if typed:
        print(
            f"\ntyping during a 400 tokens/s reply: {len(typed)} keys, median {med(typed):.1f} ms, "
            f"p95 {pct(typed, 0.95):.1f} ms, max {max(typed):.1f} ms "
            f"(target p95 < 50 ms: {'met' if pct(typed, 0.95) < 50 else 'NOT met'})"
        )
    if idle:
        print(
            f"typing with no reply (reference): {len(idle)} keys, median {med(idle):.1f} ms, "
            f"p95 {pct(idle, 0.95):.1f} ms; ratio p95 {pct(typed, 0.95) / pct(idle, 0.95):.2f}x"
            if typed
            else ""
        )


if __name__ == "__main__":
    sys.exit(main())
