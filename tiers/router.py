"""Which rung should answer: a difficulty score for the request, mapped to the ladder
by thresholds that one "quality dial" moves. No network and no language model: a
decision takes a few tenths of a millisecond in plain Python.

What makes a request hard is mostly *what is asked*, not how long it is: "Design a
rate limiter." is short and hard; translating a paragraph is long and easy. Two layers:

- Hand-written signals read the task (verbs such as design/prove/debug against
  translate/convert/classify), the subject (systems, concurrency, security, algorithms
  at scale), the shape (several requirements, a stack trace, code to change) and the
  conversation (a deep technical thread), each with a hand-set weight.
- A small logistic regression (bench/train_router.py, weights in router_model.json)
  trained on hand-labelled prompts reads those signals together with the
  instruction's words, word pairs and letter n-grams, so a short question whose
  difficulty is in its subject ("Write a garbage collector for a toy VM.") climbs.
  Its probability is the score; if the file is missing or unreadable, the hand
  weights alone give the score, as before the model existed.

More inputs, all optional and all passed in (the router does no I/O):

- what this user taught it (tiers/lessons.py): their escalations and kept answers move
  similar questions, and only those, up or down the ladder;
- the conversation's state (tiers/route_cost.py): a rung the conversation no longer
  fits is skipped, a rung holding it in a warm prompt cache is kept when moving would
  cost more, and a climb to a paid rung names what the rung passed over would cost
  (tiers/route_rungs.py), and a warm paid conversation is not dropped to the local
  model to save less than a setting;
- what each rung's *model* can do (tiers/competence.py): P(right | task kind); the
  decision climbs past a rung whose model misses the quality dial's bar for this kind
  of task, and past the user's per-kind floors.

Every decision keeps what pushed it, so its reason fits on one line.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from .base import ChatRequest
from .competence import Gate, Profile, gate
from .pricing import format_usd
from .route_cost import (
    RouteContext,
    next_usage,
    output_tokens,
    prompt_tokens,
    tokens_text,
    warm_tokens,
)

# Staying/moving costs live in route_rungs; the hand-written signals in router_features;
# the trained model's inputs in router_inputs; the words of a reason in router_reasons.
from .route_rungs import continuity, fitting, passed_over, rung_cost, warm_choice
from .router_features import Features as Features
from .router_features import _instruction as _instruction  # lesson_features reads it here
from .router_features import features as features
from .router_features import last_message
from .router_features import score as score
from .router_inputs import ASK_TOKENS as ASK_TOKENS
from .router_inputs import BODY_TOKENS as BODY_TOKENS
from .router_inputs import CONTEXT_KINDS, read_inputs
from .router_inputs import MODEL_INPUTS_VERSION as MODEL_INPUTS_VERSION
from .router_inputs import TrainedModel as TrainedModel
from .router_inputs import Words as Words
from .router_inputs import bucket as bucket
from .router_inputs import model_inputs as model_inputs

# Read from here by lesson_features and tests under their names from before the split.
from .router_inputs import read_inputs as _inputs  # noqa: F401
from .router_inputs import tokens as _tokens  # noqa: F401
from .router_reasons import STOPWORDS as STOPWORDS
from .router_reasons import learned_why, pushes, why_text
from .task_kind import task_kind

if TYPE_CHECKING:  # the lessons module reads this one's tokens: imported for types only
    from .lessons import Adjustment, Hit, LessonMemory


# -- the trained model ------------------------------------------------------------------
# bench/train_router.py fits a logistic regression on hashed inputs from `model_inputs`;
# its weights ship beside this file. Inference is plain Python: a CRC-32 per input and a
# dict lookup, tens of microseconds.
MODEL_FILE = Path(__file__).with_name("router_model.json")


@functools.cache
def trained_model() -> TrainedModel | None:
    """The shipped model, read once on first use (None: route by the hand score)."""
    return TrainedModel.load(MODEL_FILE)


def _assess(
    request: ChatRequest,
) -> tuple[float, dict[str, float], dict[str, float], Words | None]:
    """The difficulty score (0..1), what pushed it, by readable name (router_reasons), and
    the tokens the model read (None with the hand weights)."""
    f = features(request)
    model = trained_model()
    if model is None:
        return score(f), dict(f.signals), {}, None
    inputs, grams, words = read_inputs(request, f)
    contributions = model.contributions(inputs)
    primary, shapes = pushes(contributions, f, grams)
    # fsum: the same score whatever order the inputs came in (set order varies by run).
    logit = model.bias + math.fsum(contributions.values())
    for kind in CONTEXT_KINDS:
        if kind in f.kinds:
            primary[f.kinds[kind]] = f.weight(kind)
            logit += f.weight(kind)
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, logit)))), primary, shapes, words


@dataclass(frozen=True)
class Rung:
    name: str
    kind: str  # "local", "selfhosted", "api"
    usable: bool = True
    why_not: str = ""  # shown when a rung is skipped
    # What pricing a rung and fitting a conversation into it need; empty for a bare
    # tier kind (`--ladder local,api`), whose price is then unknown.
    provider: str = ""  # who bills it: a key of PROVIDERS
    model: str = ""
    n_ctx: int | None = None  # its context window in tokens, when that is small (local)


@dataclass(frozen=True)
class Decision:
    rung: int  # index in the ladder: 0 is the cheapest
    tier: str
    score: float  # the score that decided: the trained model's, moved by any lessons
    reason: str
    base_score: float | None = None  # the trained model's alone (None: not scored, pinned)
    learned: Adjustment | None = None  # the lessons' push, when a lesson was similar


@dataclass(frozen=True)
class _Trace:
    """What `explain` adds to a decision."""

    base_target: int
    primary: dict[str, float]
    shapes: dict[str, float]
    tokens: int
    gate: Gate | None = None


@dataclass(frozen=True)
class Explanation:
    """Everything behind one decision, for `rung route --explain`."""

    decision: Decision
    scorer: str  # "trained model", or "hand weights" when the model file cannot be read
    base_rung: int  # where the trained model alone would have sent it
    pushes: list[tuple[str, float]]  # the strongest pushes on the base score, either way
    thresholds: list[float]
    prompt_tokens: int
    output_tokens: int
    costs: dict[str, Decimal | None]  # each rung's expected cost for this message (no prices: {})
    cached: dict[str, int]  # tokens of the next prompt warm in a rung's cache
    # The task's kind and each rung's P(right | kind) (None: no profiles were given).
    gate: Gate | None = None


def thresholds(n_rungs: int, quality: float) -> list[float]:
    """Score at which each rung above the first starts. The quality dial (0..1) moves
    the first step: 0.5 -> 0.5, 1.0 -> 0.3 (climbs sooner), 0.0 -> 0.7 (stays cheap)."""
    if n_rungs <= 1:
        return []
    first = 0.5 - (quality - 0.5) * 0.4
    step = (1.0 - first) / (n_rungs - 1)
    return [first + i * step for i in range(n_rungs - 1)]


def choose(
    request: ChatRequest,
    ladder: list[Rung],
    quality: float = 0.5,
    context: RouteContext | None = None,
    lessons: LessonMemory | None = None,
    competence: Mapping[str, Profile] | None = None,
    floors: Mapping[str, str] | None = None,
) -> Decision:
    """Pick the cheapest rung that fits the request; skip rungs that are not usable.

    ``lessons``: what this user taught the router (tiers/lessons.py); similar questions
    move, others do not. ``context``: the conversation so far (tiers/route_cost.py): a
    rung whose context window the conversation outgrew is skipped, a rung holding the
    conversation in its prompt cache is kept when moving would cost more, and a climb
    to a paid rung names what the rung passed over would have cost. Both are optional:
    without them the decision is the trained model's alone. ``competence``: each rung's
    P(right | task kind) by rung name (tiers/competence.py): the decision climbs past a
    rung whose model misses the quality dial's bar for this kind of task. ``floors``:
    the user's lowest rung per kind (``[ladder] floors``). Pure: no I/O."""
    return _route(request, ladder, quality, context, lessons, competence, floors)[0]


def _route(
    request: ChatRequest,
    ladder: list[Rung],
    quality: float,
    context: RouteContext | None,
    lessons: LessonMemory | None,
    competence: Mapping[str, Profile] | None = None,
    floors: Mapping[str, str] | None = None,
) -> tuple[Decision, _Trace]:
    if not ladder:
        raise ValueError("the ladder has no rungs")
    base, primary, shapes, words = _assess(request)
    value, adjustment = base, None
    if lessons is not None and len(lessons):
        adjustment = lessons.adjust(last_message(request), words)
        if adjustment is not None:
            value = adjustment.apply(base)
    cuts = thresholds(len(ladder), quality)
    base_target = sum(1 for t in cuts if base >= t)
    target = sum(1 for t in cuts if value >= t)
    if adjustment is not None:
        target = _bounded(target, base_target, adjustment.driving(value > base), ladder)
    tokens = prompt_tokens(request, context)
    checked = None
    if competence is not None or floors:
        checked = gate(
            task_kind(last_message(request)), target, ladder, competence or {}, quality, floors
        )
        # A user's own lesson that a cheaper rung was enough outranks a profile's average.
        if not (adjustment is not None and target < base_target):
            target = checked.target
    trace = _Trace(base_target, primary, shapes, tokens, checked)

    def decided(index: int, reason: str) -> tuple[Decision, _Trace]:
        return Decision(index, ladder[index].name, round(value, 4), reason, round(base, 4),
                        adjustment), trace  # fmt: skip

    climbing = target > 0
    if checked is not None and checked.why and target == checked.target:
        why = checked.why
    elif target != base_target and adjustment is not None:
        # The lessons decided; the model's words argue the other way.
        why = learned_why(adjustment.driving(target > base_target), target > base_target)
    else:
        why = why_text(primary, shapes, climbing)
    if len(ladder) == 1:
        help_ = why_text(primary, shapes, True)
        wants = f" (a bigger model would help: {help_})" if value >= 0.5 else ""
        return decided(0, f"{ladder[0].name}: the only rung on the ladder{wants}")
    fitted = [fitting(rung, tokens) for rung in ladder]
    picked = _nearest_usable(fitted, target)
    if picked is None:
        # Nothing else can answer: the local model trims old turns rather than fail.
        fitted = list(ladder)
        picked = _nearest_usable(fitted, target)
    if picked is None:
        return decided(target, f"{ladder[target].name}: no rung is usable; {why}")
    # The reason names the rung that answers first. "chose" marks a climb the router
    # made; a move forced by a skipped rung says so instead of reading as a choice.
    name, skipped = ladder[picked].name, _skipped(fitted[target])
    cache = warm_choice(request, fitted, target, picked, tokens, context)
    if cache is not None and cache[2] < cache[3]:
        last, warm, stay, move = cache
        ratio = f"{move / stay:.1f}x" if stay else format_usd(move, True)
        reason = (f"kept on {ladder[last].name}: {tokens_text(warm)} tokens cached; "
                  f"moving to {name} would cost {ratio}")  # fmt: skip
        return decided(last, reason + (f"; {skipped}" if picked != target else ""))
    kept = continuity(request, fitted, picked, tokens, context)
    if kept is not None:
        last, saving, need, wait = kept
        took = f" and take ~{wait:.0f} s" if wait is not None else ""
        small = f"{format_usd(saving, True)} (under {format_usd(need)})"
        return decided(last, f"kept on {ladder[last].name}: {name} would save only {small}{took}")
    if picked == target:
        reason = f"chose {name}: {why}" if climbing else f"{name}: {why}"
    elif picked > target:
        reason = f"chose {name}: {why}; {skipped}" if climbing else f"{name}: {skipped}"
    else:
        reason = f"{name}: {skipped}; would climb for {why}"
    if cache is not None:
        # Moving is cheaper even though the cache is warm: say what staying would cost.
        last, warm, stay, _ = cache
        note = (f"staying on {ladder[last].name} ({tokens_text(warm)} tokens cached) would "
                f"have cost {format_usd(stay, True)}")  # fmt: skip
    else:
        note = passed_over(request, fitted, target, picked, tokens, context)
    return decided(picked, f"{reason}; {note}" if note else reason)


def explain(
    request: ChatRequest,
    ladder: list[Rung],
    quality: float = 0.5,
    context: RouteContext | None = None,
    lessons: LessonMemory | None = None,
    competence: Mapping[str, Profile] | None = None,
    floors: Mapping[str, str] | None = None,
) -> Explanation:
    """`choose`, with what is behind it: the trained model's own score and pushes, the
    lessons that moved it, and each rung's expected cost."""
    decision, trace = _route(request, ladder, quality, context, lessons, competence, floors)
    pushes = sorted({**trace.shapes, **trace.primary}.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
    out = output_tokens(request, context)
    costs: dict[str, Decimal | None] = {}
    cached: dict[str, int] = {}
    for rung in ladder:
        warm = min(warm_tokens(rung.name, rung.provider, context, rung.model), trace.tokens)
        if warm:
            cached[rung.name] = warm
        if context is not None and context.prices is not None:
            usage = next_usage(rung.provider, trace.tokens, out, warm, rung.model)
            costs[rung.name] = rung_cost(rung, usage, context)
    return Explanation(
        decision,
        "trained model" if trained_model() is not None else "hand weights",
        trace.base_target,
        [(n, w) for n, w in pushes if abs(w) >= 0.05][:6],
        thresholds(len(ladder), quality),
        trace.tokens,
        out,
        costs,
        cached,
        trace.gate,
    )


def _bounded(target: int, base_target: int, hits: list[Hit], ladder: list[Rung]) -> int:
    """The lessons move a question only as far as the rungs they name: an escalation from
    local to deepseek does not send a similar question past deepseek, an answer kept on
    deepseek does not send one below it. ``hits``: the lessons that voted the way the
    score moved."""
    names = [r.name for r in ladder]
    if target > base_target:
        tops = []
        for hit in hits:
            lesson = hit.lesson
            if lesson.to in names:
                tops.append(names.index(lesson.to))
            elif lesson.rung in names:
                tops.append(names.index(lesson.rung) + 1)
            else:
                tops.append(len(names) - 1)
        return min(target, max(base_target, *tops))
    if target < base_target:
        floors = [names.index(h.lesson.rung) if h.lesson.rung in names else 0 for h in hits]
        return max(target, min(base_target, *floors))
    return target


def _skipped(rung: Rung) -> str:
    return f"{rung.name} skipped ({rung.why_not or 'unavailable'})"


def _nearest_usable(ladder: list[Rung], target: int) -> int | None:
    """The target rung, else the next one up, else the best one below."""
    for i in range(target, len(ladder)):
        if ladder[i].usable:
            return i
    for i in range(target - 1, -1, -1):
        if ladder[i].usable:
            return i
    return None


def next_usable(ladder: list[Rung], after: int) -> int | None:
    """The rung a failed or escalated request moves to."""
    for i in range(after + 1, len(ladder)):
        if ladder[i].usable:
            return i
    return None
