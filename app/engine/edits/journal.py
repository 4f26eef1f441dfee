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
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from rung.engine.edits.errors import ChangedOnDiskError, EditError, JournalError, WriteError
from rung.engine.edits.outcome import Outcome
from rung.engine.edits.writes import FileWrite, Written, apply_writes, write_atomic

try:
    import fcntl
except ImportError:  # not on Windows: one process at a time is then the caller's duty
    fcntl = None  # type: ignore[assignment]

MAX_ENTRIES = 100  # per root; the oldest applied ones go first
FORMAT = 1


@dataclass(frozen=True)
class JournalFile:
    path: str  # relative to the root
    before: bytes | None  # None: the apply created the file
    after: bytes | None  # None: the file was removed (not done by apply today)
    created_dirs: tuple[str, ...] = ()  # directories the apply made for it

    @property
    def created(self) -> bool:
        return self.before is None


@dataclass(frozen=True)
class JournalEntry:
    id: int
    root: str
    timestamp: str  # UTC, ISO 8601
    title: str
    files: tuple[JournalFile, ...]
    undone: bool = False

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)

    def describe(self) -> str:
        """One line for ``rung undo --list``."""
        when = self.timestamp[:19].replace("T", " ")
        state = "  (undone)" if self.undone else ""
        return f"{self.id:>4}  {when}  {self.title}  [{', '.join(self.paths)}]{state}"


def _encode(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _decode(data: str | None) -> bytes | None:
    return None if data is None else base64.b64decode(data.encode("ascii"), validate=True)


def _to_json(entry: JournalEntry) -> bytes:
    files = [
        {
            "path": f.path,
            "before": _encode(f.before),
            "after": _encode(f.after),
            "created_dirs": list(f.created_dirs),
        }
        for f in entry.files
    ]
    record = {
        "format": FORMAT,
        "id": entry.id,
        "root": entry.root,
        "timestamp": entry.timestamp,
        "title": entry.title,
        "undone": entry.undone,
        "files": files,
    }
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def _from_json(raw: bytes) -> JournalEntry:
    record = json.loads(raw)
    if record.get("format") != FORMAT:
        raise ValueError(f"unknown format {record.get('format')!r}")
    files = tuple(
        JournalFile(
            str(f["path"]),
            _decode(f["before"]),
            _decode(f["after"]),
            tuple(str(d) for d in f.get("created_dirs", ())),
        )
        for f in record["files"]
    )
    return JournalEntry(
        int(record["id"]),
        str(record["root"]),
        str(record["timestamp"]),
        str(record["title"]),
        files,
        bool(record["undone"]),
    )


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
    def _locked(self) -> Iterator[None]:
        self._ensure_dirs()
        try:
            fd = os.open(self._dir / "lock", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            reason = exc.strerror or exc
            raise JournalError(f"the undo journal cannot be locked ({reason})") from exc
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            yield
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
                entry = _from_json(path.read_bytes())
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
        try:
            write_atomic(self._entry_path(entry.id), _to_json(entry), None, private=True)
        except OSError as exc:
            raise JournalError(
                f"the undo journal could not be written ({exc.strerror or exc})"
            ) from exc

    def _drop(self, entry: JournalEntry) -> None:
        with contextlib.suppress(OSError):
            self._entry_path(entry.id).unlink()

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

    def record(self, writes: Sequence[FileWrite], title: str) -> JournalEntry:
        """Do ``writes`` (all or nothing) and record them as one entry.

        The entry is written before the writes count as done: if it cannot be saved the
        files are restored, so every apply can be undone. Raises an ``EditError``.
        """
        made: list[JournalEntry] = []
        with self._locked():
            entries = self._load(strict=False)
            entry_id = self._highest_name() + 1

            def save(done: list[Written]) -> None:
                files = tuple(JournalFile(w.path, w.before, w.after, w.created_dirs) for w in done)
                timestamp = datetime.now(UTC).isoformat(timespec="seconds")
                made.append(JournalEntry(entry_id, str(self.root), timestamp, title, files))
                self._save(made[0])

            apply_writes(self.root, writes, on_success=save)
            # A new apply ends the redo history, as in an editor; then keep the newest.
            for entry in entries:
                if entry.undone:
                    self._drop(entry)
            kept = [entry for entry in entries if not entry.undone] + made
            for entry in kept[: max(0, len(kept) - MAX_ENTRIES)]:
                self._drop(entry)
        return made[0]

    def _highest_name(self) -> int:
        # Counted from the names, so a damaged entry's number is never reused.
        numbers = [int(p.stem) for p in self._dir.glob("[0-9]*.json") if p.stem.isdigit()]
        return max(numbers, default=0)

    def undo(self) -> Outcome:
        """Restore the exact bytes from before the newest apply (removing files it created)."""
        try:
            with self._locked():
                entry = self._next_undo(self._load())
                if entry is None:
                    return Outcome(False, f"Nothing to undo in {self.root}.")
                writes = [
                    FileWrite(f.path, f.after, f.before, remove_dirs=f.created_dirs)
                    for f in entry.files
                ]
                undone = replace(entry, undone=True)
                try:
                    apply_writes(self.root, writes, on_success=lambda _: self._save(undone))
                except ChangedOnDiskError as exc:
                    return Outcome(
                        False,
                        f"Cannot undo “{entry.title}”: {exc} since Rung applied it. "
                        "Nothing was changed.",
                        entry_id=entry.id,
                    )
                except EditError as exc:
                    message = f"Cannot undo “{entry.title}”: {_refusal(exc)}"
                    return Outcome(False, message, entry_id=entry.id)
        except JournalError as exc:
            return Outcome(False, f"Cannot undo: {_refusal(exc)}")
        restored = [f.path for f in entry.files if not f.created]
        removed = [f.path for f in entry.files if f.created]
        parts = ([f"restored {_names(restored)}"] if restored else []) + (
            [f"removed {_names(removed)}"] if removed else []
        )
        return Outcome(True, f"Undid “{entry.title}”: {'; '.join(parts)}.", entry.paths, entry.id)

    def redo(self) -> Outcome:
        """Apply again what the last undo took back."""
        try:
            with self._locked():
                entry = self._next_redo(self._load())
                if entry is None:
                    return Outcome(False, f"Nothing to redo in {self.root}.")
                writes = [FileWrite(f.path, f.before, f.after) for f in entry.files]

                def save(done: list[Written]) -> None:
                    # The directories made this time are the ones a later undo removes.
                    files = tuple(
                        replace(f, created_dirs=w.created_dirs)
                        for f, w in zip(entry.files, done, strict=True)
                    )
                    self._save(replace(entry, undone=False, files=files))

                try:
                    apply_writes(self.root, writes, on_success=save)
                except ChangedOnDiskError as exc:
                    return Outcome(
                        False,
                        f"Cannot redo “{entry.title}”: {exc} since it was undone. "
                        "Nothing was changed.",
                        entry_id=entry.id,
                    )
                except EditError as exc:
                    message = f"Cannot redo “{entry.title}”: {_refusal(exc)}"
                    return Outcome(False, message, entry_id=entry.id)
        except JournalError as exc:
            return Outcome(False, f"Cannot redo: {_refusal(exc)}")
        message = f"Redid “{entry.title}”: {_names(entry.paths)}."
        return Outcome(True, message, entry.paths, entry.id)
