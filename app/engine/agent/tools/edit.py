"""edit: replace one exact piece of a file with another; the piece must match once."""

from __future__ import annotations

from typing import Any

from rung.engine.agent.base import Need, Plan, ToolContext, ToolResult, failed
from rung.engine.agent.changes import Target, diff, record, target
from rung.engine.edits.errors import EditError
from rung.engine.edits.match import Ambiguous, NoMatch, replace_once
from rung.engine.edits.textio import decode, dominant_ending, encode

NAME = "edit"
NEEDS = Need.EDIT
DESCRIPTION = (
    "Edit a text file: replace `old_string` with `new_string`. `old_string` must match "
    "exactly one place in the file (quote enough surrounding lines to make it unique; "
    "indentation matters). Line endings follow the file's. To create a file use `write`."
)
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "File path relative to the project root."},
        "old_string": {"type": "string", "minLength": 1, "description": "The exact text."},
        "new_string": {"type": "string", "description": "What replaces it."},
    },
    "required": ["path", "old_string", "new_string"],
    "additionalProperties": False,
}


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def replaced(text: str, old: str, new: str, relative: str) -> str:
    """``text`` with the one place ``old`` matches replaced; raises ``EditError``.

    An exact substring first (in the file's line endings); when it is not there, the
    line-based matching of the chat's edits (whitespace-tolerant, never fuzzy)."""
    ending = dominant_ending(text)
    if ending == "\r\n" and "\r" not in old:
        old, new = old.replace("\n", "\r\n"), new.replace("\r\n", "\n").replace("\n", "\r\n")
    count = text.count(old)
    if count == 1:
        return text.replace(old, new, 1)
    if count > 1:
        starts: list[int] = []
        at = text.find(old)
        while at != -1 and len(starts) < 20:
            starts.append(_line_of(text, at))
            at = text.find(old, at + 1)
        lines = ", ".join(str(n) for n in starts)
        raise EditError(
            f"old_string matches {count} places in {relative} (lines {lines}); nothing was "
            "changed. Quote more surrounding lines so it matches once."
        )
    if not old.strip():
        raise EditError(f"old_string (only whitespace) does not match {relative}")
    found = replace_once(text, old, new)
    if isinstance(found, Ambiguous | NoMatch):
        raise EditError(found.describe(relative, "old_string"))
    return found.text


def plan(arguments: dict[str, Any], context: ToolContext) -> Plan | ToolResult:
    old, new = arguments["old_string"], arguments["new_string"]
    aim = target(context, arguments["path"], "edit")
    if not isinstance(aim, Target):
        return aim
    summary = f"edit {aim.relative}"
    if aim.current is None:
        return failed(f"{aim.relative} does not exist; create it with write", summary)
    if old == new:
        return failed("old_string and new_string are the same; nothing to change", summary)
    try:
        decoded = decode(aim.current, aim.relative)
        text = replaced(decoded.text, old, new, aim.relative)
        data = encode(text, decoded.bom)
    except (EditError, UnicodeEncodeError) as exc:
        return failed(str(exc), f"{summary} failed")
    shown, added, removed = diff(aim.relative, decoded.text, text)
    summary = f"edit {aim.relative} (+{added} −{removed})"

    async def execute() -> ToolResult:
        return await record(context, aim, data, f"edit {aim.relative}", summary,
                            f"Edited {aim.relative}:\n{shown}")  # fmt: skip

    return Plan(NEEDS, aim.relative, summary, execute, detail=shown, sensitive=aim.sensitive)
