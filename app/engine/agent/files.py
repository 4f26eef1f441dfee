"""The project's files as the agent sees them: git's list inside a repository (tracked,
and untracked but not ignored, so .gitignore is respected), else a walk that skips
.git, virtual environments, node_modules and caches. Bounded in count and time."""

from __future__ import annotations

import os
import re
import subprocess
from functools import lru_cache
from pathlib import Path

from rung.engine.workspace import SKIP_DIRS

MAX_FILES = 300_000
GIT_TIMEOUT = 20.0


def list_files(root: Path, below: str = ".") -> tuple[list[str], bool]:
    """Files (relative to ``root``, POSIX, sorted) under ``below``; and whether the list
    was cut at ``MAX_FILES``."""
    base = root if below == "." else root / below
    names = _git_files(root, below)
    if names is None:
        names = _walk(root, base)
    cut = len(names) > MAX_FILES
    return sorted(names[:MAX_FILES]), cut


def _git_files(root: Path, below: str) -> list[str] | None:
    if not (root / ".git").exists():
        return None
    try:
        done = subprocess.run(
            ["git", "-c", "core.quotepath=off", "ls-files", "--cached", "--others",
             "--exclude-standard", "-z", "--", below],
            cwd=root, capture_output=True, timeout=GIT_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    seen: set[str] = set()
    names: list[str] = []
    for name in done.stdout.decode("utf-8", "surrogateescape").split("\0"):
        # A deleted but still tracked file is listed by --cached: only what exists.
        if name and name not in seen and os.path.lexists(root / name):
            seen.add(name)
            names.append(name)
    return names


def _walk(root: Path, base: Path) -> list[str]:
    found: list[str] = []
    for folder, dirs, files in os.walk(base):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS]
        rel = Path(folder).relative_to(root).as_posix()
        prefix = "" if rel == "." else rel + "/"
        found.extend(prefix + name for name in files)
        if len(found) > MAX_FILES:
            break
    return found


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """``**`` any folders, ``*`` and ``?`` within one name, ``[abc]`` and ``{a,b}``.
    A pattern without ``/`` matches a file's name at any depth (``*.py``)."""
    pattern = pattern.strip().removeprefix("./")
    if "/" not in pattern:
        pattern = "**/" + pattern
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("!"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif char == "{":
            end = pattern.find("}", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                options = pattern[i + 1 : end].split(",")
                out.append("(?:" + "|".join(re.escape(o) for o in options) + ")")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out) + r"\Z", re.IGNORECASE if os.name == "nt" else 0)
