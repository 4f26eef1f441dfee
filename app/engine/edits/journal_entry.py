"""One entry of the undo journal and its stored form (JSON, file contents in base64).

An entry is written before its first file changes, with ``pending`` saying what is under
way ("apply", "undo" or "redo"), and written again without it after the last: an entry
still pending when the journal is next opened belongs to a process that died part way.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

FORMAT = 1
PENDING = ("apply", "undo", "redo")


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
    pending: str | None = None  # one of PENDING while its files are being written
    # The agent's user turn this apply belongs to: consecutive entries of one turn are
    # undone (and redone) together, so a turn of several tool edits is one undo step.
    turn: str | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.files)

    def describe(self) -> str:
        """One line for ``rung undo --list``."""
        when = self.timestamp[:19].replace("T", " ")
        state = "  (undone)" if self.undone else ""
        if self.pending is not None:
            state = f"  (interrupted {self.pending})"
        return f"{self.id:>4}  {when}  {self.title}  [{', '.join(self.paths)}]{state}"


def _encode(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode("ascii")


def _decode(data: str | None) -> bytes | None:
    return None if data is None else base64.b64decode(data.encode("ascii"), validate=True)


def to_json(entry: JournalEntry) -> bytes:
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
        "pending": entry.pending,
        "files": files,
    }
    if entry.turn is not None:  # absent otherwise: older readers see the same record
        record["turn"] = entry.turn
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def from_json(raw: bytes) -> JournalEntry:
    """Raises ``ValueError``, ``KeyError`` or ``TypeError`` for a damaged entry."""
    record = json.loads(raw)
    if record.get("format") != FORMAT:
        raise ValueError(f"unknown format {record.get('format')!r}")
    pending = record.get("pending")  # absent in entries written before it existed
    if pending is not None and pending not in PENDING:
        raise ValueError(f"unknown pending operation {pending!r}")
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
        pending,
        None if record.get("turn") is None else str(record["turn"]),
    )
