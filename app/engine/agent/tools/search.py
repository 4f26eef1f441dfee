"""search: lines matching a regular expression, with ripgrep when it is installed.

ripgrep's output is read as it arrives and ripgrep is stopped at ``MAX_HITS`` lines, so a
pattern matching everything costs no more than one screen of hits; lines are cut at
``MAX_COLUMNS``. (No ``--max-filesize``: it costs ripgrep a stat per file, a quarter of
its time on a 100k-file tree; the timeout bounds a search through huge files instead.)
Without ripgrep, a Python scan of the same files (git's list, .gitignore respected) in a
child process, read the same way (so a pathological regular expression is stopped by the
timeout): binary and large files skipped, hits and line lengths bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
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
SEARCH_TIMEOUT = 60.0
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
    argv += ["--regexp", args["pattern"], "--", below]
    return await _stream(argv, root, args["pattern"], hidden)


async def _python(root: Path, below: str, args: dict[str, Any], hidden: Callable[[str], bool]
                  ) -> ToolResult:  # fmt: skip
    """The Python scan in a child process: a pathological regular expression (Python's
    engine backtracks) is stopped by the timeout instead of holding a thread forever."""
    argv = [sys.executable, "-m", "rung.engine.agent.tools.search", str(root), below,
            json.dumps(args)]  # fmt: skip
    return await _stream(argv, root, args["pattern"], hidden)


async def _stream(
    argv: list[str], root: Path, pattern: str, hidden: Callable[[str], bool]
) -> ToolResult:
    """Run a searcher printing ``path:line:text`` lines (exit 1: none, 2: an error); keep
    the first ``MAX_HITS`` not hidden, then stop it."""
    process = await asyncio.create_subprocess_exec(
        *argv, cwd=root, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stderr is not None
    hits: list[str] = []
    more = False
    try:
        async with asyncio.timeout(SEARCH_TIMEOUT):
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
        note = f"\n(The search was stopped after {SEARCH_TIMEOUT:g} s; narrow it.)"
        return _finish(pattern, hits, bool(hits), note)
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    if code == 2 and not hits and not more:
        error = error.splitlines()[-1] if error else "exit 2"
        return failed(f"The search failed: {error}", f'search "{pattern}" failed')
    return _finish(pattern, hits, more)


def scan(root: Path, below: str, args: dict[str, Any]) -> Iterator[str]:
    """``path:line:text`` for every matching line, the way ripgrep prints them (binary,
    large and ignored files skipped). Raises ``re.error`` for a bad pattern."""
    flags = re.IGNORECASE if args.get("ignore_case") else 0
    regex = re.compile(re.escape(args["pattern"]) if args.get("literal") else args["pattern"],
                       flags)  # fmt: skip
    only = glob_regex(args["glob"]) if args.get("glob") else None
    names = [below] if (root / below).is_file() else list_files(root, below)[0]
    for name in names:
        if only is not None and not only.match(name):
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
                shown = line if len(line) <= MAX_COLUMNS else line[:MAX_COLUMNS] + " [cut]"
                yield f"{name}:{number}:{shown}"


def search_python(
    root: Path, below: str, args: dict[str, Any], hidden: Callable[[str], bool] = lambda _: False
) -> ToolResult:
    """The fallback's result in this process (for the bench and the tests)."""
    hits: list[str] = []
    try:
        for hit in scan(root, below, args):
            if hidden(hit.split(":", 1)[0]):
                continue
            if len(hits) >= MAX_HITS:
                return _finish(args["pattern"], hits, True)
            hits.append(hit)
    except re.error as exc:
        return failed(f"The pattern is not a valid regular expression: {exc}", "search")
    return _finish(args["pattern"], hits, False)


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
        return await _python(context.root, below, arguments, context.hidden)

    sensitive = read_sensitivity(context.root, real, below)
    return Plan(NEEDS, below, f'search "{pattern}"', execute, sensitive=sensitive)


def _main() -> int:
    """The child process of the Python fallback: ROOT BELOW ARGS-JSON; prints hits."""
    root, below, args = Path(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
    found = False
    try:
        for hit in scan(root, below, args):
            print(hit, flush=False)
            found = True
    except re.error as exc:
        print(f"the pattern is not a valid regular expression: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the parent has enough hits
        return 0
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(_main())
