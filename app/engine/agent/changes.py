"""What the file tools share: the checked target of a change, its diff for the approval,
and the write through the undo journal (one entry per call, tagged with the user turn,
so a turn of several edits is one ``rung undo`` step)."""

from __future__ import annotations

import asyncio
import difflib
from dataclasses import dataclass
from pathlib import Path

from rung.engine.agent.base import ToolContext, ToolResult, failed
from rung.engine.agent.paths import OutsideError, confine, edit_sensitivity
from rung.engine.edits.errors import EditError
from rung.engine.edits.paths import normalize, read_current, resolve_inside
from rung.engine.edits.policy import classify
from rung.engine.edits.writes import FileWrite

MAX_DIFF_LINES = 400


@dataclass(frozen=True)
class Target:
    relative: str
    real: Path
    current: bytes | None  # None: the file does not exist
    sensitive: str | None  # runs code: a per-call yes only


def target(context: ToolContext, name: str, verb: str) -> Target | ToolResult:
    """The file ``name`` names, checked for writing; or the error result."""
    if context.journal is None:
        return failed("File changes are not available in this session.", f"{verb} {name}")
    try:
        _, confined = confine(context.root, name)  # `../x`, absolute out, a link out
        relative = normalize(confined if name.strip().startswith("/") else name)
        real = resolve_inside(context.root, relative)
        verdict = classify(relative, real, context.root, frozenset())
        if verdict.refused:
            raise EditError(f"{relative}: {verdict.refused}; refused")
        current = read_current(real, relative)
    except (OutsideError, EditError) as exc:
        return failed(f"{exc}", f"{verb} {name} refused")
    sensitive = edit_sensitivity(relative)
    if verdict.runs_code and not sensitive:
        sensitive = f"it is {verdict.runs_code}, which runs code by itself"
    return Target(relative, real, current, sensitive)


def diff(relative: str, before: str, after: str) -> tuple[str, int, int]:
    """A unified diff (bounded), and the counts of lines added and removed."""
    lines = list(
        difflib.unified_diff(
            before.splitlines(keepends=True), after.splitlines(keepends=True),
            f"a/{relative}", f"b/{relative}", n=3,
        )
    )  # fmt: skip
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    shown = lines[:MAX_DIFF_LINES]
    text = "".join(line if line.endswith("\n") else line + "\n" for line in shown)
    if len(lines) > MAX_DIFF_LINES:
        text += f"… {len(lines) - MAX_DIFF_LINES} more diff lines\n"
    return text, added, removed


async def record(
    context: ToolContext, aim: Target, new: bytes, title: str, summary: str, text: str
) -> ToolResult:
    """Write ``new`` through the journal; an ``EditError`` is an error result."""
    journal = context.journal
    assert journal is not None  # target() checked it
    write = FileWrite(aim.relative, aim.current, new)
    try:
        await asyncio.to_thread(journal.record, [write], title, context.turn)
    except EditError as exc:
        return failed(f"{aim.relative} was not changed: {exc}", f"{summary} failed")
    return ToolResult(text, summary, files_changed=(aim.relative,))
