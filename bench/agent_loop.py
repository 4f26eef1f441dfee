"""The agent loop's own cost, against the model's HTTP round trip, and a scripted 20-step
run's wall time — both measured in the same run, against an instant local model server
(a real HTTP server on 127.0.0.1 speaking OpenAI's streamed tool calls).

1. Per-step overhead. The agent runs N steps of a cheap tool call (read). For each step
   its wall time without the tool's own time (request building, the tier's stream
   through ``Turn``, pricing, recording to SQLite, events) is compared with the same
   request streamed by the same tier alone (``collect``): the HTTP round trip plus the
   dialect's parsing. Interleaved: each step's request is replayed alone right after the
   step (the replay's time is not counted in the step), so both see the same machine
   load; medians over rounds. Target: overhead < 5%.
2. A scripted 20-step run in a temp git project with a failing test: read, search, list,
   edit and run the tests (under the sandbox), ending in an answer. Its wall time, split
   into model round trips, tool time and the loop's own share.

    python bench/agent_loop.py [--steps 30] [--rounds 5] [--gemini-cli PATH]

3. With ``--gemini-cli`` (npm's @google/gemini-cli; GOOGLE_GEMINI_BASE_URL points it at
   the scripted server): the same 20-step task without test runs (read, search, list,
   edit) as two processes, `rung ask --agent --tier gemini` and `gemini -p --yolo`,
   each against its own Gemini-dialect scripted server, and each also as a 1-step run
   (an answer, no tools) so that start-up is taken out: per-step time = (20-step wall -
   1-step wall) / 19.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.fakes: the scripted server

from rung.engine.agent.events import (  # noqa: E402
    AgentDone,
    StepPriced,
    StepStarted,
    ToolCallFinished,
    ToolCallStarted,
)
from rung.engine.agent.loop import Agent  # noqa: E402
from rung.engine.agent.setup import agent_session  # noqa: E402
from rung.engine.build_tiers import RungOverrides  # noqa: E402
from rung.engine.config import load_config  # noqa: E402
from rung.engine.ladder import Ladder  # noqa: E402
from rung.engine.session import Session  # noqa: E402
from rung.tiers.base import ChatRequest  # noqa: E402
from rung.tiers.turn import collect  # noqa: E402
from tests.agent.scripted_model import ScriptedModel, Turn  # noqa: E402
from tests.fakes import ScriptedServer  # noqa: E402

CALC = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
PYTEST = "python3 -m pytest -q -p no:cacheprovider"


def make_project(base: Path) -> Path:
    root = base / "project"
    root.mkdir(parents=True)
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TEST)
    for n in range(20):
        (root / f"mod{n}.py").write_text(f"def f{n}(x):\n    return x + {n}\n" * 20)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, timeout=30)
    return root


class ByStep:
    """The scripted model, answering by the number of assistant turns in the request, so a
    step's request replayed alone gets the same reply as the agent's step did."""

    def __init__(self, script: list[Turn]) -> None:
        self.script = script
        self.models = [ScriptedModel([turn]) for turn in script]

    def __call__(self, request):  # type: ignore[no-untyped-def]
        body = request.json()
        step = sum(1 for m in body.get("messages", []) if m.get("role") == "assistant")
        return self.models[step].reply_to(self.script[step], body)


class Clock:
    """Timestamps of the agent's events: per step, its wall time, its tools' time, and the
    same request replayed alone right after it (excluded from the step's time)."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.excluded: list[float] = []  # tools and the replay
        self.tool_time: list[float] = []
        self.raw: list[float] = []
        self.done = 0.0
        self._tool_started = 0.0
        self._request: ChatRequest | None = None
        self._rung = ""
        self.agent: Agent | None = None

    def __call__(self, event: object):  # type: ignore[no-untyped-def]
        now = time.perf_counter()
        if isinstance(event, StepStarted):
            assert self.agent is not None
            self._request = self.agent.request()  # the request this step sends
            self._rung = event.rung
            self.starts.append(now)
            self.excluded.append(0.0)
            self.tool_time.append(0.0)
        elif isinstance(event, ToolCallStarted):
            self._tool_started = now
        elif isinstance(event, ToolCallFinished):
            self.tool_time[-1] += now - self._tool_started
            self.excluded[-1] += now - self._tool_started
        elif isinstance(event, StepPriced):
            return self._replay(now)
        elif isinstance(event, AgentDone):
            self.done = now
        return None

    async def _replay(self, now: float) -> None:
        assert self.agent is not None and self._request is not None
        tier = self.agent.ladder.tier(self._rung)
        started = time.perf_counter()
        reply = await collect(tier, self._request)
        self.raw.append(time.perf_counter() - started)
        assert reply.failed is None, reply.failed
        self.excluded[-1] += time.perf_counter() - now

    def loop_steps(self) -> list[float]:
        """Each step's wall time without its tools and the replay."""
        ends = [*self.starts[1:], self.done]
        return [e - s - x for s, e, x in zip(self.starts, ends, self.excluded, strict=True)]


def agent_for(root: Path, url: str, *allow: str) -> tuple[Agent, Clock]:
    config = load_config()
    ladder = Ladder(config, RungOverrides("custom", "m", url + "/v1"), only_override=True)
    tools = agent_session(config, root, None, mode="accept-edits", allow=allow)
    clock = Clock()
    agent = Agent(ladder, Session(config, "agent", history=True), tools, [clock])
    clock.agent = agent
    return agent, clock


def read_script(steps: int) -> list[Turn]:
    turns = [Turn(calls=[("read", {"path": f"mod{i % 20}.py", "limit": 5 + i % 3})])
             for i in range(steps - 1)]  # fmt: skip
    return [*turns, Turn(text="done")]


async def overhead_round(root: Path, steps: int) -> tuple[list[float], list[float]]:
    """(loop step times without tools, the same requests streamed by the tier alone)."""
    server = ScriptedServer(ByStep(read_script(steps)))
    try:
        agent, clock = agent_for(root, server.url)
        result = await agent.run("read around")
        assert result.reason == "answered", result.message
        await agent.ladder.aclose()
        agent.session.close()
        return clock.loop_steps(), clock.raw
    finally:
        server.close()


def twenty_script() -> list[Turn]:
    cycle = [
        Turn(calls=[("read", {"path": "calc.py"})]),
        Turn(calls=[("search", {"pattern": "def add"})]),
        Turn(calls=[("list", {"pattern": "*.py"})]),
        Turn(calls=[("read", {"path": "test_calc.py"})]),
        Turn(calls=[("run", {"command": PYTEST})]),
    ]
    edits = [("a - b", "a + b"), ("a + b", "a - b"), ("a - b", "a + b")]
    turns: list[Turn] = []
    for old, new in edits:
        turns += cycle
        turns.append(Turn(calls=[("edit", {"path": "calc.py", "old_string": old,
                                           "new_string": new})]))  # fmt: skip
    turns.append(Turn(calls=[("run", {"command": PYTEST})]))
    turns.append(Turn(text="Fixed add; the test passes."))
    assert len(turns) == 20
    return turns


async def twenty(root: Path) -> tuple[Clock, int]:
    """The scripted 20-step run's clock, and its step count."""
    server = ScriptedServer(ByStep(twenty_script()))
    try:
        agent, clock = agent_for(root, server.url, "run:python3 -m pytest*")
        result = await agent.run("make the failing test pass")
        assert result.reason == "answered", result.message
        assert not any(t.is_error for t in result.tools), [t.summary for t in result.tools]
        await agent.ladder.aclose()
        agent.session.close()
        return clock, len(result.steps)
    finally:
        server.close()


def gemini_handler(script: list[tuple[list[tuple[str, dict]], str]]):  # type: ignore[no-untyped-def,type-arg]
    """A Gemini-dialect server answering the n-th streamed request with step n (any
    other request a CLI makes on the side gets a plain answer)."""
    from tests.fakes import gemini_stream, gemini_tool_stream, json_reply

    count = [0]
    arrivals: list[float] = []  # when each step's request came in

    def handle(request):  # type: ignore[no-untyped-def]
        if "streamGenerateContent" not in request.path:
            text = '{"next_speaker": "user", "reasoning": "done"}'
            candidate = {"content": {"parts": [{"text": text}], "role": "model"},
                         "finishReason": "STOP", "index": 0}  # fmt: skip
            usage = {"promptTokenCount": 1, "candidatesTokenCount": 1, "totalTokenCount": 2}
            return json_reply(200, {"candidates": [candidate], "usageMetadata": usage})
        calls, text = script[min(count[0], len(script) - 1)]
        count[0] += 1
        arrivals.append(time.perf_counter())
        return (
            gemini_tool_stream(calls, model="gemini-2.5-flash") if calls else gemini_stream([text])
        )

    return handle, count, arrivals


def light_script(root: Path, gemini: bool) -> list[tuple[list[tuple[str, dict]], str]]:  # type: ignore[type-arg]
    """20 steps: read, search, list, edit in turn, then an answer (both CLIs' tool names)."""

    def call(kind: str, n: int) -> tuple[str, dict]:  # type: ignore[type-arg]
        old, new = ("a - b", "a + b") if n % 2 == 0 else ("a + b", "a - b")
        if gemini:
            return {
                "read": ("read_file", {"file_path": str(root / "calc.py")}),
                "search": ("grep_search", {"pattern": f"def f{n}"}),
                "list": ("glob", {"pattern": f"mod{n}*.py"}),
                "edit": ("replace", {"file_path": str(root / "calc.py"), "instruction": "fix",
                                     "old_string": old, "new_string": new}),
            }[kind]  # fmt: skip
        return {
            "read": ("read", {"path": "calc.py", "limit": 10 + n}),
            "search": ("search", {"pattern": f"def f{n}"}),
            "list": ("list", {"pattern": f"mod{n}*.py"}),
            "edit": ("edit", {"path": "calc.py", "old_string": old, "new_string": new}),
        }[kind]

    kinds = ["read", "search", "list", "edit"]
    steps = [([call(kinds[i % 4], i // 4)], "") for i in range(19)]
    return [*steps, ([], "Done.")]


def timed(argv: list[str], cwd: Path, env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)  # fmt: skip
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({done.returncode}): {done.stderr[-800:]}")
    return wall


def gemini_cli_reference(base: Path, gemini: str, rounds: int) -> None:
    home = base / "gemini-home"
    (home / ".gemini").mkdir(parents=True, exist_ok=True)
    (home / ".gemini" / "settings.json").write_text(
        '{"security": {"auth": {"selectedType": "gemini-api-key"}}, '
        '"telemetry": {"enabled": false}, "privacy": {"usageStatisticsEnabled": false}}'
    )
    results: dict[str, list[float]] = {"rung": [], "gemini": []}
    # Seen from the server: the time between one step's request and the next (the
    # reply, the tool, the loop), free of either CLI's start-up, which varies by seconds
    # (Gemini CLI's 1-step run took 4.2-5.8 s: subtracting it made the ratio swing).
    gaps: dict[str, list[float]] = {"rung": [], "gemini": []}
    for n in range(rounds):
        for who in ("rung", "gemini"):
            for steps in (20, 1):
                root = make_project(base / f"{who}-{n}-{steps}")
                script = light_script(root, who == "gemini")
                handler, count, arrivals = gemini_handler(
                    script if steps == 20 else [([], "Done.")]
                )
                server = ScriptedServer(handler)
                try:
                    env = {**os.environ, "GEMINI_API_KEY": "g-test-1234567",
                           "GOOGLE_GEMINI_BASE_URL": server.url, "HOME": str(home),
                           "GEMINI_CLI_TRUST_WORKSPACE": "true"}  # fmt: skip
                    if who == "rung":
                        argv = [sys.executable, "-m", "rung", "ask", "--agent", "--tier",
                                "gemini", "--base-url", server.url, "--model",
                                "gemini-2.5-flash", "--mode", "accept-edits", "go"]  # fmt: skip
                    else:
                        argv = [gemini, "-p", "go", "-m", "gemini-2.5-flash", "--yolo"]
                    wall = timed(argv, root, env)
                finally:
                    server.close()
                if count[0] < steps:
                    raise RuntimeError(f"{who}: {count[0]} of {steps} steps were asked for")
                results[who].append(wall)
                if steps == 20:
                    gaps[who] += [b - a for a, b in itertools.pairwise(arrivals)]
    print(f"reference, Gemini CLI ({rounds} rounds, medians; the same 20-step task, no test runs):")
    per_step = {}
    for who, walls in results.items():
        long, short = statistics.median(walls[0::2]), statistics.median(walls[1::2])
        per_step[who] = (long - short) / 19
        print(f"  {who:7} 20 steps {long:6.2f} s, 1 step {short:5.2f} s (start-up), "
              f"{per_step[who] * 1000:7.1f} ms a step")  # fmt: skip
    print(f"  Rung's time a step / Gemini CLI's: {per_step['rung'] / per_step['gemini']:.2f}")
    between = {who: statistics.median(g) for who, g in gaps.items()}
    for who, gap in between.items():
        print(f"  {who:7} between step requests (server side, median) {gap * 1000:7.1f} ms")
    walls = {who: statistics.median(w[0::2]) for who, w in results.items()}
    print(f"  Rung / Gemini CLI, between step requests: {between['rung'] / between['gemini']:.2f};"
          f" whole 20-step runs: {walls['rung'] / walls['gemini']:.2f}")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--gemini-cli", metavar="PATH", help="the `gemini` executable")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rung-bench-agent-") as tmp:
        base = Path(tmp)
        os.environ["XDG_DATA_HOME"] = str(base / "data")
        os.environ["XDG_CONFIG_HOME"] = str(base / "config")
        os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
        config = base / "config" / "rung" / "config.toml"
        config.parent.mkdir(parents=True)
        config.write_text('[prices."m"]\ninput = "1.00"\noutput = "2.00"\n')  # priced
        root = make_project(base)
        loop_times: list[float] = []
        raw_times: list[float] = []
        for _ in range(args.rounds):
            steps, raw = await overhead_round(root, args.steps)
            loop_times += steps[1:]  # the first step also opens the history: reported apart
            raw_times += raw[1:]
        loop_med, raw_med = statistics.median(loop_times), statistics.median(raw_times)
        print(f"per step ({args.rounds} rounds x {args.steps - 1} steps, medians):")
        print(f"  model round trip alone (tier.stream)  {raw_med * 1000:8.2f} ms")
        print(f"  agent step without the tool           {loop_med * 1000:8.2f} ms")
        print(f"  loop overhead / round trip            {(loop_med - raw_med) / raw_med:+8.1%}")
        # Paired: each step against its own replay right after it (the same load).
        paired = statistics.median(a - b for a, b in zip(loop_times, raw_times, strict=True))
        print(f"  paired (step - its replay), median    {paired * 1000:8.2f} ms"
              f" = {paired / raw_med:+.1%} of the round trip")  # fmt: skip
        clock, steps = await twenty(root)
        loops, raws, tools = clock.loop_steps(), clock.raw, sum(clock.tool_time)
        wall = sum(loops) + tools  # the replays left out
        later_loop, later_raw = sum(loops[1:]), sum(raws[1:])
        print(f"scripted run: {steps} steps (read, search, list, edit, run the tests):")
        print(f"  wall {wall:.2f} s: tools {tools:.2f} s ({tools / wall:.0%}), model steps "
              f"{sum(loops):.3f} s ({sum(loops) / wall:.1%})")  # fmt: skip
        print(f"  first step {loops[0] * 1000:.0f} ms against a {raws[0] * 1000:.0f} ms round "
              "trip (one-time: the tier's HTTP client, the history's first writes)")  # fmt: skip
        print(f"  steps 2-{steps}: loop {later_loop * 1000:.0f} ms against round trips "
              f"{later_raw * 1000:.0f} ms: overhead {(later_loop - later_raw) / later_raw:+.1%};"
              f" per step (medians) {statistics.median(loops[1:]) * 1000:.2f} ms against "
              f"{statistics.median(raws[1:]) * 1000:.2f} ms")  # fmt: skip
        print(f"  the loop's own time / wall: {(sum(loops) - sum(raws)) / wall:.2%}")
        if args.gemini_cli:
            gemini_cli_reference(base, args.gemini_cli, max(1, args.rounds // 2))
        else:
            print(
                "reference: Gemini CLI not run (pass --gemini-cli PATH; npm has it as "
                "@google/gemini-cli)"
            )


if __name__ == "__main__":
    asyncio.run(main())
