"""An agent turn in the undo journal: the consecutive entries that share a ``turn`` key.

Each tool edit of the agent is its own journal entry (so each keeps the write-ahead
guarantee on its own), tagged with the user turn it belongs to. Undo takes the newest
applied entry and every applied entry of the same turn right before it, and undoes them
newest first; redo takes the oldest undone entry and the undone entries of the same turn
right after it. Before anything is written every file of the group is compared with what
the newest entry touching it left there, so a file changed since stops the whole group
and nothing is half undone. A process killed between two entries of a group leaves the
rest applied (each entry whole): the next undo finishes the turn.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rung.engine.edits.errors import EditError
from rung.engine.edits.journal_entry import JournalEntry, JournalFile
from rung.engine.edits.paths import normalize, read_current, resolve_inside


def undo_group(entries: list[JournalEntry], first: JournalEntry) -> list[JournalEntry]:
    """``first`` (the next to undo) and the applied entries of its turn before it,
    newest first."""
    if first.turn is None:
        return [first]
    applied = [e for e in entries if not e.undone and e.id <= first.id]
    group: list[JournalEntry] = []
    for entry in reversed(applied):
        if entry.turn != first.turn:
            break
        group.append(entry)
    return group


def redo_group(entries: list[JournalEntry], first: JournalEntry) -> list[JournalEntry]:
    """``first`` (the next to redo) and the undone entries of its turn after it, oldest
    first."""
    if first.turn is None:
        return [first]
    group: list[JournalEntry] = []
    for entry in (e for e in entries if e.id >= first.id):
        if not entry.undone or entry.turn != first.turn:
            break
        group.append(entry)
    return group


def changed_since(root: Path, group: list[JournalEntry], undoing: bool) -> str | None:
    """The first file of ``group`` not as the group left it (undo: the newest ``after``;
    redo: the oldest ``before``), described, or None when all are."""
    expected: dict[str, bytes | None] = {}
    for entry in group:  # first seen wins: newest for undo (its order), oldest for redo
        for f in entry.files:
            expected.setdefault(f.path, f.after if undoing else f.before)
    for path, wanted in expected.items():
        name = normalize(path)
        try:
            current = read_current(resolve_inside(root, name), name)
        except EditError as exc:
            return str(exc)
        if current != wanted:
            return f"{name} was changed since"
    return None


def group_title(group: list[JournalEntry]) -> str:
    """The title of a group's oldest entry, and how many edits the turn made."""
    if len(group) == 1:
        return group[0].title
    oldest = min(group, key=lambda entry: entry.id)
    return f"{oldest.title} (one turn of {len(group)} edits)"


def group_files(oldest_first: list[JournalEntry]) -> list[JournalFile]:
    """One file per path across a group: its first ``before`` and last ``after``."""
    merged: dict[str, JournalFile] = {}
    for entry in oldest_first:
        for f in entry.files:
            old = merged.get(f.path)
            merged[f.path] = f if old is None else replace(old, after=f.after)
    return list(merged.values())
