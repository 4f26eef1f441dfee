"""All-or-nothing writes inside the root: check every file first, then write each one
atomically; if a write fails part way, put back what was already written.

Atomic means: the new bytes go to a temporary file in the same directory, are fsynced,
get the old file's mode, and replace the old file with one ``rename`` — a crash leaves
either the old file or the new one, never half of each (and at worst a stray temporary
file, ``.<name>.rung-<8 hex>.tmp``, which the journal's recovery removes). Several
files are not atomic together: the journal's write-ahead entry covers that. The same
machinery serves apply, undo and redo: each is a list of ``FileWrite``\\ s that say what
must be on disk now (so a file someone else changed is never overwritten) and what to
leave there.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from rung.engine.edits.errors import ChangedOnDiskError, EditError, NotTextError, WriteError
from rung.engine.edits.paths import normalize, read_current, real_root, resolve_inside
from rung.engine.edits.textio import is_text

NEW_FILE_MODE = 0o666  # before the umask, as any editor creates a file


@dataclass(frozen=True)
class FileWrite:
    path: str  # relative to the root
    expected: bytes | None  # what must be on disk now; None: the file must not exist
    new: bytes | None  # what to leave there; None: remove the file (only undo does that)
    # Directories (relative, outermost first) to remove when they are empty after the
    # file is removed: the ones the undone apply created for it.
    remove_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Written:
    path: str
    before: bytes | None  # None: the file did not exist
    after: bytes | None  # None: the file was removed
    created_dirs: tuple[str, ...] = ()  # made for this file, relative, outermost first


@dataclass(frozen=True)
class CheckedWrite:
    """A write that passed every check, and the real file it goes to."""

    write: FileWrite
    real: Path
    mode: int | None  # permission bits of the existing file


def _how_changed(expected: bytes | None, current: bytes | None) -> str:
    if expected is None:
        return "created"
    return "deleted" if current is None else "changed"


def check(root: Path, writes: Sequence[FileWrite]) -> list[CheckedWrite]:
    """Every refusal, before anything is written. Raises an ``EditError``."""
    checked: list[CheckedWrite] = []
    seen: dict[Path, str] = {}
    for write in writes:
        name = normalize(write.path)
        real = resolve_inside(root, name)
        if real in seen:
            raise EditError(f"{name} and {seen[real]} are the same file; change it once")
        seen[real] = name
        current = read_current(real, name)
        if current != write.expected:
            raise ChangedOnDiskError(name, _how_changed(write.expected, current))
        if current is not None and not is_text(current):
            raise NotTextError(
                f"{name} is not a text file (binary or not UTF-8); Rung does not edit it"
            )
        if write.new is not None and not is_text(write.new):
            raise NotTextError(f"{name}: the new content is not text (NUL bytes); refused")
        mode = stat.S_IMODE(os.stat(real).st_mode) if current is not None else None
        checked.append(CheckedWrite(write, real, mode))
    return checked


def _fsync_dir(directory: Path) -> None:
    # Makes the rename itself durable; some filesystems cannot open a directory: best effort.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# A temporary file is ".<name>.rung-<8 hex>.tmp" next to the file it replaces.
_TEMP_MARK = ".rung-"
_TEMP_END = ".tmp"


def _is_temp_of(entry: str, name: str | None) -> bool:
    if not (entry.startswith(".") and entry.endswith(_TEMP_END)):
        return False
    stem, mark, token = entry[1 : -len(_TEMP_END)].rpartition(_TEMP_MARK)
    if not mark or len(token) != 8 or any(c not in "0123456789abcdef" for c in token):
        return False
    return name is None or stem == name


def remove_stray_temps(directory: Path, name: str | None = None) -> int:
    """Delete the temporary files a killed writer left in ``directory`` (only those of
    ``name`` when given); the caller holds the journal's lock, so none is still in use.
    Returns how many were removed."""
    try:
        entries = os.listdir(directory)
    except OSError:
        return 0
    removed = 0
    for entry in entries:
        if not _is_temp_of(entry, name):
            continue
        path = directory / entry
        with contextlib.suppress(OSError):
            if stat.S_ISREG(path.lstat().st_mode):  # never follow a link planted there
                path.unlink()
                removed += 1
    return removed


# Inside apply_writes: the directories whose fsync (which makes a rename durable) waits
# until every file is written, one per directory instead of one per file.
_deferred_dirs: ContextVar[dict[Path, None] | None] = ContextVar("deferred_dirs", default=None)


def write_atomic(real: Path, data: bytes, mode: int | None, private: bool = False) -> None:
    """Replace ``real`` with ``data`` in one rename; keep ``mode`` (None: a new file).

    ``private`` creates the file 0600 (the journal's own files).
    """
    temp = real.with_name(f".{real.name}{_TEMP_MARK}{secrets.token_hex(4)}{_TEMP_END}")
    create_mode = 0o600 if private else NEW_FILE_MODE
    fd = os.open(
        temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), create_mode
    )
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    deferred = _deferred_dirs.get()
    if deferred is None:
        _fsync_dir(real.parent)
    else:
        deferred[real.parent] = None


def missing_dirs(top: Path, real: Path) -> tuple[str, ...]:
    """The directories above ``real`` (inside ``top``) that do not exist yet, outermost
    first: what writing it will create, known before it is written."""
    missing: list[str] = []
    current = top
    for part in real.parent.relative_to(top).parts:
        current = current / part
        if missing or not current.exists():
            missing.append(current.relative_to(top).as_posix())
    return tuple(missing)


def _make_parents(top: Path, real: Path) -> tuple[str, ...]:
    """Create the missing directories above ``real`` (inside ``top``); say which."""
    created = missing_dirs(top, real)
    for rel in created:
        (top / rel).mkdir(exist_ok=True)
    return created


def remove_empty_dirs(top: Path, dirs: Sequence[str]) -> None:
    """Remove ``dirs`` (relative to ``top``, outermost first) that are empty, deepest first."""
    for rel in reversed(dirs):  # deepest first
        with contextlib.suppress(OSError):  # not empty any more: someone put a file there
            (top / rel).rmdir()


def _write_one(top: Path, item: CheckedWrite) -> Written:
    write = item.write
    name = normalize(write.path)
    # Checked again just before the rename: an editor may have saved since check().
    current = read_current(item.real, name)
    if current != write.expected:
        raise ChangedOnDiskError(name, _how_changed(write.expected, current))
    if write.new is None:
        if write.expected is not None:
            os.unlink(item.real)
        remove_empty_dirs(top, write.remove_dirs)
        return Written(name, write.expected, None)
    created = _make_parents(top, item.real)
    try:
        write_atomic(item.real, write.new, item.mode)
    except BaseException:
        remove_empty_dirs(top, created)
        raise
    return Written(name, write.expected, write.new, created)


def _restore(top: Path, done: Sequence[tuple[CheckedWrite, Written]]) -> list[str]:
    """Put back the files already written, newest first; the names that could not be."""
    failed: list[str] = []
    for item, written in reversed(done):
        try:
            if written.before is None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(item.real)
                remove_empty_dirs(top, written.created_dirs)
            else:
                _make_parents(top, item.real)
                write_atomic(item.real, written.before, item.mode)
        except OSError:
            failed.append(written.path)
    return failed


def apply_writes(
    root: Path,
    writes: Sequence[FileWrite],
    on_success: Callable[[list[Written]], None] | None = None,
    checked: Sequence[CheckedWrite] | None = None,
) -> list[Written]:
    """Check every write, then do them all, or none.

    ``checked``: what ``check(root, writes)`` returned just before (the journal checks
    first, to record what will be written), so the paths are not resolved twice.
    ``on_success`` runs after the last write (the journal records there); if it raises,
    the writes are undone too, so "applied" always means "applied and recorded".
    Raises an ``EditError`` on any refusal or failure, with what was restored.
    """
    top = real_root(root)
    if checked is None:
        checked = check(root, writes)
    done: list[tuple[CheckedWrite, Written]] = []
    try:
        # Each file is fsynced before its rename; the renames become durable below, one
        # fsync per directory instead of one per file (half the fsyncs of a big apply).
        deferred: dict[Path, None] = {}
        token = _deferred_dirs.set(deferred)
        try:
            for item in checked:
                done.append((item, _write_one(top, item)))
        finally:
            _deferred_dirs.reset(token)
        for item, _ in done:  # removed files too: their unlink is made durable
            deferred.setdefault(item.real.parent, None)
        for directory in deferred:
            _fsync_dir(directory)
        if on_success is not None:
            on_success([written for _, written in done])
    except BaseException as exc:
        failed = _restore(top, done)
        if not isinstance(exc, (OSError, EditError)):
            raise
        if isinstance(exc, ChangedOnDiskError) and not failed:
            raise  # changed between check() and its write: the same refusal as before
        reason = str(exc) if isinstance(exc, EditError) else (exc.strerror or str(exc))
        where = ""
        if isinstance(exc, OSError) and len(done) < len(checked):
            where = f" while writing {normalize(checked[len(done)].write.path)}"
        if failed:
            raise WriteError(
                f"writing failed{where} ({reason}), and {', '.join(failed)} could not be "
                "put back as it was: check those files",
                clean=False,
            ) from exc
        restored = ""
        if done:
            restored = f"; {', '.join(w.path for _, w in done)} put back as before"
        raise WriteError(f"writing failed{where} ({reason}){restored}") from exc
    return [written for _, written in done]
