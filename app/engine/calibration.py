"""Measuring what a rung's model gets right, per task kind: the engine behind
`rung calibrate` and Settings → Local model → Calibrate (no Textual, no printing).

The labelled set ships in the package (tiers/calibration/calibration.jsonl): short
tasks of each kind, each with a machine check (compare's regex/contains checks), so no
judge model and no money beyond the answers. A run that is stopped stores nothing: a
profile from half the kinds would mislead the router, and the previous one stays.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rung.engine.compare_cell import Cell
from rung.engine.compare_checks import run_check
from rung.engine.compare_prompts import Check, ComparePrompt, PromptFileError, parse_prompts
from rung.engine.config import data_dir
from rung.tiers.base import ChatRequest, Message, Reply, Tier
from rung.tiers.competence import (
    CALIBRATION_SET,
    GGUFError,
    Profile,
    gguf_size,
    load_profile,
    measured,
    save_profile,
    shipped_profiles,
)
from rung.tiers.task_kind import KINDS

# Every calibration answer is short (a command, a number, a line of code): a longer
# limit only lets a small model ramble past its answer and costs minutes.
CALIBRATION_MAX_TOKENS = 64
# A whole answer's time bound: a stuck tier must not hang the run.
ANSWER_TIMEOUT_S = 120.0
# The time estimate offered before a run ("~N min"): the embedded 135M model (0.1 GB)
# took 495 s for 222 prompts here (2.2 s each, 2 busy cores); a bigger GGUF reads its
# whole weights per token, so the time per prompt grows with the file's size.
SECONDS_PER_PROMPT = 1.5
SECONDS_PER_PROMPT_PER_GB = 8.0


@dataclass(frozen=True)
class Labelled:
    prompt: ComparePrompt
    kind: str


class AnswerFailed(Exception):
    """The rung gave no answer (no key, server down, an error): a zero would be a lie."""


class CalibrationStopped(Exception):
    """The user stopped the run (Esc, Ctrl-C): nothing is stored."""


Progress = Callable[[int, int, Labelled, bool], None]


def read_set(path: Path = CALIBRATION_SET) -> list[Labelled]:
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


def spread(items: list[Labelled], limit: int) -> list[Labelled]:
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


def passed(checks: tuple[Check, ...], text: str) -> bool:
    cell = Cell(0, "", text=text, finish_reason="stop")
    return all(run_check(check, cell).passed for check in checks)


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
    progress: Progress | None = None,
    system: str | None = None,
    stopped: Callable[[], bool] | None = None,
) -> tuple[dict[str, tuple[int, int]], list[tuple[Labelled, str, bool]]]:
    """(right, asked) per kind, and every answer with its verdict. ``stopped``: asked
    before each prompt and after each answer (an answer cut short by ``tier.stop()`` is
    not graded); when it says so, raises CalibrationStopped."""
    results: dict[str, list[int]] = {}
    answers: list[tuple[Labelled, str, bool]] = []
    for i, item in enumerate(items, start=1):
        if stopped is not None and stopped():
            raise CalibrationStopped
        try:
            text = await answer(tier, item.prompt.text, max_tokens, system)
        except TimeoutError:
            text = ""
        if stopped is not None and stopped():
            raise CalibrationStopped
        ok = passed(item.prompt.checks, text)
        right, asked = results.setdefault(item.kind, [0, 0])
        results[item.kind] = [right + ok, asked + 1]
        answers.append((item, text, ok))
        if progress is not None:
            progress(i, len(items), item, ok)
    return {k: (r, n) for k, (r, n) in results.items()}, answers


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


def store(
    model: str,
    key: str,
    results: dict[str, tuple[int, int]],
    asked: int,
    only_kinds: bool = False,
    how: str = "rung calibrate",
) -> tuple[Profile, Path]:
    """Save the measured profile where Auto reads it (tiers/competence.py), from the
    next message on. ``only_kinds``: some kinds were measured; the others keep the
    numbers this model had (its stored calibration, else the shipped profile)."""
    when = time.strftime("%Y-%m-%d")
    profile = measured(model, results, note=f"{how}, {asked} prompts, {when}")
    if only_kinds:
        earlier = load_profile(data_dir(), key) or shipped_profiles().get(model)
        profile = merged(earlier, profile)
    return profile, save_profile(data_dir(), key, profile)


def estimate_seconds(path: Path | None, prompts: int) -> float:
    """About how long a run of ``prompts`` takes on this model file (see the constants):
    its weights' size from the GGUF header (parameters x bits), else the file's size."""
    gigabytes = 0.1
    if path is not None:
        try:
            params, bits = gguf_size(path)
            gigabytes = params * bits / 8e9 if params and bits else path.stat().st_size / 1e9
        except (OSError, GGUFError):
            pass
    return prompts * (SECONDS_PER_PROMPT + SECONDS_PER_PROMPT_PER_GB * gigabytes)
