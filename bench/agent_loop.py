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

    python bench/agent_loop.py [--steps 30] [--rounds 5]

Gemini CLI as a reference (GOOGLE_GEMINI_BASE_URL at the same kind of server) needs its
own Gemini-dialect script; see the notes printed at the end.
"""

from __future__ import annotations

import argparse
import asyncio
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


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=5)
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


if __name__ == "__main__":
    asyncio.run(main())
