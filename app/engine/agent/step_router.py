"""Each agent step on the cheapest rung that can do it (issue 27's per-step routing).

A step's kind (``steps.py``) sets what it needs: a plan needs the strongest judgement
(the bar is raised), an act step the user's usual bar, a digest (a summary for
compaction) less. Among the usable rungs that fit the transcript and can call tools
(declared by each tier), those whose model clears the bar for the step's task kinds
(``tiers/competence.py`` profiles) are priced for THIS step — with what each one's
prompt cache holds from its earlier steps, so a warm mid rung often beats a cold cheap
one, and moving to another provider is paid for with its cold cache — and the cheapest
is taken. Config fixes a kind to a rung (``[agent] plan = "anthropic"``, like Claude
Code's opusplan); a pinned rung takes every step that config does not fix; quality 0
still means "cheapest always".

No I/O here beyond building a rung's tier object (no network, no model load).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from rung.engine.ladder import AUTO, Ladder
from rung.tiers.base import ChatRequest, Message, Usage
from rung.tiers.competence import bar
from rung.tiers.context_window import DEFAULT_WINDOW, context_window
from rung.tiers.pricing import PriceBook, format_usd
from rung.tiers.route_cost import (
    RouteContext,
    expected_cost,
    next_usage,
    prompt_tokens,
    tokens_text,
    warm_tokens,
)
from rung.tiers.route_rungs import fitting
from rung.tiers.router import Rung

# The task kinds (tiers/task_kind.py) a step kind draws on; a rung's rate for a step is
# its worst among them.
STEP_TASKS: dict[str, tuple[str, ...]] = {
    "plan": ("design", "code_reason"),
    "act": ("code_write", "command"),
    "answer": ("code_reason",),
    "digest": ("rewrite",),
}
# How far each kind moves the user's quality dial: at the default 0.5 a plan needs
# ~94% (the premium rungs' prior), an act step 85% (a good cheap API), a digest 80%.
STEP_QUALITY = {"plan": 0.45, "act": 0.0, "answer": 0.0, "digest": -0.25}
DEFAULT_STEP_OUTPUT = 300  # tokens, before any step of the turn has answered
UNKNOWN_API = Decimal(1_000_000)
# The most a provider's count is believed to exceed the chars/4 estimate when scaling
# text it has not counted yet (dense JSON and code run ~1.5x; a larger gap is an outlier).
MAX_TOKEN_RATIO = 3.0  # an API price nobody knows sorts after every known one


def step_quality(quality: float, kind: str) -> float:
    """The quality a step of ``kind`` asks for; 0 stays 0 (cheapest always)."""
    if quality <= 0:
        return 0.0
    return max(0.0, min(1.0, quality + STEP_QUALITY.get(kind, 0.0)))


@dataclass(frozen=True)
class StepChoice:
    rung: str
    reason: str  # one line: why this rung for this step
    expected_usd: Decimal | None = None
    clears: bool = True  # False: no able rung clears the bar; this is the most able


class StepRouter:
    """Chooses every step's rung for one agent; remembers which prefix each rung's
    cache holds (its last step's usage) across the agent's turns."""

    def __init__(
        self,
        ladder: Ladder,
        *,
        fixed: Mapping[str, str],
        quality: float,
        prices: PriceBook | None,
        window: int = 0,
    ) -> None:
        """``window`` > 0: the context window every rung is held to (``[agent]
        context_window``); 0: each rung's own."""
        self.ladder = ladder
        self.window_override = window
        self.fixed = {k: v for k, v in fixed.items() if v}
        self.quality = quality
        self.prices = prices
        self._warm: dict[str, tuple[Usage, float]] = {}  # rung -> (its last usage, when)
        self._last_output = 0
        # The last transcript request the provider counted: its input tokens, its message
        # count and last message. None after compaction (the transcript shrank) or before.
        self._reported: tuple[int, int, Message] | None = None
        self._ratio = 1.0  # the last count over its estimate (1 to MAX_TOKEN_RATIO)
        self.floors: dict[str, str] = {}  # step kind -> the lowest rung (F9 taught it)

    def raise_floor(self, kind: str, rung: str) -> None:
        """F9 on a step of ``kind``: its steps go to ``rung`` or higher from now on (a
        pinned rung or a fixed kind included: the user asked for more)."""
        self.floors[kind] = rung

    # -- what the caches hold ----------------------------------------------------------
    def note(self, rung: str, usage: Usage) -> None:
        """A step on ``rung`` ended: its prompt is that rung's warm prefix now."""
        self._warm[rung] = (usage, time.monotonic())
        if usage.output_tokens:
            self._last_output = usage.output_tokens

    def forget_caches(self) -> None:
        """The transcript's start was rewritten (compaction): every cache is cold, and
        the last reported prompt no longer measures it (its ratio to the estimate still
        scales the estimate)."""
        self._warm.clear()
        self._reported = None

    def note_prompt(self, usage: Usage, request: ChatRequest) -> None:
        """A transcript request was counted by its provider: its count, and how far the
        chars/4 estimate fell short of it (this provider's tokens for this run's text)."""
        if usage.input_tokens and not usage.estimated and request.messages:
            self._reported = (usage.input_tokens, len(request.messages), request.messages[-1])
            ratio = usage.input_tokens / max(1, prompt_tokens(request))
            self._ratio = max(1.0, min(MAX_TOKEN_RATIO, ratio))

    def tokens(self, request: ChatRequest) -> int:
        """The transcript request's size: never below the provider's count of the last
        request plus the text added since, nor below the chars/4 estimate. The estimate
        alone undercounts code and JSON by a third or more: the context meter, the
        compaction trigger and every forecast read this. Text not counted yet (added
        since; the whole transcript after compaction rewrote it) is estimated and scaled
        by how far the estimate fell short of the last count."""
        counted = prompt_tokens(request)
        if self._reported is None:
            return math.ceil(counted * self._ratio)
        reported, held, last = self._reported
        if len(request.messages) < held or request.messages[held - 1] != last:
            return math.ceil(counted * self._ratio)  # not the transcript that was counted
        added = request.messages[held:]
        if added:
            new = ChatRequest(messages=tuple(added), system="", max_tokens=1)
            reported += math.ceil(prompt_tokens(new) * self._ratio)
        return max(counted, reported)

    def warm(self, rung: Rung) -> int:
        held = self._warm.get(rung.name)
        if held is None:
            return 0
        usage, when = held
        context = RouteContext(
            last_tier=rung.name, last_usage=usage, idle_s=time.monotonic() - when
        )
        return warm_tokens(rung.name, rung.provider, context, rung.model)

    def window(self, rung: str) -> int | None:
        """The context window the agent keeps within on ``rung``: the configured one,
        else the local rung's n_ctx, else the model's by genai-prices, else a default."""
        return self.windows().get(rung)

    def windows(self) -> dict[str, int]:
        """Every rung's window (see ``window``)."""
        if self.window_override:
            return dict.fromkeys(self.ladder.names, self.window_override)
        return {
            r.name: r.n_ctx or context_window(r.provider, r.model) or DEFAULT_WINDOW
            for r in self.ladder.rungs()
        }

    # -- choosing ----------------------------------------------------------------------
    def choose(
        self, kind: str, request: ChatRequest, allows_paid: bool = True, tokens: int | None = None
    ) -> StepChoice | str:
        """The rung for a step of ``kind``, or why no rung can take it. ``tokens``: the
        request's size when known better than its estimate (``tokens()`` for the
        transcript; a digest's request is sized by its characters)."""
        needs_tools = bool(request.tools)
        if tokens is None:
            tokens = prompt_tokens(request)
        rungs = [fitting(r, tokens) for r in self.ladder.rungs(allows_paid)]
        able = {r.name: self._able(r, needs_tools) for r in rungs}
        note = ""
        floor = self.floors.get(kind)
        if floor in able:
            # Taught by F9: only the rung escalated to and those above it.
            names = list(able)
            low = names.index(floor)
            able = {n: ("under the rung F9 chose" if i < low and not why else why)
                    for i, (n, why) in enumerate(able.items())}  # fmt: skip
            candidates = [r for r in rungs if not able[r.name]]
            if candidates:
                return self._auto(kind, candidates, rungs, tokens, f"F9 taught {kind} >= {floor}; ")
        fixed = self.fixed.get(kind)
        if fixed:
            found = next((r for r in rungs if r.name == fixed), None)
            if found is not None and able[fixed] == "":
                return StepChoice(fixed, f"[agent] {kind} = {fixed}", self._cost(found, tokens))
            why = "not on the ladder" if found is None else able[fixed]
            note = f"[agent] {kind} = {fixed} unusable ({why}); "
        if self.ladder.mode != AUTO:
            # A pinned rung answers even when unusable: its own failure says how to mend
            # it (the key's variable, the URL), as in the chat. Only a rung that cannot
            # call tools at all is refused here.
            pinned = next(r for r in rungs if r.name == self.ladder.mode)
            if pinned.usable and able[pinned.name]:
                return f"the pinned rung {pinned.name} cannot take this step: {able[pinned.name]}"
            cost = self._cost(pinned, tokens) if pinned.usable else None
            return StepChoice(pinned.name, f"{note}pinned: {pinned.name}", cost)
        candidates = [r for r in rungs if not able[r.name]]
        if not candidates:
            reasons = "; ".join(f"{r.name}: {able[r.name]}" for r in rungs)
            return f"no rung can take this step ({reasons})"
        return self._auto(kind, candidates, rungs, tokens, note)

    def _able(self, rung: Rung, needs_tools: bool) -> str:
        """Why ``rung`` cannot take the step ("" when it can)."""
        if not rung.usable:
            return rung.why_not or "unusable"
        if needs_tools:
            try:
                tier = self.ladder.tier(rung.name)
            except ValueError as exc:
                return str(exc)
            if not tier.can_call_tools:
                return "does not call tools"
        return ""

    def _auto(
        self, kind: str, candidates: list[Rung], rungs: list[Rung], tokens: int, note: str
    ) -> StepChoice:
        need = bar(step_quality(self.quality, kind))
        profiles = self.ladder.competence(rungs)
        tasks = STEP_TASKS.get(kind, ("other",))

        def rate(r: Rung) -> tuple[float, str] | None:
            profile = profiles.get(r.name)
            if profile is None:
                return None  # not judged: it clears, as in the chat's gate
            worst = min(tasks, key=profile.rate)
            return profile.rate(worst), worst

        clears = [r for r in candidates if need <= 0 or (rate(r) or (1.0, ""))[0] >= need]
        fallback = ""
        if not clears:
            best = max(candidates, key=lambda r: (rate(r) or (1.0, ""))[0])
            clears = [best]
            fallback = f"none clears the {need:.0%} bar for {kind}; the most able"
        costs = {r.name: self._cost(r, tokens) for r in clears}
        order = {r.name: i for i, r in enumerate(rungs)}
        picked = min(clears, key=lambda r: (self._sort_cost(r, costs[r.name]), order[r.name]))
        cost = costs[picked.name]
        priced = f" {format_usd(cost, True)}" if cost is not None else ""
        warm = self.warm(picked)
        if fallback:
            why = f"{fallback}: {picked.name}{priced}"
        elif warm:
            why = f"{picked.name}{priced}, {tokens_text(warm)} tokens cached there"
        else:
            why = f"{picked.name}{priced}, the cheapest that clears the {need:.0%} bar"
        skipped = [r for r in candidates if order[r.name] < order[picked.name] and r not in clears]
        if skipped and not fallback:
            low = skipped[-1]  # the nearest cheaper rung passed over
            found = rate(low)
            if found is not None:
                why += f" ({low.name} gets {found[1]} ~{found[0]:.0%})"
        return StepChoice(picked.name, note + why, cost, not fallback)

    def expected_usage(self, rung_name: str, tokens: int, output: int) -> Usage | None:
        """A step's usage on ``rung_name`` as best known without the provider's word:
        ``tokens`` in (``tokens()``), as much of it cached as that rung's cache holds
        (an interrupted step is priced with this, not as a cold cache)."""
        rung = next((r for r in self.ladder.rungs() if r.name == rung_name), None)
        if rung is None:
            return None
        warm = min(self.warm(rung), tokens)
        return next_usage(rung.provider, tokens, output, warm, rung.model)

    def _cost(self, rung: Rung, tokens: int) -> Decimal | None:
        """This step's expected price on ``rung``, with what its cache holds."""
        if self.prices is None:
            return None
        output = self._last_output or DEFAULT_STEP_OUTPUT
        warm = min(self.warm(rung), tokens)
        usage = next_usage(rung.provider, tokens, output, warm, rung.model)
        return expected_cost(rung.kind, rung.provider, rung.model, usage, self.prices)

    @staticmethod
    def _sort_cost(rung: Rung, cost: Decimal | None) -> Decimal:
        if cost is not None:
            return cost
        # Unknown: a local or self-hosted rung is the user's own hardware (cheapest by
        # the ladder's order); an unknown API price sorts last.
        return Decimal(0) if rung.kind != "api" else UNKNOWN_API
