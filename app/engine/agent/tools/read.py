"""read: a file's lines with their numbers, a range at a time."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path
from typing import Any

from rung.engine.agent.base import Need, Plan, ToolContext, ToolResult, failed
from rung.engine.agent.paths import OutsideError, confine, read_sensitivity
from rung.engine.edits.textio import SNIFF_BYTES

NAME = "read"
NEEDS = Need.READ
DEFAULT_LINES = 400
MAX_LINES = 2000
MAX_LINE_CHARS = 2000  # a minified line is cut, not sent whole
MAX_FILE_BYTES = 20 * 1024 * 1024  # read as a stream, but not a 2 GB log
DESCRIPTION = (
    "Read a text file in the project. Returns its lines numbered from 1 (`  12\\t...`). "
    f"Reads {DEFAULT_LINES} lines from `offset` (default 1) unless `limit` says otherwise "
    f"(at most {MAX_LINES}); lines longer than {MAX_LINE_CHARS} characters are cut. Paths "
    "are relative to the project root."
)
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "path": {"type": "string", "description": "File path relative to the project root."},
        "offset": {"type": "integer", "minimum": 1, "description": "First line (1-based)."},
        "limit": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_LINES,
            "description": "How many lines.",
        },
    },
    "required": ["path"],
    "additionalProperties": False,
}


def _read(real: Path, relative: str, first: int, count: int) -> ToolResult:
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        return failed(f"{relative}: cannot be read ({exc.strerror or exc})", f"read {relative}")
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if stat.S_ISDIR(info.st_mode):
            return failed(f"{relative} is a directory; use the list tool", f"read {relative}")
        if not stat.S_ISREG(info.st_mode):
            return failed(f"{relative} is not a regular file", f"read {relative}")
        if info.st_size > MAX_FILE_BYTES:
            return failed(
                f"{relative} is {info.st_size} bytes, more than {MAX_FILE_BYTES}; search it "
                "instead",
                f"read {relative}",
            )
        if b"\0" in handle.read(SNIFF_BYTES):
            return failed(f"{relative} is a binary file", f"read {relative}")
        handle.seek(0)
        shown: list[str] = []
        total = 0
        for total, raw in enumerate(handle, 1):
            if total < first or len(shown) >= count:
                continue  # counted, so the model learns how many lines are left
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if len(line) > MAX_LINE_CHARS:
                line = line[:MAX_LINE_CHARS] + f"… ({len(line) - MAX_LINE_CHARS} characters cut)"
            shown.append(f"{total:>6}\t{line}")
    last = first + len(shown) - 1
    if not shown:
        text = f"{relative} has {total} lines; nothing at line {first}."
        return ToolResult(text, f"read {relative} (empty range)")
    text = "\n".join(shown)
    if total > last:
        text += f"\n… {total - last} more lines; read from offset {last + 1} to continue."
    return ToolResult(text, f"read {relative} {first}-{last}")


def plan(arguments: dict[str, Any], context: ToolContext) -> Plan | ToolResult:
    name = arguments["path"]
    try:
        real, relative = confine(context.root, name)
    except OutsideError as exc:
        return failed(str(exc), f"read {name} refused")
    first = arguments.get("offset", 1)
    count = arguments.get("limit", DEFAULT_LINES)

    async def execute() -> ToolResult:
        return await asyncio.to_thread(_read, real, relative, first, count)

    return Plan(
        NEEDS,
        relative,
        f"read {relative}",
        execute,
        sensitive=read_sensitivity(context.root, real, relative),
    )
