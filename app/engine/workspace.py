"""The project Rung was started in, as the coding assistant sees it: where a reply's
proposed edits apply, and the journal that undoes them (found from any folder inside)."""

from __future__ import annotations

import os
import re
from pathlib import Path

from rung.engine.config import data_dir
from rung.engine.edits import (
    EditError,
    Journal,
    Outcome,
    ParseResult,
    Proposal,
    build_proposal,
)
from rung.engine.edits.paths import normalize, read_current, resolve_inside
from rung.engine.edits.writes import FileWrite


def edits_journal(root: Path) -> Journal:
    """The undo journal for ``root`` (in the data directory, 0700/0600, per project)."""
    return Journal(data_dir() / "edits", root)


def project_journal(start: Path) -> Journal:
    """The journal undo and redo use from ``start``, any folder inside a project: the
    nearest folder from ``start`` upwards that has one, not above the repository root
    (the folder holding ``.git``); none: the repository root's (``start``'s outside one).

    Git itself is not run: a ``.git`` entry (a directory, or a file in a worktree or
    submodule) marks the root, so this costs a few ``stat`` calls.
    """
    here = start.resolve()
    for folder in (here, *here.parents):
        journal = edits_journal(folder)
        if journal.has_entries() or (folder / ".git").exists():
            return journal
    return edits_journal(here)


def proposal_for(result: ParseResult, root: Path) -> Proposal:
    """A reply's parsed edits matched against the files as they are now."""
    problems = [f"line {p.line} of the reply: {p.message}" for p in result.problems]
    # The attached files decide what the edits may change (edits.policy); the project's
    # files say which one a bare base name means.
    return build_proposal(
        root, result.edits, problems, result.attached, lambda: project_files(root)
    )


# "```python title=app/x.py", "```js app.js", or a path alone on the line before a fence.
_FENCE_NAME = re.compile(r"```[\w+-]*[ \t]+(?:title=|file=)?[\"']?([\w./-]+\.\w+)")
_LINE_NAME = re.compile(r"^[`*]*([\w./-]+\.\w+)[`*:]*\s*$")
_EXTENSIONS = {"python": "py", "py": "py", "javascript": "js", "js": "js", "typescript": "ts",
               "ts": "ts", "rust": "rs", "go": "go", "bash": "sh", "sh": "sh", "shell": "sh",
               "json": "json", "yaml": "yaml", "toml": "toml", "sql": "sql", "html": "html",
               "css": "css", "java": "java", "c": "c", "cpp": "cpp", "ruby": "rb"}  # fmt: skip


def suggested_name(reply: str) -> str:
    """A file name for the reply's last code block: one the reply gives, else by language."""
    fence = reply.rfind("```", 0, reply.rfind("```"))
    if fence < 0:
        return "snippet.txt"
    opening = reply[fence:].split("\n", 1)[0]
    named = _FENCE_NAME.match(opening)
    if named:
        return named.group(1)
    before = reply[:fence].rstrip("\n").rsplit("\n", 1)[-1].strip()
    on_line = _LINE_NAME.match(before)
    if on_line:
        return on_line.group(1)
    language = opening[3:].strip().lower()
    return f"snippet.{_EXTENSIONS.get(language, 'txt')}"


def save_file(root: Path, name: str, text: str, journal: Journal) -> Outcome:
    """Write ``text`` as ``name`` inside ``root`` through the journal (so it can be undone),
    with the same path checks as an applied edit: no ``..``, no absolute path, no link
    out of the project, never a binary file."""
    try:
        relative = normalize(name)
        real = resolve_inside(root, relative)
        base = read_current(real, relative)
        entry = journal.record([FileWrite(relative, base, text.encode("utf-8"))],
                               f"save {relative}")  # fmt: skip
    except EditError as exc:
        return Outcome(False, " ".join([*journal.take_notices(), f"Not saved: {exc}."]))
    verb = "Replaced" if base is not None else "Saved"
    saved = f"{verb} {relative} (undo from the palette or `rung undo`)."
    return Outcome(True, " ".join([*journal.take_notices(), saved]), (relative,), entry.id)


# Folders never offered for @ completion outside a git repository (inside one, git's own
# ignore rules decide).
SKIP_DIRS = {".git", ".hg", ".svn", "node_modules", ".venv", "venv", "__pycache__",
             ".mypy_cache", ".pytest_cache", ".ruff_cache", ".tox", "dist", "build"}  # fmt: skip
MAX_LISTED = 20_000


def project_files(root: Path, limit: int = MAX_LISTED) -> list[str]:
    """Files under ``root`` to offer after ``@``: git's tracked and untracked-but-not-ignored
    files in a repository (so .gitignore is respected), else a bounded walk."""
    import subprocess

    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root, capture_output=True, timeout=5, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        listed = None
    if listed is not None and listed.returncode == 0:
        names = [n for n in listed.stdout.decode("utf-8", "replace").split("\0") if n]
        return sorted(names)[:limit]
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
        base = Path(folder).relative_to(root)
        for name in sorted(files):
            found.append(str(base / name) if str(base) != "." else name)
            if len(found) >= limit:
                return found
    return found


def complete_path(prefix: str, files: list[str], limit: int = 8) -> list[str]:
    """Paths for ``@prefix``: those starting with it first, then those containing it
    (case-insensitive), shortest first."""
    needle = prefix.casefold()
    starts = [f for f in files if f.casefold().startswith(needle)]
    contains = [f for f in files if needle in f.casefold() and f not in starts]
    return (sorted(starts, key=len) + sorted(contains, key=len))[:limit]
