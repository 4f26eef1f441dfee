"""Sessions and messages in SQLite: every message with its usage and cost.

One file in the data directory, WAL mode (the TUI and `rung ask` may write at once),
schema versioned with ``PRAGMA user_version`` and migrated step by step. Money is
stored as decimal strings and summed as Decimal, never as floats.

A reply is durable from its first moment: its row is written when the request goes
out (``finish_reason = 'streaming'``, with the writing process's pid) and updated as it
streams, so a killed process leaves the question, the partial text and its priced
usage behind. The next process to open the store marks such rows ``interrupted``.

The database and its WAL and SHM files are created user-only (0600) in a 0700
directory: they hold everything pasted and attached.

Here: opening the file, and every write. The schema's steps are in store_schema.py; the
reads are mixed in from store_history.py (sessions, transcripts), store_spend.py (money
by rung and model) and store_compare.py (`rung compare` runs).
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from rung.engine.store_compare import CompareRuns
from rung.engine.store_history import HistoryReads
from rung.engine.store_history import SessionSummary as SessionSummary
from rung.engine.store_history import StoredMessage as StoredMessage
from rung.engine.store_schema import INTERRUPTED as INTERRUPTED
from rung.engine.store_schema import MIGRATIONS as MIGRATIONS
from rung.engine.store_schema import SCHEMA_VERSION as SCHEMA_VERSION
from rung.engine.store_schema import STREAMING as STREAMING
from rung.engine.store_spend import SpendReads
from rung.engine.store_spend import SpendRow as SpendRow
from rung.engine.store_spend import start_of_today as start_of_today
from rung.engine.store_spend import start_of_week as start_of_week
from rung.tiers.meter import MessageCost

DB_NAME = "rung.db"


class StoreError(Exception):
    """The history cannot be used; the message says why in words a user can act on."""


def describe_sqlite_error(exc: BaseException) -> str:
    text = str(exc)
    if "disk is full" in text or "disk I/O" in text:
        return f"the disk is full or failing ({text})"
    if "readonly" in text or "read-only" in text:
        return f"the history file is read-only ({text})"
    if "not a database" in text or "malformed" in text:
        return f"the history file is damaged ({text})"
    return text


def _private_file(path: Path) -> None:
    """Create ``path`` 0600 if missing; tighten it if an older Rung left it readable."""
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class Store(HistoryReads, SpendReads, CompareRuns):
    """The history file, open: created private, migrated, its orphaned replies marked.
    Writing is here; reading is in the mixins (store_history, store_spend, store_compare)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            _private_file(path)
            # SQLite gives the -wal and -shm files the database file's mode; tighten any
            # left behind by an older version.
            for suffix in ("-wal", "-shm"):
                extra = path.with_name(path.name + suffix)
                if extra.exists():
                    _private_file(extra)
            self.db = sqlite3.connect(path, timeout=10, isolation_level=None)
        except OSError as exc:
            raise StoreError(f"cannot open {path}: {exc.strerror or exc}") from None
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {describe_sqlite_error(exc)}") from None
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            self._mark_interrupted()
        except sqlite3.Error as exc:
            self.db.close()
            raise StoreError(f"cannot use {path}: {describe_sqlite_error(exc)}") from None
        except StoreError:
            self.db.close()
            raise

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer Rung (history schema {version}; this "
                f"one knows {SCHEMA_VERSION}). Upgrade Rung; the file was left untouched."
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            # One transaction per step: a failed migration leaves the old schema intact.
            try:
                self.db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

    def _mark_interrupted(self) -> None:
        """Replies left 'streaming' by a process that is gone were interrupted (killed,
        crashed, power cut): say so, keeping the text and usage they had reached."""
        rows = self.db.execute(
            "SELECT id, pid FROM messages WHERE finish_reason = ?", (STREAMING,)
        ).fetchall()
        dead = [(INTERRUPTED, row_id) for row_id, pid in rows if not pid or not _pid_alive(pid)]
        if dead:
            self.db.executemany(
                "UPDATE messages SET finish_reason = ?, pid = NULL WHERE id = ?", dead
            )

    @property
    def schema_version(self) -> int:
        return self.db.execute("PRAGMA user_version").fetchone()[0]

    def close(self) -> None:
        self.db.close()

    # -- writing ---------------------------------------------------------------
    def start_session(self, source: str, title: str | None = None) -> int:
        cur = self.db.execute(
            "INSERT INTO sessions (started_at, source, title) VALUES (?, ?, ?)",
            (datetime.now(UTC).isoformat(), source, title),
        )
        return int(cur.lastrowid or 0)

    def add_user_message(self, session_id: int, content: str) -> int:
        cur = self.db.execute(
            "INSERT INTO messages (session_id, created_at, role, content) VALUES (?, ?, ?, ?)",
            (session_id, datetime.now(UTC).isoformat(), "user", content),
        )
        return int(cur.lastrowid or 0)

    def begin_reply(
        self,
        session_id: int,
        tier: str,
        kind: str,
        provider: str,
        model: str,
        reason: str,
        step_kind: str | None = None,
        aside: bool = False,
    ) -> int:
        """The reply's row, written before the first token: status 'streaming'.
        ``aside``: paid for but not part of the conversation (an agent's digest)."""
        now = datetime.now(UTC).isoformat()
        cur = self.db.execute(
            """INSERT INTO messages (session_id, created_at, updated_at, role, content, tier,
               kind, provider, model, finish_reason, pid, reason, step_kind, superseded)
               VALUES (?, ?, ?, 'assistant', '', ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (session_id, now, now, tier, kind, provider, model, STREAMING, os.getpid(), reason,
             step_kind, int(aside)),
        )  # fmt: skip
        return int(cur.lastrowid or 0)

    def update_reply(
        self,
        row_id: int,
        content: str,
        record: MessageCost,
        *,
        error: str | None = None,
        final: bool = False,
    ) -> None:
        """The reply so far (``final=False``: still streaming) or as it ended."""
        u = record.usage
        self.db.execute(
            """UPDATE messages SET content = ?, model = ?, input_tokens = ?,
               output_tokens = ?, cached_input_tokens = ?, cache_write_tokens = ?,
               reasoning_tokens = ?, estimated = ?, cost_usd = ?, reference_usd = ?,
               price_basis = ?, finish_reason = ?, busy_s = ?, error = ?, updated_at = ?,
               pid = ?
               WHERE id = ?""",
            (
                content,
                record.model,
                u.input_tokens,
                u.output_tokens,
                u.cached_input_tokens,
                u.cache_write_tokens,
                u.reasoning_tokens,
                int(u.estimated),
                None if record.cost.usd is None else str(record.cost.usd),
                None if record.reference.usd is None else str(record.reference.usd),
                record.cost.basis,
                record.finish_reason if final else STREAMING,
                record.busy_s,
                error,
                datetime.now(UTC).isoformat(),
                None if final else os.getpid(),
                row_id,
            ),
        )

    def add_reply(
        self,
        session_id: int,
        content: str,
        record: MessageCost,
        error: str | None = None,
        reason: str = "",
    ) -> int:
        """A whole reply at once (tests and imports; live replies use begin/update)."""
        row = self.begin_reply(
            session_id, record.tier, record.kind, record.provider, record.model, reason
        )
        self.update_reply(row, content, record, error=error, final=True)
        return row

    def supersede(self, session_id: int, from_row: int) -> None:
        """The exchange starting at ``from_row`` (a question and its replies) was edited
        and sent again: keep it, priced, but out of the conversation."""
        self.db.execute(
            "UPDATE messages SET superseded = 1 WHERE session_id = ? AND id >= ?",
            (session_id, from_row),
        )

    def set_session_pin(self, session_id: int, pin: str | None) -> None:
        self.db.execute("UPDATE sessions SET pin = ? WHERE id = ?", (pin, session_id))

    def session_pin(self, session_id: int) -> str | None:
        """The rung the session was pinned to when last used; None for Auto."""
        row = self.db.execute("SELECT pin FROM sessions WHERE id = ?", (session_id,)).fetchone()
        return row[0] if row else None

    def rename_session(self, session_id: int, title: str) -> None:
        self.db.execute("UPDATE sessions SET title = ? WHERE id = ?", (title, session_id))

    def delete_session(self, session_id: int) -> None:
        self.db.execute("BEGIN")
        try:
            self.db.execute("DELETE FROM messages WHERE session_id = ?", (session_id,))
            self.db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def set_agent_step(self, row_id: int, data: str) -> None:
        """An agent step's calls and results (JSON) on its reply row."""
        self.db.execute("UPDATE messages SET agent = ? WHERE id = ?", (data, row_id))

    def agent_steps(self, session_id: int) -> dict[int, str]:
        """The agent steps' JSON of a session, by reply row id."""
        rows = self.db.execute(
            "SELECT id, agent FROM messages WHERE session_id = ? AND agent IS NOT NULL",
            (session_id,),
        ).fetchall()
        return {int(row_id): data for row_id, data in rows}


def open_store(data_dir: Path) -> Store:
    """Open (and create or migrate) the history. Raises StoreError with a clear message."""
    return Store(data_dir / DB_NAME)
