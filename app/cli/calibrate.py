"""`rung calibrate`: measure what a rung's model gets right, per task kind, and store
it as the model's competence profile (tiers/competence.py), which Auto then routes by.

The labelled set ships in the package (tiers/calibration/calibration.jsonl): short
tasks of each kind, each with a machine check (compare's regex/contains checks), so no
judge model and no money beyond the answers. Progress goes to stderr; Ctrl-C stops
with nothing stored (a profile from half the kinds would mislead the router).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rung.engine.compare import (
    Cell,
    Check,
    ComparePrompt,
    PromptFileError,
    parse_prompts,
    run_check,
)
from rung.engine.config import Config, data_dir
from rung.engine.safe_text import one_line
from rung.tiers.base import ChatRequest, Message, Reply, Tier
from rung.tiers.competence import (
    CALIBRATION_SET,
    Profile,
    load_profile,
    measured,
    model_key,
    remote_key,
    save_profile,
    shipped_profiles,
)
from rung.tiers.task_kind import KINDS

# Every calibration answer is short (a command, a number, a line of code): a longer
# limit only lets a small model ramble past its answer and costs minutes.
CALIBRATION_MAX_TOKENS = 64
# A whole answer's time bound: a stuck tier must not hang the run.
ANSWER_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Labelled:
    prompt: ComparePrompt
    kind: str


def read_set(path: Path) -> list[Labelled]:
    """The labelled prompts: compare's JSON-lines format plus a "kind" on each line.
    Raises PromptFileError naming the line."""
    text = path.read_text(encoding="utf-8")
    prompts = parse_prompts(text)
    kinds = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        kind = json.loads(line).get("kind")
        if kind not in KINDS:
            raise PromptFileError(f"line {number}: kind must be one of {', '.join(KINDS)}")
        kinds.append(kind)
    for prompt in prompts:
        if not prompt.checks or any(c.kind == "judge" for c in prompt.checks):
            raise PromptFileError(f"{prompt.text[:40]!r}: needs a regex/contains/json check")
    return [Labelled(p, k) for p, k in zip(prompts, kinds, strict=True)]


def passed(checks: tuple[Check, ...], text: str) -> bool:
    cell = Cell(0, "", text=text, finish_reason="stop")
    return all(run_check(check, cell).passed for check in checks)


class AnswerFailed(Exception):
    """The rung gave no answer (no key, server down, an error): a zero would be a lie."""


async def answer(tier: Tier, prompt: str, max_tokens: int, system: str | None = None) -> str:
    # ``system``: the prompt the product sends with every question (`[ui] system_prompt`),
    # so the model is measured as users meet it, not bare.
    request = ChatRequest(messages=(Message("user", prompt),), max_tokens=max_tokens,
                          temperature=0.0, system=system)  # fmt: skip
    reply = Reply()

    async def read() -> None:
        async for event in tier.stream(request):
            reply.observe(event)

    await asyncio.wait_for(read(), ANSWER_TIMEOUT_S)
    if reply.failed is not None:
        raise AnswerFailed(reply.failed.message)
    return reply.text


async def measure(
    tier: Tier,
    items: list[Labelled],
    max_tokens: int = CALIBRATION_MAX_TOKENS,
    progress: Callable[[int, int, Labelled, bool], None] | None = None,
    system: str | None = None,
) -> tuple[dict[str, tuple[int, int]], list[tuple[Labelled, str, bool]]]:
    """(right, asked) per kind, and every answer with its verdict."""
    results: dict[str, list[int]] = {}
    answers: list[tuple[Labelled, str, bool]] = []
    for i, item in enumerate(items, start=1):
        try:
            text = await answer(tier, item.prompt.text, max_tokens, system)
        except TimeoutError:
            text = ""
        ok = passed(item.prompt.checks, text)
        right, asked = results.setdefault(item.kind, [0, 0])
        results[item.kind] = [right + ok, asked + 1]
        answers.append((item, text, ok))
        if progress is not None:
            progress(i, len(items), item, ok)
    return {k: (r, n) for k, (r, n) in results.items()}, answers


def run_calibrate(args: argparse.Namespace, config: Config) -> int:
    name = args.rung or "local"
    try:
        items = read_set(Path(args.set) if args.set else CALIBRATION_SET)
    except (OSError, PromptFileError, ValueError) as exc:
        print(f"rung calibrate: {exc}", file=sys.stderr)
        return 2
    kinds = _kinds(getattr(args, "kinds", None))
    if isinstance(kinds, str):
        print(f"rung calibrate: {kinds}", file=sys.stderr)
        return 2
    if kinds:
        items = [i for i in items if i.kind in kinds]
    if args.limit:
        items = _spread(items, args.limit)
    from rung.engine.build_tiers import RungOverrides, UnknownTierError, build_tier

    try:
        tier = build_tier(name, config, RungOverrides(None, None, None))
    except UnknownTierError as exc:
        print(f"rung calibrate: {exc}", file=sys.stderr)
        return 2
    path = getattr(tier, "model_path", None)
    if name == "local":
        tier.wait_loaded()  # type: ignore[attr-defined]
    why_not = tier.unusable_reason or (None if tier.ready else "not ready")
    if why_not:
        print(f"rung calibrate: {name} cannot answer: {one_line(why_not)}", file=sys.stderr)
        return 1
    key = model_key(path) if isinstance(path, Path) else remote_key(name, tier.model)
    model = path.name if isinstance(path, Path) else f"{name}/{tier.model}"
    print(f"Calibrating {model} on {len(items)} checked prompts "
          f"({', '.join(sorted({i.kind for i in items}))})…", file=sys.stderr)  # fmt: skip
    started = time.monotonic()

    def progress(i: int, n: int, item: Labelled, ok: bool) -> None:
        mark = "right" if ok else "wrong"
        print(f"  [{i}/{n}] {item.kind:<11} {mark}: {one_line(item.prompt.text)[:60]}",
              file=sys.stderr, flush=True)  # fmt: skip

    async def run() -> dict[str, tuple[int, int]]:
        try:
            system = config.get("ui", "system_prompt") or None
            return (await measure(tier, items, args.max_tokens, progress, system))[0]
        except asyncio.CancelledError:
            # Ctrl-C: end the reply in flight and the model's worker while this loop
            # still runs; a worker left emitting into a closed loop dies with a traceback.
            tier.stop()
            closer = getattr(tier, "close", None)
            if callable(closer):
                closer()
            raise

    try:
        results = asyncio.run(run())
    except KeyboardInterrupt:
        print("\nrung calibrate: interrupted; nothing stored (the last profile stays).",
              file=sys.stderr)  # fmt: skip
        return 130
    except AnswerFailed as exc:
        print(f"rung calibrate: {name} failed: {one_line(str(exc)).rstrip('.')}; nothing stored.",
              file=sys.stderr)  # fmt: skip
        return 1
    finally:
        closer = getattr(tier, "close", None)
        if callable(closer):
            closer()
    when = time.strftime("%Y-%m-%d")
    profile = measured(model, results, note=f"rung calibrate, {len(items)} prompts, {when}")
    if kinds:
        # Only some kinds measured: the others keep the numbers this model had.
        earlier = load_profile(data_dir(), key) or shipped_profiles().get(model)
        profile = merged(earlier, profile)
    stored = save_profile(data_dir(), key, profile)
    seconds = time.monotonic() - started
    if args.json:
        print(json.dumps({**profile.as_dict(), "file": str(stored), "seconds": round(seconds, 1)}))
        return 0
    print(_table(profile, results))
    print(f"Stored {stored} ({seconds:.0f} s). Auto now routes {model} by these numbers.")
    return 0


def _kinds(text: str | None) -> set[str] | str | None:
    """The kinds named by ``--kinds a,b``, or the error to print."""
    if not text:
        return None
    names = {k.strip() for k in text.split(",") if k.strip()}
    unknown = sorted(names - set(KINDS))
    if unknown:
        return (
            f"--kinds: unknown task kind {', '.join(map(repr, unknown))}; known: {', '.join(KINDS)}"
        )
    return names


def merged(earlier: Profile | None, fresh: Profile) -> Profile:
    """``fresh``'s kinds over a measured ``earlier`` profile's other kinds (a kind the
    set no longer has, such as the old "chat", is dropped)."""
    if earlier is None or earlier.source != "measured":
        return fresh
    keep = [k for k in earlier.rates if k in KINDS and k not in fresh.rates]
    return Profile(
        fresh.model,
        "measured",
        {**{k: earlier.rates[k] for k in keep}, **fresh.rates},
        {**{k: earlier.counts[k] for k in keep if k in earlier.counts}, **fresh.counts},
        f"{fresh.note}; other kinds: {earlier.note}" if earlier.note else fresh.note,
        {**{k: earlier.observed[k] for k in keep if k in earlier.observed}, **fresh.observed},
    )


def _spread(items: list[Labelled], limit: int) -> list[Labelled]:
    """``limit`` prompts taken evenly across the kinds (a quick calibration)."""
    by_kind: dict[str, list[Labelled]] = {}
    for item in items:
        by_kind.setdefault(item.kind, []).append(item)
    out: list[Labelled] = []
    while len(out) < limit and any(by_kind.values()):
        for kind in list(by_kind):
            if by_kind[kind] and len(out) < limit:
                out.append(by_kind[kind].pop(0))
    return out


def _table(profile: Profile, results: dict[str, tuple[int, int]]) -> str:
    lines = [f"{'kind':<12} {'right':>9}  P(right), the ~90% lower bound"]
    for kind in KINDS:
        if kind in results:
            right, asked = results[kind]
            lines.append(f"{kind:<12} {right:>4}/{asked:<4}  {profile.rates[kind]:.2f}")
        elif kind in profile.rates:
            lines.append(f"{kind:<12} {'(kept)':>9}  {profile.rates[kind]:.2f}")
    return "\n".join(lines)
