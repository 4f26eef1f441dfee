"""list: the project's files matching a glob, .gitignore respected."""

from __future__ import annotations

import asyncio
from typing import Any

from rung.engine.agent.base import Need, Plan, ToolContext, ToolResult, failed
from rung.engine.agent.files import glob_regex, list_files
from rung.engine.agent.paths import OutsideError, confine, read_sensitivity

NAME = "list"
NEEDS = Need.READ
MAX_SHOWN = 500
DESCRIPTION = (
    "List the project's files (ignored files left out, as git ignores them). `pattern` is "
    "a glob: `**` matches any folders, `*` any part of one name; a pattern without `/` "
    "matches file names at any depth (`*.py`). `path` limits the listing to a folder. "
    f"At most {MAX_SHOWN} paths, sorted."
)
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pattern": {"type": "string", "description": "Glob, e.g. `src/**/*.ts` or `*.md`."},
        "path": {"type": "string", "description": "Folder to list, relative to the root."},
    },
    "required": [],
    "additionalProperties": False,
}


def _list(context: ToolContext, below: str, pattern: str) -> ToolResult:
    names, cut = list_files(context.root, below)
    names = [n for n in names if not context.hidden(n)]
    if pattern:
        regex = glob_regex(pattern)
        names = [n for n in names if regex.match(n)]
    shown = f'"{pattern}"' if pattern else below
    if not names:
        return ToolResult("No files match.", f"list {shown} → 0 files")
    text = "\n".join(names[:MAX_SHOWN])
    if len(names) > MAX_SHOWN:
        text += f"\n… {len(names) - MAX_SHOWN} more; narrow the pattern or the path."
    if cut:
        text += "\n(The project has more files than are listed.)"
    count = f"{len(names)} file{'' if len(names) == 1 else 's'}"
    return ToolResult(text, f"list {shown} → {count}")


def plan(arguments: dict[str, Any], context: ToolContext) -> Plan | ToolResult:
    pattern = arguments.get("pattern", "")
    try:
        real, below = confine(context.root, arguments.get("path", "."))
    except OutsideError as exc:
        return failed(str(exc), "list refused")
    if not real.is_dir():
        return failed(f"{below} is not a folder", f"list {below}")

    async def execute() -> ToolResult:
        return await asyncio.to_thread(_list, context, below, pattern)

    summary = f'list "{pattern}"' if pattern else f"list {below}"
    sensitive = read_sensitivity(context.root, real, below)
    return Plan(NEEDS, below, summary, execute, sensitive=sensitive)
