"""Compare rungs on your own prompts: every prompt on every rung, timed, priced and
checked. No Textual here: `rung compare` prints it, the compare screen draws it.

``CompareRun`` runs the grid: rungs in parallel, the local rung one request at a time,
a concurrency limit, and a money guard (``estimate`` before, a stop rule during). Its
parts live next to it: the prompts (compare_prompts.py), a cell's result
(compare_cell.py), one timed and priced answer (compare_answer.py) and the checks
that grade it (compare_checks.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from rung.engine.compare_answer import LiveAnswer
from rung.engine.compare_cell import Cell, CheckResult
from rung.engine.compare_checks import JUDGE_MAX_TOKENS, judge_request, run_check, verdict
from rung.engine.compare_prompts import Check, ComparePrompt
from rung.engine.conversation import ChatOptions
from rung.engine.ladder import Ladder, rung_kind
from rung.engine.session import Session
from rung.engine.whatif import Target, configured_model
from rung.tiers.base import ChatRequest, Message, Usage, estimate_usage
from rung.tiers.meter import MessageCost
from rung.tiers.router import choose

DEFAULT_CONCURRENCY = 4
# The output a cell is expected to use when no --max-tokens bound was given: a typical
# chat answer, so the estimate is neither the worst case nor zero.
TYPICAL_OUTPUT_TOKENS = 500
# A self-hosted rung is priced by GPU time; before Rung has measured its speed, the
# estimate assumes a slow server (a high estimate is the safe side of a money guard).
ASSUMED_SELFHOSTED_TOKENS_PER_S = 20.0


# -- the money guard -------------------------------------------------------------------
@dataclass
class Estimate:
    """What a run is expected to cost before it starts."""

    total: Decimal
    per_rung: dict[str, Decimal]
    judges: Decimal
    unknown: list[str]  # rungs (and judges) whose price is unknown: not in ``total``
    cells: int
    prompt_tokens: int  # all prompts, as sent (system prompt included)
    output_per_cell: int
    output_basis: str  # "--max-tokens" or "typical"
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Route:
    """What Auto routing on the user's ladder would have chosen for a prompt."""

    tier: str
    reason: str


@dataclass
class Progress:
    """A cell started, finished or was skipped; the run's counts at that moment."""

    kind: str  # "started", "done", "skipped"
    cell: Cell
    done: int
    total: int
    in_flight: int
    spent: Decimal


ProgressListener = Callable[[Progress], None]


class CompareRun:
    """Every prompt on every rung. Cells are scheduled prompt by prompt, so the rungs
    answer the same prompt side by side; at most ``concurrency`` requests are in flight,
    and the local rung takes one at a time (its model has one worker thread anyway)."""

    def __init__(
        self,
        ladder: Ladder,
        session: Session,
        prompts: list[ComparePrompt],
        rungs: list[str],
        options: ChatOptions,
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        max_cost: Decimal | None = None,
        output_bound: bool = False,
        throughput: dict[str, float] | None = None,
        on_progress: ProgressListener | None = None,
    ) -> None:
        """``output_bound``: max_tokens was asked for, so the estimate uses it as is;
        otherwise a typical answer length. ``throughput``: output tokens/s Rung measured
        per rung (for GPU-time and energy estimates)."""
        self.ladder = ladder
        self.session = session
        self.prompts = prompts
        self.rungs = rungs
        self.options = options
        self.concurrency = max(1, concurrency)
        self.max_cost = max_cost
        self.output_bound = output_bound
        self.throughput = dict(throughput or {})
        self.on_progress = on_progress
        self.cells = [Cell(p, r) for p in range(len(prompts)) for r in rungs]
        self.spent = Decimal(0)
        self.unknown_spend = 0  # answers and verdicts whose price is unknown
        self.status = "not started"
        self._in_flight: dict[int, Decimal] = {}
        self._done = 0
        self._cell_estimates: dict[tuple[int, str], Decimal] = {}

    # -- requests ----------------------------------------------------------------------
    def request(self, prompt: ComparePrompt) -> ChatRequest:
        o = self.options
        return ChatRequest(
            messages=(Message("user", prompt.text),),
            system=o.system or None,
            max_tokens=o.max_tokens,
            temperature=o.temperature,
        )

    def routes(self) -> list[Route]:
        """Auto routing on the user's ladder, prompt by prompt (whatever is pinned)."""
        quality = self.ladder.config.get("ladder", "quality")
        rungs = self.ladder.rungs()
        out = []
        for prompt in self.prompts:
            decision = choose(self.request(prompt), rungs, quality)
            out.append(Route(decision.tier, decision.reason))
        return out

    @property
    def expected_output(self) -> int:
        max_tokens = self.options.max_tokens
        return max_tokens if self.output_bound else min(max_tokens, TYPICAL_OUTPUT_TOKENS)

    # -- estimate ----------------------------------------------------------------------
    def identity(self, name: str) -> Target:
        """A rung's kind, provider and model without building it: estimating loads no
        model and opens no connection."""
        if self.ladder.is_built(name):
            tier = self.ladder.tier(name)
            return Target(name, tier.kind, tier.provider or name, tier.model)
        return Target(name, rung_kind(name), name, configured_model(self.ladder.config, name))

    def _price_guess(self, tier: Target, usage: Usage) -> MessageCost:
        speed = self.throughput.get(tier.name)
        if speed is None and tier.kind == "selfhosted":
            speed = ASSUMED_SELFHOSTED_TOKENS_PER_S
        busy = usage.output_tokens / speed if speed else 0.0
        return self.session.meter.price(
            tier=tier.name,
            kind=tier.kind,
            provider=tier.provider,
            model=tier.model,
            usage=usage,
            busy_s=busy,
        )

    def estimate(self) -> Estimate:
        """Prompt tokens (about 4 characters each) plus the expected output, priced per
        rung at today's prices; a judge's reading of each answer is added apart."""
        out = self.expected_output
        per_rung: dict[str, Decimal] = {}
        unknown: list[str] = []
        notes: list[str] = []
        prompt_tokens = 0
        for prompt in self.prompts:
            prompt_tokens += estimate_usage(self.request(prompt), 0, 0).input_tokens
        for name in self.rungs:
            tier = self.identity(name)
            total = Decimal(0)
            for index, prompt in enumerate(self.prompts):
                usage = estimate_usage(self.request(prompt), 0, 0)
                guess = self._price_guess(tier, Usage(usage.input_tokens, out, estimated=True))
                if guess.cost.usd is None:
                    unknown.append(name)
                    break
                self._cell_estimates[(index, name)] = guess.cost.usd
                total += guess.cost.usd
            else:
                per_rung[name] = total
            if tier.kind == "selfhosted" and name not in self.throughput:
                notes.append(
                    f"{name}: GPU time at an assumed {ASSUMED_SELFHOSTED_TOKENS_PER_S:g} "
                    "output tokens/s (Rung has not measured it yet)"
                )
        judges = Decimal(0)
        for index, prompt in enumerate(self.prompts):
            for check in prompt.judges:
                tier = self.identity(check.value)
                tokens = estimate_usage(judge_request(prompt.text, "", check.rubric), 0, 0)
                usage = Usage(tokens.input_tokens + out, JUDGE_MAX_TOKENS, estimated=True)
                guess = self._price_guess(tier, usage)
                if guess.cost.usd is None:
                    if f"judge {check.value}" not in unknown:
                        unknown.append(f"judge {check.value}")
                    continue
                judges += guess.cost.usd * len(self.rungs)
                for name in self.rungs:
                    key = (index, name)
                    if key in self._cell_estimates:
                        self._cell_estimates[key] += guess.cost.usd
        return Estimate(
            total=sum(per_rung.values(), Decimal(0)) + judges,
            per_rung=per_rung,
            judges=judges,
            unknown=list(dict.fromkeys(unknown)),
            cells=len(self.cells),
            prompt_tokens=prompt_tokens,
            output_per_cell=out,
            output_basis="--max-tokens" if self.output_bound else "typical",
            notes=notes,
        )

    # -- running -----------------------------------------------------------------------
    @property
    def committed(self) -> Decimal:
        """Spent, plus what the cells in flight are expected to cost."""
        return self.spent + sum(self._in_flight.values(), Decimal(0))

    def _over_limit(self) -> bool:
        return self.max_cost is not None and self.committed >= self.max_cost

    def _report(self, kind: str, cell: Cell) -> None:
        if self.on_progress is not None:
            self.on_progress(
                Progress(kind, cell, self._done, len(self.cells), len(self._in_flight), self.spent)
            )

    def _charge(self, usd: Decimal | None) -> None:
        if usd is None:
            self.unknown_spend += 1
        else:
            self.spent += usd

    async def run(self) -> list[Cell]:
        """Run every cell; returns them (also in ``cells``). Cancelling the task keeps
        what was answered, priced, and marks the rest interrupted."""
        if not self._cell_estimates and self.max_cost is not None:
            self.estimate()
        slots = asyncio.Semaphore(self.concurrency)
        lanes = {
            name: asyncio.Semaphore(
                1 if self.ladder.tier(name).kind == "local" else self.concurrency
            )
            for name in dict.fromkeys([*self.rungs, *self._judge_rungs()])
        }
        self.status = "running"
        tasks = [asyncio.create_task(self._cell(c, slots, lanes)) for c in self.cells]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks)
            for cell in self.cells:
                if not cell.finish_reason and cell.skipped is None:
                    cell.skipped = "interrupted"
            self.status = "interrupted"
            raise
        skipped = [c for c in self.cells if c.skipped]
        self.status = "stopped at the cost limit" if skipped else "complete"
        return self.cells

    def _judge_rungs(self) -> list[str]:
        return [c.value for p in self.prompts for c in p.judges]

    async def _cell(
        self, cell: Cell, slots: asyncio.Semaphore, lanes: dict[str, asyncio.Semaphore]
    ) -> None:
        prompt = self.prompts[cell.prompt]
        async with lanes[cell.rung], slots:
            if self._over_limit():
                cell.skipped = "cost limit reached"
                self._done += 1
                self._report("skipped", cell)
                return
            key = id(cell)
            self._in_flight[key] = self._cell_estimates.get((cell.prompt, cell.rung), Decimal(0))
            self._report("started", cell)
            answer: LiveAnswer | None = None
            try:
                tier = self.ladder.tier(cell.rung)
                answer = LiveAnswer(tier, self.request(prompt), self.session)
                cell.fill(await answer.run())
            except asyncio.CancelledError:
                if answer is not None and answer.answered is not None:
                    cell.fill(answer.answered)  # paid for: kept, marked interrupted
                    self._charge(cell.cost_usd)
                raise
            except Exception as exc:  # one broken cell must not end the run
                cell.finish_reason, cell.error = "error", f"{type(exc).__name__}: {exc}"
            finally:
                self._in_flight.pop(key, None)
            if answer is not None and answer.answered is not None:
                self._charge(cell.cost_usd)
        for check in prompt.checks:
            if check.kind != "judge":
                cell.checks.append(run_check(check, cell))
        for check in prompt.judges:
            cell.checks.append(await self._judge(cell, check, prompt, slots, lanes))
        self._done += 1
        self._report("done", cell)

    async def _judge(
        self,
        cell: Cell,
        check: Check,
        prompt: ComparePrompt,
        slots: asyncio.Semaphore,
        lanes: dict[str, asyncio.Semaphore],
    ) -> CheckResult:
        if not cell.text:
            return CheckResult("judge", False, "no answer to judge", judge=check.value)
        # The cell's own slots were released first: a local rung judging a local answer
        # would otherwise wait for itself.
        async with lanes[check.value], slots:
            if self._over_limit():
                return CheckResult(
                    "judge", None, "not judged: cost limit reached", judge=check.value
                )
            tier = self.ladder.tier(check.value)
            answer = LiveAnswer(
                tier, judge_request(prompt.text, cell.text, check.rubric), self.session
            )
            try:
                answered = await answer.run()
            except asyncio.CancelledError:
                if answer.answered is not None:
                    self._charge(answer.answered.record.cost.usd)
                raise
            record = answered.record
            self._charge(record.cost.usd)
        if answered.reply.failed is not None:
            passed, why = None, f"the judge failed: {answered.reply.failed.message}"
        else:
            passed, why = verdict(answered.reply.text)
        return CheckResult(
            "judge",
            passed,
            why,
            judge=check.value,
            judged=True,
            cost_usd=record.cost.usd,
            cost_exact=record.cost.exact,
        )
