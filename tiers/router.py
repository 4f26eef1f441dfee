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

import collections
import functools
import itertools
import json
import math
import re
import zlib
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

# Staying/moving costs live in route_rungs; the hand-written signals in router_features
# (`features` and `score` are read from here too: tests, bench, lessons).
from .route_rungs import continuity, fitting, passed_over, rung_cost, warm_choice
from .router_features import (
    Features,
    _instruction,
    features,
    last_message,
    score,
    word_count,
)
from .task_kind import task_kind

if TYPE_CHECKING:  # the lessons module reads this one's tokens: imported for types only
    from .lessons import Adjustment, Hit, LessonMemory


# -- the trained model ------------------------------------------------------------------
# bench/train_router.py fits a logistic regression on hashed inputs from `model_inputs`;
# its weights ship beside this file. Inference is plain Python: a CRC-32 per input and a
# dict lookup, tens of microseconds.
MODEL_FILE = Path(__file__).with_name("router_model.json")
# Bumped whenever `model_inputs` changes, so a stale weights file is refused, not misread.
MODEL_INPUTS_VERSION = 1
WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*[+#]*")
ASK_TOKENS = 64  # an instruction longer than this is material, not more instruction
# Letter n-grams of the instruction's words let "collector" count like "collection".
CHAR_SIZES = (3, 4, 5)
BODY_TOKENS = 400  # a long paste is told apart by its first few hundred words
# Signals the training prompts cannot show (one message each, no files): they move the
# model's log-odds by their hand weight instead.
CONTEXT_KINDS = ("long_conversation", "attachment")
LENGTH_BINS = (2, 5, 10, 20, 40, 80, 160)
SHAPE_NAMES = {
    "s:fence": "code block",
    "s:lines": "several lines",
    "s:material": "text to work on",
    "s:question": "a question",
}


def _tokens(text: str, limit: int) -> list[str]:
    # Numbers become one token: "1776" and "2024" say the same about difficulty. A long
    # paste is read only as far as the limit (finditer stops there; findall would not).
    found = itertools.islice(WORD.finditer(text.lower()), limit)
    return ["0" if t[0].isdigit() else t for t in (m.group(0) for m in found)]


def _char_grams(token: str) -> list[str]:
    padded = f" {token} "
    return [padded[i : i + n] for n in CHAR_SIZES for i in range(len(padded) - n + 1)]


def _bag(x: dict[str, float], prefix: str, grams: set[str]) -> None:
    # Unit length per family, so a long paste does not outvote its instruction.
    if grams:
        value = 1.0 / math.sqrt(len(grams))
        for g in grams:
            x[prefix + g] = value


def model_inputs(request: ChatRequest, f: Features | None = None) -> dict[str, float]:
    """What the trained model reads, by name: the hand signals' weights, the
    instruction's words, word pairs and letter n-grams, its first words, the whole
    message's words and its shape. Shared by inference and bench/train_router.py."""
    return _inputs(request, f if f is not None else features(request))[0]


Words = tuple[list[str], list[str]]  # the instruction's tokens, the message's tokens


def _inputs(
    request: ChatRequest, f: Features
) -> tuple[dict[str, float], dict[str, set[str]], Words]:
    """The inputs, each instruction word's letter n-grams (to credit them in reasons), and
    the tokens read (the lessons' similarity reads the same ones: tokenized once)."""
    last = last_message(request)
    ask = _instruction(last)
    x = {"h:" + k: f.signals[name] for k, name in f.kinds.items() if k not in CONTEXT_KINDS}
    ask_tokens = _tokens(ask, ASK_TOKENS)
    _bag(x, "a:", {*ask_tokens, *(a + " " + b for a, b in itertools.pairwise(ask_tokens))})
    grams = {t: set(_char_grams(t)) for t in ask_tokens}
    _bag(x, "c:", set().union(*grams.values()))
    if ask_tokens:
        x["f:" + ask_tokens[0]] = 1.0
        x["f:" + " ".join(ask_tokens[:2])] = 1.0
    body_tokens = _tokens(last, BODY_TOKENS)
    _bag(x, "w:", set(body_tokens))
    words = word_count(request.messages[-1].content) if request.messages else 0
    x[f"s:len{sum(words > b for b in LENGTH_BINS)}"] = 1.0
    if "```" in last:
        x["s:fence"] = 1.0
    if last.count("\n") >= 3:
        x["s:lines"] = 1.0
    if len(last) - len(ask) > 40:
        x["s:material"] = 1.0
    if "?" in ask:
        x["s:question"] = 1.0
    return x, grams, (ask_tokens, body_tokens)


def bucket(name: str, buckets: int) -> int:
    """Where an input's weight lives: CRC-32 is stable across runs, unlike hash()."""
    return zlib.crc32(name.encode()) % buckets


@dataclass(frozen=True)
class TrainedModel:
    bias: float
    buckets: int
    weights: dict[int, float]  # bucket -> weight; absent buckets weigh 0

    @classmethod
    def load(cls, path: Path) -> TrainedModel | None:
        """The model in ``path``, or None if it is missing, unreadable or for other inputs."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data["inputs_version"] != MODEL_INPUTS_VERSION:
                return None
            buckets, scale = int(data["buckets"]), float(data["scale"])
            # Buckets are stored sorted, as gaps from the previous one: a smaller file.
            index = list(itertools.accumulate(int(d) for d in data["index_delta"]))
            weights = {i: int(w) / scale for i, w in zip(index, data["weight"], strict=True)}
            if buckets <= 0 or scale <= 0 or any(not 0 <= i < buckets for i in weights):
                return None
            return cls(float(data["bias"]), buckets, weights)
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None

    def contributions(self, inputs: dict[str, float]) -> dict[str, float]:
        """Each input's push on the log-odds (positive: harder)."""
        # `bucket` inlined: this loop runs a few hundred times per decision.
        weight, buckets, crc32 = self.weights.get, self.buckets, zlib.crc32
        out = {}
        for name, value in inputs.items():
            w = weight(crc32(name.encode()) % buckets)
            if w:
                out[name] = w * value
        return out


@functools.cache
def trained_model() -> TrainedModel | None:
    """The shipped model, read once on first use (None: route by the hand score)."""
    return TrainedModel.load(MODEL_FILE)


# Words that name no subject: the model may weigh them, but a reason should not show them.
STOPWORDS = frozenset(
    re.findall(
        r"\S+",
        "a an the this that these those it its is are was be to of in on at for with and or "
        "but my our your me i we you what which who how why do does can could would should "
        "please some any all there here from by as so if not no 0",
    )
)


def _add(pushes: dict[str, float], label: str, weight: float) -> None:
    pushes[label] = pushes.get(label, 0.0) + weight


def _pushes(
    contributions: dict[str, float], f: Features, grams: dict[str, set[str]]
) -> tuple[dict[str, float], dict[str, float]]:
    """The model's pushes by what a user can read: hand signals and words first, the
    prompt's shape ("short request") apart, as a last resort for a reason."""
    primary: dict[str, float] = {}
    shapes: dict[str, float] = {}
    by_gram: dict[str, float] = {}
    for name, c in contributions.items():
        family, rest = name[0], name[2:]  # every input name is "<letter>:<rest>"
        if family == "c":
            by_gram[rest] = c
        elif family == "h":
            _add(primary, f.kinds[rest], c)
        elif family in ("a", "w", "f"):
            if " " not in rest:  # most inputs are single words: skip the split
                if rest not in STOPWORDS:
                    _add(primary, f"'{rest}'", c)
                continue
            words = [w for w in rest.split() if w not in STOPWORDS]
            if words:
                _add(primary, "'" + " ".join(words) + "'", c)
        elif family == "s":
            long = rest.startswith("len") and int(rest[3:]) >= 5  # more than 40 words
            _add(shapes, SHAPE_NAMES.get(name, "long request" if long else "short request"), c)
    # A letter n-gram's weight goes to the words it comes from, shared if several do.
    named = {t: gs for t, gs in grams.items() if t not in STOPWORDS}
    owners = collections.Counter(itertools.chain.from_iterable(named.values()))
    for token, gs in named.items():
        _add(primary, f"'{token}'", math.fsum(by_gram.get(g, 0.0) / owners[g] for g in gs))
    return primary, shapes


def _assess(
    request: ChatRequest,
) -> tuple[float, dict[str, float], dict[str, float], Words | None]:
    """The difficulty score (0..1), what pushed it, by readable name (see _pushes), and
    the tokens the model read (None with the hand weights)."""
    f = features(request)
    model = trained_model()
    if model is None:
        return score(f), dict(f.signals), {}, None
    inputs, grams, words = _inputs(request, f)
    contributions = model.contributions(inputs)
    primary, shapes = _pushes(contributions, f, grams)
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


def _explain(primary: dict[str, float], shapes: dict[str, float], climbing: bool) -> str:
    """The two strongest pushes the way the decision went, without repeating words."""
    chosen: list[str] = []
    for pushes in (primary, shapes):
        # Ties go by name, so a reason does not depend on the order sets came out in.
        ranked = sorted(pushes.items(), key=lambda kv: (-kv[1] if climbing else kv[1], kv[0]))
        for name, w in ranked:
            if len(chosen) == 2 or (w > 0) != climbing or abs(w) < 0.05:
                break
            words = name.strip("'").split()
            if not any(all(word in c for word in words) for c in chosen):
                chosen.append(name)
    if not chosen:
        return "nothing that needs a bigger model" if not climbing else "a demanding request"
    return ", ".join(chosen)


def _skipped(rung: Rung) -> str:
    return f"{rung.name} skipped ({rung.why_not or 'unavailable'})"


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
        why = _learned_why(adjustment.driving(target > base_target), target > base_target)
    else:
        why = _explain(primary, shapes, climbing)
    if len(ladder) == 1:
        help_ = _explain(primary, shapes, True)
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
        warm = min(warm_tokens(rung.name, rung.provider, context), trace.tokens)
        if warm:
            cached[rung.name] = warm
        if context is not None and context.prices is not None:
            costs[rung.name] = rung_cost(rung, next_usage(rung.provider, trace.tokens, out, warm),
                                     context)  # fmt: skip
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


def _learned_why(hits: list[Hit], climbing: bool) -> str:
    n, s = len(hits), "s" if len(hits) != 1 else ""
    if climbing:
        return f"you escalated {n} similar question{s}"
    rungs = "/".join(dict.fromkeys(h.lesson.rung for h in hits))
    return f"you kept {n} answer{s} to similar questions on {rungs}"


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
