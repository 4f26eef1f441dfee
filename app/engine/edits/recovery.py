"""What a pending journal entry needs to be whole again: every file back to its bytes
from before the edit, whichever of apply, undo or redo a killed process left half done.

Each file is on disk as it was before the edit, as it was after it (renames are atomic),
or in a third version someone else wrote since, which is never overwritten. The dead
process's temporary files next to those files are removed on the way.
"""

from __future__ import annotations

from pathlib import Path

from rung.engine.edits.errors import EditError
from rung.engine.edits.journal_entry import JournalEntry
from rung.engine.edits.paths import normalize, read_current, real_root, resolve_inside
from rung.engine.edits.writes import FileWrite, remove_empty_dirs, remove_stray_temps

_WHAT = {"apply": "An apply", "undo": "An undo", "redo": "A redo"}
_DONE = {
    "apply": "restored the original files",
    "undo": "finished undoing it",
    "redo": "put the files back as they were before it (redo it again if you want it)",
}


def interrupted(entry: JournalEntry) -> str:
    """``An apply of 400 files (“Title”) was interrupted``."""
    count = len(entry.files)
    files = f"{count} file{'' if count == 1 else 's'}"
    return f"{_WHAT[entry.pending or 'apply']} of {files} (“{entry.title}”) was interrupted"


def writes_back(root: Path, entry: JournalEntry) -> tuple[list[FileWrite], list[str]]:
    """The writes that put ``entry``'s files back as before it, and the files left as
    found (changed by something else, or now behind a link leading out). Removes stray
    temporary files, and the empty new directories of files never written. Raises an
    ``EditError`` when the project directory cannot be used."""
    top = real_root(root)
    writes: list[FileWrite] = []
    left: list[str] = []
    for f in entry.files:
        name = normalize(f.path)
        try:
            real = resolve_inside(root, name)
            remove_stray_temps(real.parent, real.name)
            current = read_current(real, name)
        except EditError:
            left.append(name)
            continue
        if current == f.before:
            if f.before is None:  # never written: only its new directories may remain
                remove_empty_dirs(top, f.created_dirs)
        elif current == f.after:
            writes.append(FileWrite(name, f.after, f.before, remove_dirs=f.created_dirs))
        else:
            left.append(name)
    return writes, left


def settled(entry: JournalEntry, left: list[str]) -> str:
    """The message once the files are back (all but ``left``)."""
    message = f"{interrupted(entry)}; {_DONE[entry.pending or 'apply']}."
    if left:
        was, are = ("was", "is") if len(left) == 1 else ("were", "are")
        message += f" {', '.join(left)} {was} changed by something else and {are} left as found."
    return message
