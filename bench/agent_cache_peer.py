"""Rung's agent and opencode side by side on the prompt-cache bench (issue 27): the same
scripted 20-step task (plan -> 18 act steps -> answer: tests/agent/cache_script.py),
each tool against the same honest prompt-cache simulator (tests/agent/cache_server.py),
on the same model, cold (fresh server, fresh project), one model per dialect:
- OpenAI dialect: openai/gpt-5-nano (chat completions, automatic prefix caching);
- Anthropic dialect: anthropic/claude-sonnet-4-6 (cache_control breakpoints, 1,024 floor).

opencode runs as a subprocess (``opencode run``, headless) with a temporary HOME and
XDG dirs, an ``opencode.json`` outside the project (``OPENCODE_CONFIG``: the project
Rung lists stays the same) pointing its provider at the simulator,
every permission granted, and every switch that reaches the internet turned off. Its
script is twenty_steps() translated step by step into opencode's tools (glob for list,
grep for search, bash for run, read with an absolute filePath, edit or apply_patch:
the tools opencode offers that model), each step checking opencode's own result text.
Rung runs in-process through bench/agent_cost.py's one_run on a one-rung policy.

Only the agent's own requests (they offer tools) reach the caching model; opencode's
side requests (the session title, from its small model, no tools) are answered apart,
counted, and left out of the table. Both runs are priced from what the simulator
billed, at one moment, by Rung's price tables (PriceBook.api_cost, as agent_cost.py).
A run must pass its script's checks (the fix on disk, the tests passing), or the bench
fails.

    python bench/agent_cache_peer.py --opencode PATH [--dialect openai|anthropic|both]

The bound ``1 - last/sum``: a request can read from cache at most the previous
request's whole prompt, so a cold run's share cannot exceed one minus its last
prompt over the sum of its prompts; the larger the fixed prefix, the closer to 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.agent, bench

from bench.agent_cost import LADDERS, Policy, RungSpec, one_run, usd
from rung.tiers.base import Usage
from rung.tiers.pricing import PriceBook
from tests.agent.cache_script import PLAN, PYTEST, QUESTION, make_project
from tests.agent.cache_server import (
    AnthropicCache,
    CachingModel,
    Served,
    canonical,
    tokens,
)
from tests.agent.scripted_model import Turn
from tests.fakes import Request, ScriptedServer, Step, anthropic_stream, openai_stream

MODELS = {"openai": "gpt-5-nano", "anthropic": "claude-sonnet-4-6"}  # provider = dialect
OPENCODE_TIMEOUT_S = 600
# Everything opencode would otherwise fetch or send (models.dev, updates, shares, LSP
# servers, plugins from npm, Claude Code's files in HOME).
OFFLINE = {f"OPENCODE_{name}": "1" for name in (
    "DISABLE_MODELS_FETCH", "DISABLE_AUTOUPDATE", "DISABLE_SHARE", "DISABLE_LSP_DOWNLOAD",
    "DISABLE_DEFAULT_PLUGINS", "DISABLE_CLAUDE_CODE", "DISABLE_EXTERNAL_SKILLS")}  # fmt: skip


def opencode_steps(root: Path, dialect: str) -> list[Turn]:
    """twenty_steps() in opencode's tools, same order and meaning; ``expect`` in its own
    result text (grep says "No files found", an edit reports itself applied)."""

    def at(name: str) -> str:
        return str(root / name)

    def glob(pattern: str) -> tuple[str, dict[str, Any]]:
        return ("glob", {"pattern": pattern})

    def grep(pattern: str) -> tuple[str, dict[str, Any]]:
        return ("grep", {"pattern": pattern})

    def read(name: str, **span: int) -> tuple[str, dict[str, Any]]:
        return ("read", {"filePath": at(name), **span})

    run = ("bash", {"command": PYTEST})  # 1.18's bash has no "description"
    if dialect == "openai":  # opencode gives GPT models apply_patch instead of edit
        patch = "*** Begin Patch\n*** Update File: calc.py\n@@ def add(a, b):\n"
        patch += "-    return a - b\n+    return a + b\n*** End Patch"
        fix, fixed = ("apply_patch", {"patchText": patch}), "calc.py"
    else:
        args = {"filePath": at("calc.py"), "oldString": "return a - b",
                "newString": "return a + b"}  # fmt: skip
        fix, fixed = ("edit", args), "successfully"
    return [
        Turn(text=PLAN, calls=[glob("*")]),  # 1 plan
        Turn(calls=[read("README.md")], expect=("calc.py",)),
        Turn(calls=[read("test_calc.py")], expect=("python3 report.py",)),
        Turn(calls=[run], expect=("test_add",)),
        Turn(calls=[read("calc.py")], expect=("1 failed",)),
        Turn(calls=[grep("def add")], expect=("return a - b",)),
        Turn(calls=[grep(r"add\(")], expect=("calc.py",)),
        Turn(calls=[read("report.py", limit=8)], expect=("report.py",)),
        Turn(calls=[grep("mean")], expect=("from calc import",)),
        Turn(calls=[glob("*.py")], expect=("def mean",)),
        Turn(calls=[fix], expect=("report.py",)),  # 11 the fix
        Turn(calls=[read("calc.py", limit=7)], expect=(fixed,)),
        Turn(calls=[run], expect=("return a + b",)),
        Turn(calls=[grep("a - b")], expect=("2 passed",)),
        Turn(calls=[read("report.py", offset=8)], expect=("No files found",)),
        Turn(calls=[grep("import")], expect=("total = add",)),
        Turn(calls=[glob("test_*")], expect=("import sys",)),
        Turn(calls=[read("test_calc.py", limit=5)], expect=("test_calc.py",)),
        Turn(calls=[run], expect=("def test_add",)),
        Turn(text="Fixed add in calc.py (it subtracted); 2 tests pass.", expect=("2 passed",)),
    ]


@dataclass
class Measured:
    """One run as the simulator saw and billed it (the agent's own requests only)."""

    tool: str
    model: CachingModel
    cost: Decimal
    problems: list[str]
    side: list[int] = field(default_factory=list)  # input tokens of each side request

    @property
    def served(self) -> list[Served]:
        return self.model.served

    @property
    def total(self) -> int:
        return sum(s.counted.total for s in self.served)

    @property
    def read(self) -> int:
        return sum(s.counted.read for s in self.served)

    @property
    def share(self) -> float:
        return self.read / self.total if self.total else 0.0

    @property
    def seen(self) -> float:
        """The share sent before in an earlier request (cache_server.Served.seen): the
        most any prefix cache could read, with no minimum, step or breakpoint."""
        return sum(s.seen for s in self.served) / self.total if self.total else 0.0

    @property
    def bound(self) -> float:
        return 1 - self.served[-1].counted.total / self.total if self.total else 0.0

    @property
    def prefix(self) -> int:
        """Tokens of the tools and system prompt in the first request, as the simulator
        counts them (the fixed part every step repeats)."""
        body = self.model.bodies[0]
        if self.model.dialect == "anthropic":
            fixed = len(body.get("tools") or [])
            system = body.get("system")
            fixed += 1 if isinstance(system, str) else len(system or [])
            return sum(len(tokens(t)) for t, _ in AnthropicCache.blocks(body)[:fixed])
        head = [m for m in body["messages"][:2] if m.get("role") in ("system", "developer")]
        return sum(len(tokens(canonical(x))) for x in [*body.get("tools", []), *head])


def priced(dialect: str, served: list[Served], when: datetime) -> Decimal:
    """What the simulator billed, at Rung's prices for that model (as agent_cost.py)."""
    book, total = PriceBook(), Decimal(0)
    for s in served:
        n = s.counted
        usage = Usage(input_tokens=n.total, output_tokens=s.output,
                      cached_input_tokens=n.read, cache_write_tokens=n.written)  # fmt: skip
        cost = book.api_cost(dialect, s.model, usage, when).usd
        if cost is None:
            raise SystemExit(f"no price known for {dialect}/{s.model}")
        total += cost
    return total


class AgentOnly:
    """The agent's requests (they offer tools) go to the caching model; the side
    requests (no tools: the session title) get a short text, are counted and kept out
    of the cache's accounting."""

    def __init__(self, model: CachingModel) -> None:
        self.model = model
        self.side: list[int] = []

    def __call__(self, request: Request) -> list[Step]:
        body = request.json()
        if body.get("tools"):
            return self.model(request)
        self.side.append(len(tokens(canonical(body))))
        if self.model.dialect == "anthropic":
            return anthropic_stream(["Cache bench"])
        usage = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
        return openai_stream(["Cache bench"], usage=usage)


def opencode_config(dialect: str, url: str) -> dict[str, Any]:
    model = MODELS[dialect]
    if dialect == "openai":  # chat completions (opencode's openai provider speaks Responses)
        provider = {"sim": {"npm": "@ai-sdk/openai-compatible", "name": "simulator",
                            "options": {"baseURL": f"{url}/v1", "apiKey": "sk-bench-0123"},
                            "models": {model: {"name": model}}}}  # fmt: skip
        name = f"sim/{model}"
    else:
        provider = {"anthropic": {"options": {"baseURL": f"{url}/v1", "apiKey": "sk-ant-bench"}}}
        name = f"anthropic/{model}"
    allow = ("read", "edit", "glob", "grep", "list", "bash", "external_directory")
    return {"$schema": "https://opencode.ai/config.json", "autoupdate": False,
            "share": "disabled", "lsp": False, "formatter": False, "provider": provider,
            "model": name, "small_model": name,
            "permission": dict.fromkeys(allow, "allow")}  # fmt: skip


def opencode_run(exe: str, dialect: str, base: Path, when: datetime) -> Measured:
    root = make_project(base)
    model = CachingModel(opencode_steps(root, dialect), dialect, MODELS[dialect])
    handler = AgentOnly(model)
    server = ScriptedServer(handler)
    home = base / "home"
    home.mkdir()
    config = opencode_config(dialect, server.url)
    # Outside the project (OPENCODE_CONFIG): the project, and what listing it shows,
    # stay the same as Rung's.
    (home / "opencode.json").write_text(json.dumps(config))
    xdg = {f"XDG_{k}_HOME": str(home / v) for k, v in
           (("CONFIG", ".config"), ("DATA", ".local/share"), ("CACHE", ".cache"),
            ("STATE", ".local/state"))}  # fmt: skip
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "LANG": "C.UTF-8", **xdg, **OFFLINE,
           "OPENCODE_CONFIG": str(home / "opencode.json"),
           "ANTHROPIC_API_KEY": "sk-ant-bench", "OPENAI_API_KEY": "sk-bench-0123"}  # fmt: skip
    argv = [exe, "run", "--model", config["model"], "--auto", QUESTION]
    problems: list[str] = []
    try:
        done = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True,
                              timeout=OPENCODE_TIMEOUT_S, stdin=subprocess.DEVNULL)  # fmt: skip
        if done.returncode != 0:
            problems.append(f"opencode exited {done.returncode}: {done.stderr[-800:]}")
    except subprocess.TimeoutExpired:
        problems.append(f"opencode did not finish in {OPENCODE_TIMEOUT_S} s")
    finally:
        server.close()
    return finish("opencode", model, root, dialect, when, problems, handler.side)


async def rung_run(dialect: str, base: Path, when: datetime) -> Measured:
    """Rung's agent on the one rung, through agent_cost.py's run (its servers, config,
    trusted hosts, project); the other two rungs stay idle."""
    ladder = dict(LADDERS["anthropic"])  # its cheap rung is openai/gpt-5-nano already
    role = "cheap" if dialect == "openai" else "premium"
    ladder[role] = RungSpec(dialect, MODELS[dialect], dialect)
    models: dict[str, CachingModel] = {}
    result = await one_run(ladder, Policy(f"all-{role}", pin=role), base, when, models=models)
    model = models[dialect]
    problems = list(result.problems)
    measured = finish("Rung", model, base / "project", dialect, when, problems, [])
    if measured.cost != result.cost:  # one price, whichever side of the wire reads it
        problems.append(f"priced {measured.cost} here, {result.cost} by agent_cost")
    return measured


def finish(
    tool: str, model: CachingModel, root: Path, dialect: str, when: datetime,
    problems: list[str], side: list[int],
) -> Measured:  # fmt: skip
    problems += [p for p in model.problems if p not in problems]
    if len(model.served) != len(model.script):
        problems.append(f"{len(model.served)} agent requests, not {len(model.script)}")
    if "return a + b" not in (root / "calc.py").read_text():
        problems.append("the fix is not on disk")
    tests = subprocess.run(PYTEST.split(), cwd=root, capture_output=True, text=True,
                           timeout=120, stdin=subprocess.DEVNULL)  # fmt: skip
    if tests.returncode != 0:
        problems.append(f"the tests fail after the run: {tests.stdout[-300:]}")
    cost = priced(dialect, model.served, when) if model.served else Decimal(0)
    return Measured(tool, model, cost, problems, side)


def report(dialect: str, runs: list[Measured]) -> None:
    rung, peer = (next(r for r in runs if r.tool == t) for t in ("Rung", "opencode"))
    print(f"\n### {dialect} dialect: {dialect}/{MODELS[dialect]}, cold caches\n")
    print("| tool | checks | agent requests | fixed prefix | input tokens | read from cache"
          " | share | seen before | bound 1 - last/sum | cost |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in (peer, rung):
        checks = "FAILED" if r.problems else "pass"
        print(f"| {r.tool} | {checks} | {len(r.served)} | {r.prefix:,} | {r.total:,} | "
              f"{r.read:,} | {r.share:.1%} | {r.seen:.1%} | {r.bound:.1%} | "
              f"{usd(r.cost)} |")  # fmt: skip
    cost = f"{rung.cost / peer.cost:.2f}x" if peer.cost else "-"
    print(
        f"| Rung / opencode | | | {rung.prefix / peer.prefix:.2f}x | "
        f"{rung.total / peer.total:.2f}x | {rung.read / peer.read:.2f}x | | | | {cost} |"
    )
    side = peer.side
    print(
        f"\nLeft out: opencode's {len(side)} side request(s) without tools (the session "
        f"title, from its small model; {sum(side):,} input tokens). Rung sent none."
    )


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--opencode", required=True, metavar="PATH", help="the executable")
    parser.add_argument("--dialect", choices=[*MODELS, "both"], default="both")
    args = parser.parse_args()
    # `python3` in the scripted test command is this interpreter's (it has pytest).
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    when = datetime.now(UTC)  # every run priced as of now
    failed = False
    for dialect in list(MODELS) if args.dialect == "both" else [args.dialect]:
        runs = []
        with tempfile.TemporaryDirectory(prefix="rung-cache-peer-") as tmp:
            runs.append(opencode_run(args.opencode, dialect, Path(tmp) / "opencode", when))
            runs.append(await rung_run(dialect, Path(tmp) / "rung", when))
        for run in runs:
            if run.problems:
                failed = True
                print(f"{dialect}/{run.tool}: FAILED the script's checks:", *run.problems,
                      sep="\n  ", file=sys.stderr)  # fmt: skip
        report(dialect, runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
