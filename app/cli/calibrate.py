"""`rung calibrate`: measure what a rung's model gets right, per task kind, and store
it as the model's competence profile (tiers/competence.py), which Auto then routes by.

The measuring and storing are app/engine/calibration.py's (Settings → Local model →
Calibrate runs the same); this is the command line: the arguments, progress on stderr,
the table on stdout. Ctrl-C stops with nothing stored (a profile from half the kinds
would mislead the router).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path

from rung.engine.calibration import (
    AnswerFailed,
    Labelled,
    measure,
    read_set,
    spread,
    store,
)
from rung.engine.compare_prompts import PromptFileError
from rung.engine.config import Config
from rung.engine.safe_text import one_line
from rung.tiers.competence import CALIBRATION_SET, Profile, model_key, remote_key
from rung.tiers.task_kind import KINDS


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
        items = spread(items, args.limit)
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
    profile, stored = store(model, key, results, len(items), only_kinds=bool(kinds))
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


def _table(profile: Profile, results: dict[str, tuple[int, int]]) -> str:
    lines = [f"{'kind':<12} {'right':>9}  P(right), the ~90% lower bound"]
    for kind in KINDS:
        if kind in results:
            right, asked = results[kind]
            lines.append(f"{kind:<12} {right:>4}/{asked:<4}  {profile.rates[kind]:.2f}")
        elif kind in profile.rates:
            lines.append(f"{kind:<12} {'(kept)':>9}  {profile.rates[kind]:.2f}")
    return "\n".join(lines)
