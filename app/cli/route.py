"""`rung route`: the router as a command, for scripts and evaluation; `--explain` shows
what is behind a decision, `--forget` drops what the router learned from you."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal

from rung.cli import pipes
from rung.engine.config import Config, data_dir
from rung.engine.ladder import Ladder, kinds_ladder
from rung.engine.safe_text import for_terminal, json_for_terminal, one_line
from rung.engine.session import price_book
from rung.tiers.base import ChatRequest, Message
from rung.tiers.competence import Profile
from rung.tiers.lessons import FILE_NAME, LessonMemory
from rung.tiers.lessons_store import LessonStore
from rung.tiers.pricing import format_usd
from rung.tiers.route_cost import RouteContext
from rung.tiers.router import Decision, Explanation, Rung, choose, explain
from rung.tiers.task_kind import expand_floors


def _as_dict(decision: Decision) -> dict[str, object]:
    data: dict[str, object] = {
        # Counted from 1, as everywhere a user sees rungs (F2 pins rung 1).
        "rung": decision.rung + 1,
        "tier": decision.tier,
        "score": decision.score,
        "reason": decision.reason,
    }
    if decision.base_score is not None:
        data["base_score"] = decision.base_score
    if decision.learned is not None:
        data["lessons"] = [
            {
                "lesson": hit.lesson.describe(),
                "similarity": hit.similarity,
                "weight": round(hit.weight, 3),
                # The similarity is to the frame this lesson shares with an agreeing one.
                "framed": hit.framed,
            }
            for hit in decision.learned.hits
        ]
    return data


def run_route(args: argparse.Namespace, config: Config) -> int:
    for problem in config.problems:
        print(f"rung: warning: {problem}", file=sys.stderr)
    if args.forget:
        return _forget()
    # What each rung's model can do: only for your own ladder, whose rungs name their
    # models; a ladder of bare kinds (--ladder local,api) is routed by difficulty alone.
    competence: dict[str, Profile] | None = None
    if args.ladder:
        ladder: list[Rung] = kinds_ladder(args.ladder)
        store = LessonStore.load(data_dir() / FILE_NAME)
        problems = store.take_problems()
    else:
        users = Ladder(config)
        ladder, store, problems = users.rungs(), users.lessons, users.problems
        if not getattr(args, "no_competence", False):
            competence = users.competence(ladder)
    for problem in problems:
        print(f"rung: warning: {problem}", file=sys.stderr)
    lessons = None if args.no_lessons else store.memory
    if not ladder:
        print("rung route: the ladder is empty", file=sys.stderr)
        return 2
    quality = args.quality if args.quality is not None else config.get("ladder", "quality")
    # A single prompt has no conversation behind it: the context only prices the rungs.
    context = RouteContext(prices=price_book(config))

    def request(prompt: str) -> ChatRequest:
        return ChatRequest(messages=(Message("user", prompt),))

    floors = expand_floors(config.get("ladder", "floors")) if not args.ladder else None

    def decide(prompt: str) -> Decision:
        return choose(request(prompt), ladder, quality, context, lessons, competence, floors)

    if args.prompt and args.explain:
        why = explain(request(" ".join(args.prompt)), ladder, quality, context, lessons,
                      competence, floors)  # fmt: skip
        if args.json:
            print(json_for_terminal(json.dumps(_explanation_dict(why))))
        else:
            print(for_terminal(_explanation_text(why, ladder, quality, lessons, args.no_lessons)))
        return 0
    if args.prompt:
        decision = decide(" ".join(args.prompt))
        if args.json:
            print(json_for_terminal(json.dumps(_as_dict(decision))))
        else:
            print(f"rung {decision.rung + 1} of {len(ladder)} ({decision.tier}), "
                  f"score {decision.score:.2f}: {for_terminal(decision.reason)}")  # fmt: skip
        return 0
    if args.explain:
        print("rung route: --explain needs a prompt", file=sys.stderr)
        return 2
    # No prompt: JSON lines on stdin, one decision per line, in order.
    failures = 0
    for number, line in enumerate(pipes.stdin_lines(), start=1):
        if line is None:
            failures += 1
            print(json.dumps({"error": f"line {number}: longer than 1 MiB"}), flush=True)
            continue
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            prompt = item["prompt"]
            if not isinstance(prompt, str):
                raise TypeError("prompt must be a string")
        except (ValueError, KeyError, TypeError) as exc:
            failures += 1
            print(json.dumps({"error": f"line {number}: {exc}"}), flush=True)
            continue
        print(json_for_terminal(json.dumps(_as_dict(decide(prompt)))), flush=True)
    return 1 if failures else 0


def _forget() -> int:
    path = data_dir() / FILE_NAME
    store = LessonStore.load(path)
    count = store.forget()
    for problem in store.take_problems():
        print(f"rung: warning: {problem}", file=sys.stderr)
    if count:
        print(f"Forgot {count} routing lesson{'s' if count != 1 else ''} ({path}); "
              "Auto routes by the trained model alone again.")  # fmt: skip
    else:
        print("The router had learned nothing yet; nothing to forget.")
    return 0


def _rung_name(ladder: list[Rung], index: int) -> str:
    return f"rung {index + 1} ({ladder[index].name})"


def _explanation_text(
    why: Explanation,
    ladder: list[Rung],
    quality: float,
    lessons: LessonMemory | None,
    lessons_off: bool,
) -> str:
    d = why.decision
    base = d.base_score if d.base_score is not None else d.score
    cuts = ", ".join(f"{t:.2f}" for t in why.thresholds) or "none (one rung)"
    pushes = ", ".join(f"{name} {weight:+.2f}" for name, weight in why.pushes) or "nothing"
    lines = [
        f"rung {d.rung + 1} of {len(ladder)} ({d.tier}), score {d.score:.2f}: {d.reason}",
        f"  {why.scorer:<14} score {base:.2f} -> {_rung_name(ladder, why.base_rung)}; "
        f"thresholds {cuts} (quality {quality:.2f})",
        f"  pushed by      {pushes} (log-odds)",
    ]
    if lessons_off:
        lines.append("  learned        not used (--no-lessons)")
    elif d.learned is None:
        kept = len(lessons) if lessons is not None else 0
        lines.append(
            "  learned        nothing yet (F9 on an answer teaches the router)"
            if not kept
            else f"  learned        no similar lesson among {kept}: no change"
        )
    else:
        kept = len(lessons) if lessons is not None else 0
        lines.append(
            f"  learned        score {base:.2f} -> {d.score:.2f} ({d.score - base:+.2f}), "
            f"{len(d.learned.hits)} of {kept} lessons similar:"
        )
        for hit in d.learned.hits:
            vote = "climb" if hit.weight > 0 else "stay"
            lines.append(
                f"    {vote:<5} weight {abs(hit.weight):.2f}, similarity {hit.similarity:.2f}"
                f"{' to a shared frame' if hit.framed else ''}: {one_line(hit.lesson.describe())}"
            )
        if any(hit.framed for hit in d.learned.hits):
            # Why a lesson that alone is not this alike votes: it and an agreeing lesson
            # differ only where this question differs (tiers/lessons.py, _framed).
            lines.append(
                "    (shared frame: the lessons agree and differ only in one slot, which this "
                "question fills)"
            )
    lines.extend(_competence_lines(why, quality))
    if why.costs:
        costs = " · ".join(
            f"{name} {_price(cost)}"
            + (f" ({why.cached[name]:,} tokens cached)" if name in why.cached else "")
            for name, cost in why.costs.items()
        )
        lines.append(
            f"  expected cost  {costs}  "
            f"(~{why.prompt_tokens:,} tokens in, ~{why.output_tokens:,} out)"
        )
    return "\n".join(lines)


def _competence_lines(why: Explanation, quality: float) -> list[str]:
    gate = why.gate
    if gate is None:
        return ["  task kind      not used (a ladder of bare kinds, or --no-competence)"]
    rates = ", ".join(
        f"{name} {rate:.2f} ({source})" for name, (rate, source) in gate.rates.items()
    )
    lines = [
        f"  task kind      {gate.kind}; bar {gate.need:.2f} at quality {quality:.2f}",
        f"  P(right|kind)  {rates or 'no profiles'}",
    ]
    if gate.why:
        lines.append(f"  competence     {gate.why}")
    return lines


def _price(cost: Decimal | None) -> str:
    if cost is None:
        return "unknown"
    return "free" if cost == 0 else format_usd(cost, True)


def _explanation_dict(why: Explanation) -> dict[str, object]:
    data = _as_dict(why.decision)
    data.update(
        scorer=why.scorer,
        base_rung=why.base_rung + 1,
        thresholds=[round(t, 4) for t in why.thresholds],
        pushes={name: round(weight, 3) for name, weight in why.pushes},
        prompt_tokens=why.prompt_tokens,
        output_tokens=why.output_tokens,
        costs={name: None if c is None else str(c) for name, c in why.costs.items()},
    )
    if why.gate is not None:
        data.update(
            task_kind=why.gate.kind,
            bar=why.gate.need,
            competence={n: {"p_right": r, "source": s} for n, (r, s) in why.gate.rates.items()},
        )
    return data
