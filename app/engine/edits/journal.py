"""The undo journal: every apply with the exact bytes before and after, per root.

Stored under the directory the caller passes (for example ``data_dir / "edits"``),
created 0700, every file 0600, since the entries hold copies of source files:

    <directory>/<key of the root>/000012.json    one apply, with its status
    <directory>/<key of the root>/lock           one writer at a time, across processes

Undo and redo form a stack per root: undo takes the newest applied entry, redo the
oldest undone one after it, and a new apply drops the undone entries (as in an
editor). Both compare every file with what the journal expects first (the bytes after
the apply for undo, before it for redo) and change nothing when any differs: a file
someone else changed since is never overwritten. Entries live on disk only, so a new
process with the same directory and root undoes what an earlier one applied. Git is
never called: it works the same in and outside a repository.

Write-ahead: an apply, undo or redo first writes its entry marked pending, with both
the old and the new bytes of every file, and makes it durable (fsync of the file and
its directory) before the first file changes; the mark is cleared after the last. A
process killed in between (kill -9, power loss) leaves the mark, and whoever takes the
lock next puts every file of that entry back to its bytes from before the edit (the
one state that is whole whatever was interrupted): an interrupted apply is gone as if
it never ran, an interrupted undo is finished, an interrupted redo is undone again.
Temporary files the dead process left next to those files are removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from rung.engine.edits.errors import ChangedOnDiskError, EditError, JournalError, WriteError
from rung.engine.edits.journal_entry import JournalEntry, JournalFile, from_json, to_json
from rung.engine.edits.outcome import Outcome
from rung.engine.edits.paths import normalize, real_root
from rung.engine.edits.recovery import interrupted, settled, writes_back
from rung.engine.edits.turns import (
    changed_since,
    group_files,
    group_title,
    redo_group,
    undo_group,
)
from rung.engine.edits.writes import (
    CheckedWrite,
    FileWrite,
    apply_writes,
    check,
    missing_dirs,
    remove_stray_temps,
    write_atomic,
)

try:
    import fcntl
except ImportError:  # not on Windows: one process at a time is then the caller's duty
    fcntl = None  # type: ignore[assignment]

__all__ = ["MAX_ENTRIES", "Journal", "JournalEntry", "JournalFile"]

MAX_ENTRIES = 100  # per root; the oldest applied ones go first


def _names(paths: Sequence[str]) -> str:
    return ", ".join(paths)


def _refusal(exc: EditError) -> str:
    """The reason, and whether files were left as they were (a failed restore was not)."""
    if isinstance(exc, WriteError) and not exc.clean:
        return f"{exc}."
    return f"{exc}. Nothing was changed."


class Journal:
    """The undo history of one root directory, kept in ``directory``."""

    def __init__(self, directory: Path, root: Path) -> None:
        self.directory = Path(directory)
        self.root = Path(root).resolve()
        key = hashlib.sha256(str(self.root).encode("utf-8", "surrogateescape")).hexdigest()[:24]
        self._dir = self.directory / key
        self._notices: list[str] = []  # recoveries no Outcome has reported yet

    # --- storage -------------------------------------------------------------------

    def _ensure_dirs(self) -> None:
        try:
            for directory in (self.directory, self._dir):
                directory.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(directory, 0o700)  # also when it existed: entries hold file contents
        except OSError as exc:
            raise JournalError(
                f"the undo journal in {self.directory} cannot be created ({exc.strerror or exc})"
            ) from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[list[Outcome]]:
        """Hold the lock; yields what finishing the operations of dead processes did."""
        self._ensure_dirs()
        try:
            fd = os.open(self._dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            reason = exc.strerror or exc
            raise JournalError(f"the undo journal cannot be locked ({reason})") from exc
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._recover()
        finally:
            os.close(fd)  # closing releases the lock

    def _entry_path(self, entry_id: int) -> Path:
        return self._dir / f"{entry_id:06d}.json"

    def _load(self, strict: bool = True) -> list[JournalEntry]:
        """Every entry, oldest first. ``strict``: a damaged entry is a ``JournalError``."""
        if not self._dir.is_dir():
            return []
        entries: list[JournalEntry] = []
        for path in sorted(self._dir.glob("[0-9]*.json")):
            try:
                entry = from_json(path.read_bytes())
                if entry.root != str(self.root):
                    raise ValueError("it belongs to another directory")
            except (OSError, ValueError, KeyError, TypeError) as exc:
                if strict:
                    raise JournalError(
                        f"the undo journal entry {path} is damaged ({exc}); move it away to "
                        "use undo again"
                    ) from exc
                continue
            entries.append(entry)
        return sorted(entries, key=lambda entry: entry.id)

    def _save(self, entry: JournalEntry) -> None:
        # write_atomic fsyncs the file and its directory: durable when this returns.
        try:
            write_atomic(self._entry_path(entry.id), to_json(entry), None, private=True)
        except OSError as exc:
            raise JournalError(
                f"the undo journal could not be written ({exc.strerror or exc})"
            ) from exc

    def _drop(self, entry: JournalEntry) -> None:
        with contextlib.suppress(OSError):
            self._entry_path(entry.id).unlink()

    def has_entries(self) -> bool:
        """Whether anything was ever recorded for this root (and is still kept)."""
        return self._dir.is_dir() and any(self._dir.glob("[0-9]*.json"))

    # --- recovery ------------------------------------------------------------------

    def _recover(self) -> list[Outcome]:
        """Finish what dead processes left pending (the lock is held: none is alive)."""
        remove_stray_temps(self._dir)
        return [self._settle(e) for e in self._load(strict=False) if e.pending is not None]

    def _settle(self, entry: JournalEntry) -> Outcome:
        """Put every file of a pending entry back to its bytes from before the edit."""
        try:
            writes, left = writes_back(self.root, entry)
            apply_writes(self.root, writes)
        except EditError as exc:
            # Left pending: the next command that opens the journal tries again.
            message = f"{interrupted(entry)}, and its files cannot be put back yet: {exc}."
            return Outcome(False, message, entry.paths, entry.id)
        try:
            if entry.pending == "apply" and not left:
                self._drop(entry)  # as if it never ran
            else:
                self._save(replace(entry, undone=True, pending=None))
        except JournalError as exc:
            return Outcome(False, f"{interrupted(entry)}: {exc}.", entry.paths, entry.id)
        return Outcome(not left, settled(entry, left), entry.paths, entry.id)

    def recover(self) -> list[Outcome]:
        """Finish any apply, undo or redo a killed process left half done: what was done,
        one ``Outcome`` each (none when nothing was pending). Raises ``JournalError``."""
        with self._locked() as recovered:
            return recovered

    def take_notices(self) -> list[str]:
        """Recoveries done while recording an apply (its caller shows them once)."""
        notices, self._notices = self._notices, []
        return notices

    @staticmethod
    def _reported(recovered: list[Outcome]) -> Outcome:
        # The recovery stands for the command: undoing (or redoing) another entry right
        # after it would surprise whoever asked.
        paths = tuple(p for outcome in recovered for p in outcome.paths)
        message = " ".join(outcome.message for outcome in recovered)
        return Outcome(all(o.ok for o in recovered), message, paths, recovered[-1].entry_id)

    # --- the stack ---------------------------------------------------------------

    @staticmethod
    def _next_undo(entries: list[JournalEntry]) -> JournalEntry | None:
        applied = [entry for entry in entries if not entry.undone]
        return applied[-1] if applied else None

    @staticmethod
    def _next_redo(entries: list[JournalEntry]) -> JournalEntry | None:
        top = max((entry.id for entry in entries if not entry.undone), default=0)
        undone = [entry for entry in entries if entry.undone and entry.id > top]
        return undone[0] if undone else None

    def next_undo(self) -> JournalEntry | None:
        """What ``undo()`` would undo now."""
        return self._next_undo(self._load(strict=False))

    def next_redo(self) -> JournalEntry | None:
        """What ``redo()`` would redo now."""
        return self._next_redo(self._load(strict=False))

    def history(self) -> list[JournalEntry]:
        """Every entry of this root, newest first (damaged entries left out)."""
        return self._load(strict=False)[::-1]

    # --- operations --------------------------------------------------------------

    def record(
        self, writes: Sequence[FileWrite], title: str, turn: str | None = None
    ) -> JournalEntry:
        """Do ``writes`` (all or nothing) and record them as one entry; ``turn`` (the
        agent's user turn) makes consecutive entries of one turn one undo step.

        The entry, with the old and new bytes, is durable before the first file changes
        and marked done after the last, so every apply can be undone, even one killed
        part way (the next opening of the journal rolls it back). Raises an ``EditError``.
        """
        with self._locked() as recovered:
            self._notices.extend(outcome.message for outcome in recovered)
            entries = self._load(strict=False)
            top = real_root(self.root)
            checked = check(self.root, writes)  # every refusal before anything is written
            files = tuple(
                JournalFile(normalize(c.write.path), c.write.expected, c.write.new,
                            missing_dirs(top, c.real))
                for c in checked
            )  # fmt: skip
            timestamp = datetime.now(UTC).isoformat(timespec="seconds")
            entry = JournalEntry(
                self._highest_name() + 1, str(self.root), timestamp, title, files,
                pending="apply", turn=turn,
            )  # fmt: skip
            self._save(entry)
            try:
                apply_writes(self.root, writes, checked=checked)
            except EditError as exc:
                if isinstance(exc, WriteError) and not exc.clean:
                    with contextlib.suppress(EditError, OSError):
                        self._settle(entry)  # once more now; else the next opening does
                else:
                    self._drop(entry)  # every file is as it was
                raise
            except BaseException:  # interrupted (Ctrl+C, a thread's exit): settle now
                with contextlib.suppress(EditError, OSError):
                    self._settle(entry)
                raise
            try:
                # Every created file keeps every directory missing before the apply (not
                # only the first file in it), so whichever is removed last removes them.
                self._save(replace(entry, pending=None))
            except JournalError:
                with contextlib.suppress(EditError, OSError):
                    self._settle(entry)  # never an apply that cannot be undone
                raise
            entry = replace(entry, pending=None)
            # A new apply ends the redo history, as in an editor; then keep the newest.
            for old in entries:
                if old.undone:
                    self._drop(old)
            kept = [old for old in entries if not old.undone] + [entry]
            for old in kept[: max(0, len(kept) - MAX_ENTRIES)]:
                self._drop(old)
        return entry

    def _highest_name(self) -> int:
        # Counted from the names, so a damaged entry's number is never reused.
        numbers = [int(p.stem) for p in self._dir.glob("[0-9]*.json") if p.stem.isdigit()]
        return max(numbers, default=0)

    def _run(self, entry: JournalEntry, writes: list[FileWrite], checked: list[CheckedWrite],
             pending: JournalEntry, done: JournalEntry) -> None:  # fmt: skip
        """Write ``pending`` durably, then ``writes``, then ``done``. On a clean failure
        the entry is as it was; after an unclean one it stays pending for the next
        opening to finish. Raises an ``EditError``."""
        self._save(pending)
        try:
            apply_writes(self.root, writes, checked=checked)
        except WriteError as exc:
            if exc.clean:
                self._save(entry)
            raise
        except EditError:
            self._save(entry)  # refused before any file changed
            raise
        try:
            self._save(done)
        except JournalError as exc:
            raise WriteError(
                f"{exc} after the files were written; the next undo, redo or apply puts "
                "them back as they were before the edit",
                clean=False,
            ) from exc

    def _undo_entry(self, entry: JournalEntry) -> Outcome | None:
        """Undo one entry (the lock is held): None when done, else why not."""
        writes = [
            FileWrite(f.path, f.after, f.before, remove_dirs=f.created_dirs) for f in entry.files
        ]
        try:
            checked = check(self.root, writes)  # a refused undo marks nothing
            self._run(entry, writes, checked, replace(entry, pending="undo"),
                      replace(entry, undone=True))  # fmt: skip
        except ChangedOnDiskError as exc:
            return Outcome(
                False,
                f"Cannot undo “{entry.title}”: {exc} since Rung applied it. Nothing was changed.",
                entry_id=entry.id,
            )
        except JournalError:
            raise
        except EditError as exc:
            message = f"Cannot undo “{entry.title}”: {_refusal(exc)}"
            return Outcome(False, message, entry_id=entry.id)
        return None

    def undo(self) -> Outcome:
        """Restore the exact bytes from before the newest apply (removing files it created);
        an agent turn of several applies is undone whole."""
        try:
            with self._locked() as recovered:
                if recovered:
                    return self._reported(recovered)
                entries = self._load()
                first = self._next_undo(entries)
                if first is None:
                    return Outcome(False, f"Nothing to undo in {self.root}.")
                group = undo_group(entries, first)
                title = group_title(group)
                if len(group) > 1:
                    changed = changed_since(self.root, group, undoing=True)
                    if changed:
                        message = f"Cannot undo “{title}”: {changed}. Nothing was changed."
                        return Outcome(False, message, entry_id=first.id)
                for number, entry in enumerate(group):
                    failed = self._undo_entry(entry)
                    if failed is not None:
                        if number:
                            failed = replace(failed, message=failed.message.replace(
                                "Nothing was changed.", f"{number} of its {len(group)} steps "
                                "were undone; undo again for the rest."))  # fmt: skip
                        return failed
        except JournalError as exc:
            return Outcome(False, f"Cannot undo: {_refusal(exc)}")
        files = group_files(group[::-1])
        restored = [f.path for f in files if not f.created]
        removed = [f.path for f in files if f.created]
        parts = ([f"restored {_names(restored)}"] if restored else []) + (
            [f"removed {_names(removed)}"] if removed else []
        )
        paths = tuple(f.path for f in files)
        return Outcome(True, f"Undid “{title}”: {'; '.join(parts)}.", paths, group[-1].id)

    def _redo_entry(self, entry: JournalEntry) -> Outcome | None:
        """Redo one entry (the lock is held): None when done, else why not."""
        writes = [FileWrite(f.path, f.before, f.after) for f in entry.files]
        try:
            top = real_root(self.root)
            checked = check(self.root, writes)
            # The directories made this time are the ones a later undo removes.
            files = tuple(
                replace(f, created_dirs=missing_dirs(top, c.real))
                for f, c in zip(entry.files, checked, strict=True)
            )
            self._run(entry, writes, checked, replace(entry, files=files, pending="redo"),
                      replace(entry, files=files, undone=False))  # fmt: skip
        except ChangedOnDiskError as exc:
            return Outcome(
                False,
                f"Cannot redo “{entry.title}”: {exc} since it was undone. Nothing was changed.",
                entry_id=entry.id,
            )
        except JournalError:
            raise
        except EditError as exc:
            message = f"Cannot redo “{entry.title}”: {_refusal(exc)}"
            return Outcome(False, message, entry_id=entry.id)
        return None

    def redo(self) -> Outcome:
        """Apply again what the last undo took back (a whole agent turn at once)."""
        try:
            with self._locked() as recovered:
                if recovered:
                    return self._reported(recovered)
                entries = self._load()
                first = self._next_redo(entries)
                if first is None:
                    return Outcome(False, f"Nothing to redo in {self.root}.")
                group = redo_group(entries, first)
                title = group_title(group)
                if len(group) > 1:
                    changed = changed_since(self.root, group, undoing=False)
                    if changed:
                        message = f"Cannot redo “{title}”: {changed}. Nothing was changed."
                        return Outcome(False, message, entry_id=first.id)
                for entry in group:
                    failed = self._redo_entry(entry)
                    if failed is not None:
                        return failed
        except JournalError as exc:
            return Outcome(False, f"Cannot redo: {_refusal(exc)}")
        paths = tuple(f.path for f in group_files(group))
        message = f"Redid “{title}”: {_names(paths)}."
        return Outcome(True, message, paths, group[-1].id)
