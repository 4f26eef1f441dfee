"""Where `rung compare` gets its prompts (a file, stdin or a stored conversation, read
with a size cap) and which rungs and judges it runs (each checked usable before any
request goes out).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rung.cli import pipes
from rung.cli.compare_progress import say
from rung.cli.compare_stored import open_history
from rung.engine.compare_prompts import (
    ComparePrompt,
    PromptFileError,
    parse_prompts,
    prompts_from_history,
)
from rung.engine.ladder import Ladder
from rung.tiers.providers import PROVIDERS

# A prompts file or stdin: read with a cap (`rung compare /dev/zero` must not fill memory).
MAX_PROMPTS_BYTES = 8 * 1_048_576


def read_prompts(args: argparse.Namespace) -> tuple[list[ComparePrompt], str] | None:
    if args.session is not None:
        if args.file:
            say("give a prompt file or --session, not both")
            return None
        store = open_history()
        if store is None:
            return None
        try:
            messages = store.transcript(args.session)
        finally:
            store.close()
        prompts = prompts_from_history(messages, args.last)
        source = f"session #{args.session}, last {len(prompts)} question(s)"
        if not prompts:
            say(f"conversation #{args.session} has no questions (see `rung sessions`)")
            return None
        return prompts, source
    if args.file and args.file != "-":
        path = Path(args.file)
        try:
            with path.open("rb") as fh:
                raw = pipes.read_capped(fh, MAX_PROMPTS_BYTES)
            if len(raw) > MAX_PROMPTS_BYTES:
                say(f"{args.file} is more than 8 MiB of prompts; split it")
                return None
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            say(f"cannot read {args.file}: {getattr(exc, 'strerror', None) or exc}")
            return None
        source = f"file {path.name}"
    else:
        if sys.stdin is None or sys.stdin.isatty():
            say("no prompts: give a file, pipe them in, or use --session ID")
            return None
        piped = pipes.read_stdin(MAX_PROMPTS_BYTES)
        if piped.too_big:
            say("stdin is more than 8 MiB of prompts; split it")
            return None
        if piped.replaced:
            say(f"stdin is not UTF-8 text: {piped.replaced} byte(s) read as U+FFFD")
        text, source = piped.text, "stdin"
    try:
        prompts = parse_prompts(text)
    except PromptFileError as exc:
        say(f"{source}: {exc}")
        return None
    if not prompts:
        say(f"{source} has no prompts")
        return None
    return prompts, source


def pick_rungs(spec: str | None, ladder: Ladder) -> list[str] | None:
    if spec is None:
        names = [n for n in ladder.names if ladder.rung(n).usable]
        if not names:
            reasons = "; ".join(f"{r.name}: {r.why_not}" for r in ladder.rungs())
            say(f"no usable rung on your ladder ({reasons})")
            return None
        return names
    names = list(dict.fromkeys(part.strip() for part in spec.split(",") if part.strip()))
    unknown = [n for n in names if n not in PROVIDERS]
    if unknown or not names:
        say(
            f"unknown rung(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(PROVIDERS)}"
        )
        return None
    for name in names:
        rung = ladder.rung(name)
        if not rung.usable:
            say(f"{name} cannot be used: {rung.why_not}")
            return None
    return names


def judges_usable(prompts: list[ComparePrompt], ladder: Ladder) -> bool:
    for name in dict.fromkeys(c.value for p in prompts for c in p.judges):
        if name not in PROVIDERS:
            say(f"judge {name!r} is not a rung; known: {', '.join(PROVIDERS)}")
            return False
        rung = ladder.rung(name)
        if not rung.usable:
            say(f"judge {name} cannot be used: {rung.why_not}")
            return False
    return True
