"""What an agent run costs under each routing policy (issue 27, item 5): the same
scripted 20-step task (plan -> 18 act steps -> answer: tests/agent/cache_script.py)
run by the real agent loop against a three-rung ladder of local model servers that
simulate prompt caching honestly (tests/agent/cache_server.py), once per policy, each
run cold (fresh servers, a fresh project).

Two ladders, one per dialect of the premium rung:
- anthropic: cheap openai/gpt-5-nano, mid deepseek/deepseek-v4-pro, premium
  anthropic/claude-opus-4-7 (Anthropic Messages API, cache_control breakpoints);
- openai: cheap groq/openai/gpt-oss-120b, mid deepseek/deepseek-v4-pro, premium
  openai/gpt-5.5 (chat completions, automatic prefix caching).
Every rung is priced from the shipped tables (genai-prices' bundled snapshot) by the
model name its server reports. The cheap and mid rungs speak the OpenAI dialect; the
DeepSeek rung caches by DeepSeek's rules and reports its usage fields, the others by
OpenAI's.

A policy is the config the agent is built from: ``[ladder] mode`` (a pinned rung, or
"auto") and the ``[agent] plan / act / digest / answer`` keys (a rung each; unset:
Auto routes that kind per step). Policies that need per-step routing are skipped, with
a note, on a loop that does not read those keys yet.

Per run: steps per rung, the premium-step share, the cache-read share (input tokens
read from cache / all input tokens, as the servers billed them), "seen before" (the
input each rung had already been sent, in an earlier request to the same model: the
most any prefix cache could read; read / seen shows what the transcript's layout and the
providers' minimums lose, seen / 100% what is new text or a rung's first request), the
cost (Decimal) and its ratio to all-premium and to the opusplan-like policy (premium
plans, the mid rung does everything else). Every run must pass the script's checks (each step saw
the results it expected, the fix landed, the tests pass at the end), or the bench
fails.

    python bench/agent_cost.py [--ladder anthropic|openai|both] [--policy NAME ...] [--warm]

``--warm``: the task is the session's second turn. The same agent first answers an
earlier question ("What does this project do?": a list, then the answer), routed by the
same policy, as in the chat, where a session's turns continue one conversation; only
the second turn's 20 steps are counted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.agent: the caching servers and the script

from rung.engine.agent.events import StepPriced, StepStarted  # noqa: E402
from rung.engine.agent.loop import Agent  # noqa: E402
from rung.engine.agent.setup import agent_session  # noqa: E402
from rung.engine.config import SCHEMA, load_config  # noqa: E402
from rung.engine.ladder import Ladder  # noqa: E402
from rung.engine.session import Session  # noqa: E402
from rung.engine.trusted_hosts import TrustedHosts  # noqa: E402
from rung.tiers.pricing import PriceBook  # noqa: E402
from rung.tiers.providers import PROVIDERS  # noqa: E402
from tests.agent.cache_script import (  # noqa: E402
    ALLOW,
    EARLIER_QUESTION,
    EARLIER_TURN,
    QUESTION,
    make_project,
    twenty_steps,
)
from tests.agent.cache_server import CachingModel  # noqa: E402
from tests.fakes import ScriptedServer  # noqa: E402

STEP_KINDS = ("plan", "act", "digest", "answer")
ROLES = ("cheap", "mid", "premium")


@dataclass(frozen=True)
class RungSpec:
    name: str  # the rung (a provider name)
    model: str  # what its server reports, priced from the shipped tables
    dialect: str  # "openai" or "anthropic"


LADDERS: dict[str, dict[str, RungSpec]] = {
    "anthropic": {
        "cheap": RungSpec("openai", "gpt-5-nano", "openai"),
        "mid": RungSpec("deepseek", "deepseek-v4-pro", "openai"),
        "premium": RungSpec("anthropic", "claude-opus-4-7", "anthropic"),
    },
    "openai": {
        "cheap": RungSpec("groq", "openai/gpt-oss-120b", "openai"),
        "mid": RungSpec("deepseek", "deepseek-v4-pro", "openai"),
        "premium": RungSpec("openai", "gpt-5.5", "openai"),
    },
}


@dataclass(frozen=True)
class Policy:
    """``pin``: a role whose rung takes every step ([ladder] mode); ``kinds``: step
    kind -> role ([agent] keys); neither: Auto routes every step."""

    name: str
    pin: str = ""
    kinds: dict[str, str] = field(default_factory=dict)

    @property
    def per_step(self) -> bool:
        return not self.pin

    def config(self, ladder: dict[str, RungSpec]) -> tuple[str, dict[str, str]]:
        """([ladder] mode, the [agent] keys) for this ladder."""
        mode = ladder[self.pin].name if self.pin else "auto"
        return mode, {k: ladder[role].name for k, role in self.kinds.items()}


OPUSPLAN = Policy("opusplan-like", kinds={"plan": "premium", "act": "mid", "digest": "mid",
                                          "answer": "mid"})  # fmt: skip
POLICIES = [
    Policy("all-premium", pin="premium"),
    Policy("all-mid", pin="mid"),
    Policy("all-cheap", pin="cheap"),
    OPUSPLAN,
    Policy("auto"),
]


def per_step_supported() -> bool:
    """Whether this loop reads the [agent] plan/act/digest/answer keys."""
    return all(k in SCHEMA["agent"] for k in STEP_KINDS)


@dataclass
class RunResult:
    policy: str
    steps: Counter[str]
    kinds: Counter[str]
    input_tokens: int
    cached_tokens: int
    cost: Decimal
    problems: list[str]
    # Input tokens each rung had been sent before, in an earlier request to the same
    # model (cache_server.Served.seen): the most any prefix cache could have read. The
    # rest is each step's new text and each rung's first request.
    seen_tokens: int = 0

    @property
    def total_steps(self) -> int:
        return sum(self.steps.values())

    @property
    def cache_share(self) -> float:
        return self.cached_tokens / self.input_tokens if self.input_tokens else 0.0

    @property
    def seen_share(self) -> float:
        return self.seen_tokens / self.input_tokens if self.input_tokens else 0.0


def config_text(ladder: dict[str, RungSpec], urls: dict[str, str], policy: Policy) -> str:
    mode, kinds = policy.config(ladder)
    rungs = ", ".join(f'"{ladder[r].name}"' for r in ROLES)
    lines = ["[ladder]", f"rungs = [{rungs}]", f'mode = "{mode}"', ""]
    for role in ROLES:
        spec = ladder[role]
        lines += [f"[providers.{spec.name}]", f'model = "{spec.model}"',
                  f'base_url = "{urls[spec.name]}"', ""]  # fmt: skip
    if kinds:
        lines.append("[agent]")
        lines += [f'{kind} = "{rung}"' for kind, rung in kinds.items()]
    return "\n".join(lines) + "\n"


async def one_run(
    ladder: dict[str, RungSpec],
    policy: Policy,
    base: Path,
    when: datetime,
    warm: bool = False,
    models: dict[str, CachingModel] | None = None,
) -> RunResult:
    """The scripted task under ``policy``: its own project, its own cold servers.
    ``models``, when given, is filled with each rung's caching model (the requests its
    server saw and what it billed each: bench/agent_cache_peer.py reads them)."""
    os.environ["XDG_CONFIG_HOME"] = str(base / "config")
    os.environ["XDG_DATA_HOME"] = str(base / "data")
    os.environ.pop("RUNG_CONFIG", None)
    models = {} if models is None else models
    servers: list[ScriptedServer] = []
    urls: dict[str, str] = {}
    try:
        for role in ROLES:
            spec = ladder[role]
            flavor = "deepseek" if spec.name == "deepseek" else ""  # its own cache rules
            script = [*EARLIER_TURN, *twenty_steps()] if warm else twenty_steps()
            models[spec.name] = CachingModel(script, spec.dialect, spec.model, flavor)
            servers.append(ScriptedServer(models[spec.name]))
            urls[spec.name] = servers[-1].url + ("/v1" if spec.dialect == "openai" else "")
            env_var = PROVIDERS[spec.name].env_var
            assert env_var is not None
            os.environ[env_var] = "sk-bench-0123456789abcdef"  # only to 127.0.0.1
        config_path = base / "config" / "rung" / "config.toml"
        config_path.parent.mkdir(parents=True, exist_ok=True)
        config_path.write_text(config_text(ladder, urls, policy))
        trusted = TrustedHosts()
        for name, url in urls.items():
            trusted.trust(name, url)
        root = make_project(base)
        config = load_config()
        assert not config.problems, config.problems
        priced: list[StepPriced] = []
        kinds: Counter[str] = Counter()
        problems: list[str] = []

        def on_event(event: object) -> None:
            if isinstance(event, StepPriced):
                priced.append(event)
            elif isinstance(event, StepStarted):
                kinds[event.kind or "-"] += 1

        first = {name: 0 for name in models}  # each model's first request of the task
        tools = agent_session(config, root, None, mode="accept-edits", allow=ALLOW)
        agent = Agent(Ladder(config), Session(config, "agent", history=False), tools, [on_event])
        try:
            if warm:
                earlier = await agent.run(EARLIER_QUESTION)
                if earlier.reason != "answered":
                    problems.append(f"the earlier turn ended {earlier.reason}: {earlier.message}")
                priced.clear()
                kinds.clear()
                first = {name: len(m.served) for name, m in models.items()}
            result = await agent.run(QUESTION)
        finally:
            await agent.ladder.aclose()
            agent.session.close()
        problems += [f"{name}: {p}" for name, m in models.items() for p in m.problems]
        if result.reason != "answered":
            problems.append(f"the run ended {result.reason}: {result.message}")
        if "return a + b" not in (root / "calc.py").read_text():
            problems.append("the fix did not land")
        if len(priced) != len(twenty_steps()):
            problems.append(f"{len(priced)} steps, not {len(twenty_steps())}")
        if any(p.cost is None for p in priced):
            problems.append("a step's price is unknown")
        # Priced again at one moment for every run: the tables hold time-of-day prices
        # (DeepSeek), and runs minutes apart must compare like with like.
        book = PriceBook()
        costs = [book.api_cost(p.rung, p.model, p.usage, when).usd for p in priced]
        return RunResult(
            policy.name,
            Counter(p.rung for p in priced),
            kinds,
            sum(p.usage.input_tokens for p in priced),
            sum(p.usage.cached_input_tokens for p in priced),
            sum((c for c in costs if c is not None), Decimal(0)),
            problems,
            sum(s.seen for name, m in models.items() for s in m.served[first[name] :]),
        )
    finally:
        for server in servers:
            server.close()


def usd(amount: Decimal) -> str:
    return f"${amount.quantize(Decimal('0.00001'))}"


def report(
    name: str, ladder: dict[str, RungSpec], runs: list[RunResult], skipped: list[str], warm: bool
) -> None:
    premium = ladder["premium"].name
    order = [ladder[r].name for r in ROLES]
    base = next((r.cost for r in runs if r.policy == "all-premium"), None)
    plan = next((r.cost for r in runs if r.policy == OPUSPLAN.name), None)
    caches = "warm (the session's second turn)" if warm else "cold"
    print(f"\n### Premium rung in the {name} dialect, {caches} caches: "
          + ", ".join(f"{r} {ladder[r].name}/{ladder[r].model}" for r in ROLES))  # fmt: skip
    print()
    print("| policy | checks | steps per rung (" + " / ".join(order) + ") | step kinds | "
          "premium steps | cache read | seen before | cost | x all-premium | "
          "vs opusplan-like |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run in runs:
        per = " / ".join(str(run.steps.get(n, 0)) for n in order)
        share = run.steps.get(premium, 0) / run.total_steps if run.total_steps else 0.0
        ratio = f"{run.cost / base:.2f}x" if base else "-"
        versus = f"{run.cost / plan:.2f}x" if plan else "-"
        kinds = " ".join(f"{k} {n}" for k, n in sorted(run.kinds.items()))
        checks = "FAILED" if run.problems else "pass"
        print(f"| {run.policy} | {checks} | {per} | {kinds} | {share:.0%} | "
              f"{run.cache_share:.1%} | {run.seen_share:.1%} | {usd(run.cost)} | {ratio} | "
              f"{versus} |")  # fmt: skip
    for line in skipped:
        print(f"\n{line}")
    auto = next((r for r in runs if r.policy == "auto"), None)
    if auto is not None and base and plan:
        share = auto.steps.get(premium, 0) / auto.total_steps
        checks = [
            ("premium steps <= 30%", share <= 0.30),
            ("cache read >= 93%", auto.cache_share >= 0.93),
            ("cost <= 0.30x all-premium", auto.cost <= base * Decimal("0.30")),
            ("cost below opusplan-like", auto.cost < plan),
        ]
        print("\nIssue 27's bar for auto: "
              + "; ".join(f"{what}: {'yes' if ok else 'NO'}" for what, ok in checks))  # fmt: skip
        print(f"auto read {auto.cache_share:.1%} of its input from cache; its rungs had been "
              f"sent {auto.seen_share:.1%} before (the most any prefix cache could read), "
              f"so its transcript loses {auto.seen_share - auto.cache_share:.1%} to the "
              "providers' minimums and steps; the rest is new text and each rung's first "
              "request.")  # fmt: skip


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ladder", choices=[*LADDERS, "both"], default="both")
    parser.add_argument("--policy", action="append", choices=[p.name for p in POLICIES])
    parser.add_argument(
        "--warm",
        action="store_true",
        help="each rung first answers one question in the project (a session's earlier "
        "turn): its cache holds the system prompt and tools when the run starts",
    )
    args = parser.parse_args()
    names = list(LADDERS) if args.ladder == "both" else [args.ladder]
    policies = [p for p in POLICIES if not args.policy or p.name in args.policy]
    # `python3` in the scripted test command is this interpreter's (it has pytest).
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    supported = per_step_supported()
    when = datetime.now(UTC)  # every run priced as of now
    failed = False
    for name in names:
        ladder = LADDERS[name]
        runs: list[RunResult] = []
        skipped: list[str] = []
        for policy in policies:
            if policy.per_step and not supported:
                skipped.append(f"{policy.name}: skipped (this loop has no [agent] "
                               "plan/act/digest/answer keys yet)")  # fmt: skip
                continue
            with tempfile.TemporaryDirectory(prefix="rung-agent-cost-") as tmp:
                run = await one_run(ladder, policy, Path(tmp), when, args.warm)
            if run.problems:
                failed = True
                print(f"{name}/{policy.name}: FAILED the script's checks:", *run.problems,
                      sep="\n  ", file=sys.stderr)  # fmt: skip
            runs.append(run)
        report(name, ladder, runs, skipped, args.warm)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
