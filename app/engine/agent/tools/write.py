"""write: create a file (or, when asked, replace one whole)."""

from __future__ import annotations

from typing import Any

from rung.engine.agent.base import Need, Plan, ToolContext, ToolResult, failed
from rung.engine.agent.changes import Target, diff, record, target
from rung.engine.edits.errors import EditError
from rung.engine.edits.paths import MAX_FILE_BYTES
from rung.engine.edits.textio import decode

NAME = "write"
NEEDS = Need.EDIT
DESCRIPTION = (
    "Create a text file with `content` (folders are made as needed). An existing file is "
    "replaced only with `overwrite: true`; to change part of a file use `edit`."
)
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "File path relative to the project root."},
        "content": {"type": "string", "description": "The whole text of the file."},
        "overwrite": {"type": "boolean", "description": "Replace an existing file."},
    },
    "required": ["path", "content"],
    "additionalProperties": False,
}


def plan(arguments: dict[str, Any], context: ToolContext) -> Plan | ToolResult:
    aim = target(context, arguments["path"], "write")
    if not isinstance(aim, Target):
        return aim
    content: str = arguments["content"]
    try:
        data = content.encode("utf-8")
    except UnicodeEncodeError as exc:
        return failed(f"The content cannot be written as UTF-8: {exc}", f"write {aim.relative}")
    if len(data) > MAX_FILE_BYTES:
        return failed(f"The content is larger than {MAX_FILE_BYTES} bytes", "write refused")
    before = ""
    if aim.current is not None:
        if not arguments.get("overwrite"):
            return failed(
                f"{aim.relative} exists; change it with edit, or set overwrite to replace it",
                f"write {aim.relative} refused",
            )
        try:
            before = decode(aim.current, aim.relative).text
        except EditError as exc:
            return failed(str(exc), f"write {aim.relative} refused")
    lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
    verb = "replace" if aim.current is not None else "write"
    summary = f"{verb} {aim.relative} ({lines} line{'' if lines == 1 else 's'})"
    shown, _, _ = diff(aim.relative, before, content)
    done = "Replaced" if aim.current is not None else "Created"

    async def execute() -> ToolResult:
        return await record(context, aim, data, f"write {aim.relative}", summary,
                            f"{done} {aim.relative}.")  # fmt: skip

    return Plan(NEEDS, aim.relative, summary, execute, detail=shown, sensitive=aim.sensitive)
