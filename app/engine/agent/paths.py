"""Paths the model names, confined to the project root (symlinks resolved).

Reads accept a relative path or an absolute one inside the root; ``..`` may be used
as long as the real path stays inside. Writes go through ``edits.paths.resolve_inside``
(stricter: no ``..``, no absolute path, never ``.git``) via the journal.
"""

from __future__ import annotations

from pathlib import Path

from rung.engine.edits.paths import MAX_NAME, unreadable_character
from rung.engine.edits.policy import not_a_project, refusal, runs_code


class OutsideError(ValueError):
    """A path that leads outside the project (or cannot be used at all)."""


def confine(root: Path, name: str) -> tuple[Path, str]:
    """The real path for ``name`` and its form relative to ``root`` (``.`` for the root).

    Raises ``OutsideError``."""
    cleaned = (name or ".").strip()
    if len(cleaned) > MAX_NAME or "\0" in cleaned:
        raise OutsideError("not a usable path")
    hidden = unreadable_character(cleaned)
    if hidden:
        raise OutsideError(f"{cleaned!a} has {hidden}")
    if cleaned.startswith("~"):
        raise OutsideError(f"{cleaned}: paths are relative to the project root")
    try:
        real = (root / cleaned).resolve()
    except (OSError, RuntimeError) as exc:
        raise OutsideError(f"{cleaned}: cannot be resolved ({exc})") from exc
    if real != root and root not in real.parents:
        raise OutsideError(f"{cleaned} is outside the project {root}; refused")
    relative = real.relative_to(root).as_posix() if real != root else "."
    refused = refusal(real, root)
    if refused:  # Rung's own directories (keys, history), an .ssh directory
        raise OutsideError(f"{cleaned}: {refused}; refused")
    return real, relative


def never_read(relative: str) -> bool:
    """Left out of listings and search hits whatever the rules: an ``.ssh`` directory."""
    return any(part.casefold() == ".ssh" for part in relative.split("/"))


def in_git_dir(relative: str) -> bool:
    """Inside ``.git`` (hooks, config: code and credentials)."""
    return any(part.casefold() == ".git" for part in relative.split("/"))


def read_sensitivity(root: Path, real: Path, relative: str) -> str | None:
    """Why reading needs a per-call yes: ``.git`` internals (its config can hold
    credentials), or a "project" that is the home directory or ``/``."""
    if in_git_dir(relative):
        return "it is inside .git (hooks, config and credentials)"
    if not_a_project(root):
        return f"{root} is not a project directory (home or /): every read is asked"
    return None


def edit_sensitivity(relative: str) -> str | None:
    """Why writing needs a per-call yes (never a rule): a file that runs code by itself."""
    if in_git_dir(relative):
        return "it is inside .git (hooks and config run code)"
    why = runs_code(relative)
    return f"it is {why}, which runs code by itself" if why else None
