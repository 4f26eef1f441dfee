"""search: lines matching a regular expression, with ripgrep when it is installed.

ripgrep's output is read as it arrives and ripgrep is stopped at ``MAX_HITS`` lines, so a
pattern matching everything costs no more than one screen of hits; lines are cut at
``MAX_COLUMNS``. (No ``--max-filesize``: it costs ripgrep a stat per file, a quarter of
its time on a 100k-file tree; the timeout bounds a search through huge files instead.)
Without ripgrep, a Python scan of the same files (git's list, .gitignore respected):
binary and large files skipped, hits and line lengths bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rung.engine.agent.base import Need, Plan, ToolContext, ToolResult, failed
from rung.engine.agent.files import glob_regex, list_files
from rung.engine.agent.paths import OutsideError, confine, read_sensitivity
from rung.engine.edits.textio import SNIFF_BYTES
from rung.engine.workspace import SKIP_DIRS

NAME = "search"
NEEDS = Need.READ
MAX_HITS = 200
MAX_COLUMNS = 300
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_MATCH_CHARS = 4096  # of a line, in the Python fallback
RG_TIMEOUT = 60.0
DESCRIPTION = (
    "Search the project's text files for a regular expression (Rust/PCRE-like syntax; set "
    "`literal` for a plain string). Returns `path:line:text` lines, at most "
    f"{MAX_HITS}; ignored files are skipped. `glob` limits the files (`*.py`, `src/**`), "
    "`path` the folder."
)
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "pattern": {"type": "string", "minLength": 1, "description": "What to search for."},
        "path": {"type": "string", "description": "Folder or file, relative to the root."},
        "glob": {"type": "string", "description": "Only files matching this glob."},
        "literal": {"type": "boolean", "description": "The pattern is a plain string."},
        "ignore_case": {"type": "boolean", "description": "Match case-insensitively."},
    },
    "required": ["pattern"],
    "additionalProperties": False,
}


def _finish(pattern: str, hits: list[str], more: bool, note: str = "") -> ToolResult:
    quoted = pattern if len(pattern) <= 40 else pattern[:39] + "…"
    if not hits:
        return ToolResult("No matches." + note, f'search "{quoted}" → 0 hits')
    text = "\n".join(hits)
    if more:
        text += f"\n… more matches not shown (the first {MAX_HITS}); narrow the search."
    count = f"{len(hits)}{'+' if more else ''} hit{'' if len(hits) == 1 else 's'}"
    return ToolResult(text + note, f'search "{quoted}" → {count}')


_HIT_PATH = re.compile(r"^(.*?):\d+:")


async def _ripgrep(
    rg: str, root: Path, below: str, args: dict[str, Any], hidden: Callable[[str], bool]
) -> ToolResult:
    pattern = args["pattern"]
    argv = [rg, "--line-number", "--no-heading", "--with-filename", "--color", "never",
            "--hidden", "--glob", "!.git", "--max-columns", str(MAX_COLUMNS),
            "--max-columns-preview", "--no-messages"]  # fmt: skip
    if not (root / ".git").exists():
        argv += [arg for d in sorted(SKIP_DIRS) for arg in ("--glob", f"!{d}")]
    if args.get("literal"):
        argv.append("--fixed-strings")
    if args.get("ignore_case"):
        argv.append("--ignore-case")
    if args.get("glob"):
        argv += ["--glob", args["glob"]]
    argv += ["--regexp", pattern, "--", below]
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=root, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    hits: list[str] = []
    more = False
    try:
        async with asyncio.timeout(RG_TIMEOUT):
            while line := await process.stdout.readline():
                if len(hits) >= MAX_HITS:
                    more = True
                    break
                hit = line.decode("utf-8", "replace").rstrip("\r\n").removeprefix("./")
                path = _HIT_PATH.match(hit)
                if path is None or not hidden(path.group(1)):
                    hits.append(hit)
            if more:
                process.kill()
            error = (await process.stderr.read(4096)).decode("utf-8", "replace").strip()
            code = await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
        return _finish(pattern, hits, True, f"\n(The search stopped after {RG_TIMEOUT:g} s.)")
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
    if code == 2 and not hits and not more:
        return failed(f"The search failed: {error or 'ripgrep exit 2'}", f'search "{pattern}"')
    return _finish(pattern, hits, more)


def search_python(
    root: Path, below: str, args: dict[str, Any], hidden: Callable[[str], bool] = lambda _: False
) -> ToolResult:
    """The fallback without ripgrep (also what the tests compare ripgrep with)."""
    pattern = args["pattern"]
    flags = re.IGNORECASE if args.get("ignore_case") else 0
    try:
        regex = re.compile(re.escape(pattern) if args.get("literal") else pattern, flags)
    except re.error as exc:
        return failed(f"The pattern is not a valid regular expression: {exc}", "search")
    only = glob_regex(args["glob"]) if args.get("glob") else None
    if (root / below).is_file():
        names = [below]
    else:
        names, _ = list_files(root, below)
    hits: list[str] = []
    for name in names:
        if (only is not None and not only.match(name)) or hidden(name):
            continue
        path = root / name
        try:
            if path.is_symlink() or os.path.getsize(path) > MAX_FILE_BYTES:
                continue
            raw = path.read_bytes()
        except OSError:
            continue
        if b"\0" in raw[:SNIFF_BYTES]:
            continue
        for number, line in enumerate(raw.decode("utf-8", "replace").splitlines(), 1):
            # Matched within the first MAX_MATCH_CHARS: a minified megabyte line would
            # make a pattern like `.*a.*b` quadratic.
            if regex.search(line, 0, MAX_MATCH_CHARS):
                if len(hits) >= MAX_HITS:
                    return _finish(pattern, hits, True)
                shown = line if len(line) <= MAX_COLUMNS else line[:MAX_COLUMNS] + " [cut]"
                hits.append(f"{name}:{number}:{shown}")
    return _finish(pattern, hits, False)


def plan(arguments: dict[str, Any], context: ToolContext) -> Plan | ToolResult:
    pattern = arguments["pattern"]
    try:
        real, below = confine(context.root, arguments.get("path", "."))
    except OutsideError as exc:
        return failed(str(exc), f'search "{pattern}" refused')
    rg = shutil.which("rg")

    async def execute() -> ToolResult:
        if rg is not None:
            return await _ripgrep(rg, context.root, below, arguments, context.hidden)
        return await asyncio.to_thread(
            search_python, context.root, below, arguments, context.hidden
        )

    sensitive = read_sensitivity(context.root, real, below)
    return Plan(NEEDS, below, f'search "{pattern}"', execute, sensitive=sensitive)
