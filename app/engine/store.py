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
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rung.engine.cost_label import TIME_PRICED
from rung.tiers.meter import MessageCost

DB_NAME = "rung.db"
STREAMING = "streaming"
INTERRUPTED = "interrupted"

MIGRATIONS: list[str] = [
    # 1: sessions and messages
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        source TEXT NOT NULL,          -- "tui" or "ask"
        title TEXT
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        session_id INTEGER NOT NULL REFERENCES sessions(id),
        created_at TEXT NOT NULL,      -- UTC ISO 8601
        role TEXT NOT NULL,            -- "user" or "assistant"
        content TEXT NOT NULL,
        tier TEXT, kind TEXT, provider TEXT, model TEXT,
        input_tokens INTEGER, output_tokens INTEGER,
        cached_input_tokens INTEGER, cache_write_tokens INTEGER, reasoning_tokens INTEGER,
        estimated INTEGER,             -- 1 when token counts were estimated
        cost_usd TEXT,                 -- decimal string; NULL when the price is unknown
        reference_usd TEXT,
        price_basis TEXT,
        finish_reason TEXT,
        busy_s REAL,
        error TEXT
    );
    CREATE INDEX messages_created_at ON messages(created_at);
    CREATE INDEX messages_session ON messages(session_id);
    """,
    # 2: durable replies (written as they stream) and why each went where it went
    """
    ALTER TABLE messages ADD COLUMN pid INTEGER;        -- writer, while streaming
    ALTER TABLE messages ADD COLUMN updated_at TEXT;
    ALTER TABLE messages ADD COLUMN reason TEXT;        -- the routing reason shown
    CREATE INDEX messages_streaming ON messages(finish_reason)
        WHERE finish_reason = 'streaming';
    """,
    # 3: an exchange the user edited and sent again is kept (and counted) but no longer
    # part of the conversation the model sees or a resume shows
    """
    ALTER TABLE messages ADD COLUMN superseded INTEGER NOT NULL DEFAULT 0;
    """,
    # 4: `rung compare` runs: every prompt on every rung, priced, timed and checked
    """
    CREATE TABLE compare_runs (
        id INTEGER PRIMARY KEY,
        created_at TEXT NOT NULL,      -- UTC ISO 8601
        source TEXT NOT NULL,          -- where the prompts came from (file, stdin, session)
        status TEXT NOT NULL,          -- "complete", "stopped at the cost limit", "interrupted"
        rungs TEXT NOT NULL,           -- JSON: the rungs compared, in order, with models
        prompts TEXT NOT NULL,         -- JSON: each prompt, its checks, Auto's choice
        options TEXT NOT NULL,         -- JSON: max_tokens, concurrency, limit, estimate
        total_usd TEXT NOT NULL,       -- decimal string: answers and verdicts, known prices
        unknown INTEGER NOT NULL DEFAULT 0   -- answers and verdicts with unknown price
    );
    CREATE TABLE compare_cells (
        id INTEGER PRIMARY KEY,
        run_id INTEGER NOT NULL REFERENCES compare_runs(id) ON DELETE CASCADE,
        prompt_index INTEGER NOT NULL,  -- 0-based, into compare_runs.prompts
        rung TEXT NOT NULL,
        model TEXT,
        content TEXT NOT NULL,
        input_tokens INTEGER, output_tokens INTEGER, cached_input_tokens INTEGER,
        estimated INTEGER,              -- 1 when token counts were estimated
        cost_usd TEXT,                  -- decimal string; NULL when unknown or not run
        cost_exact INTEGER,
        price_basis TEXT,
        ttft_s REAL, tokens_per_s REAL, duration_s REAL,
        finish_reason TEXT,
        error TEXT,
        skipped TEXT,                   -- why the cell was not run
        checks TEXT                     -- JSON: each check's verdict, a judge's with its cost
    );
    CREATE INDEX compare_cells_run ON compare_cells(run_id);
    """,
    # 5: the rung a conversation was pinned to (NULL: Auto), so a resumed one keeps it
    """
    ALTER TABLE sessions ADD COLUMN pin TEXT;
    """,
    # 6: an agent step's tool calls and their results (JSON), on the step's reply row, so
    # a stopped agent turn can be picked up where it was (engine/agent/record.py)
    """
    ALTER TABLE messages ADD COLUMN agent TEXT;
    """,
    # 7: an agent step's kind (plan, act, digest, answer), so `rung cost` and F7 break a
    # run down by step kind; a digest (compaction's summary) is stored superseded: paid
    # for and counted, but not part of the conversation read back
    """
    ALTER TABLE messages ADD COLUMN step_kind TEXT;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class StoreError(Exception):
    """The history cannot be used; the message says why in words a user can act on."""


@dataclass(frozen=True)
class SpendRow:
    tier: str
    model: str
    usd: Decimal
    messages: int
    unknown: int
    estimated: int


@dataclass(frozen=True)
class SessionSummary:
    id: int
    started_at: str
    source: str
    title: str
    first_question: str
    messages: int
    spent: Decimal
    unknown: int  # replies whose price is unknown (not in ``spent``)
    saved: Decimal
    tiers: tuple[str, ...]


@dataclass(frozen=True)
class StoredMessage:
    role: str
    content: str
    tier: str | None
    model: str | None
    cost_usd: Decimal | None
    estimated: bool
    finish_reason: str | None
    error: str | None
    kind: str | None = None
    provider: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    reference_usd: Decimal | None = None
    price_basis: str | None = None
    busy_s: float = 0.0
    reason: str | None = None
    created_at: str = ""
    superseded: bool = False
    row_id: int = 0
    step_kind: str = ""


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


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


class Store:
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

    # -- reading ---------------------------------------------------------------
    def spend(self, since: datetime | None = None) -> list[SpendRow]:
        """Spend by tier and model since a moment (all time when None)."""
        # A price from measured time at an hourly rate counts as an estimate, as the chat
        # screen labels it (engine/cost_label.py).
        timed = ", ".join("?" * len(TIME_PRICED))
        query = (
            f"SELECT tier, model, cost_usd, estimated OR price_basis IN ({timed})"
            " FROM messages WHERE role = 'assistant'"
        )
        since_args: tuple[str, ...] = ()
        if since is not None:
            query += " AND created_at >= ?"
            since_args = (since.astimezone(UTC).isoformat(),)
        groups: dict[tuple[str, str], list[int | Decimal]] = defaultdict(
            lambda: [Decimal(0), 0, 0, 0]
        )
        for tier, model, cost, estimated in self.db.execute(query, (*TIME_PRICED, *since_args)):
            g = groups[(tier or "?", model or "?")]
            g[1] += 1
            if cost is None:
                g[2] += 1
            else:
                g[0] += Decimal(cost)
            g[3] += int(bool(estimated))
        # `rung compare` pays for its answers and verdicts too: they count against the
        # budgets and in `rung cost` (each answer under its rung; the judges' verdicts,
        # the rest of a run's total, under "compare (judges)").
        runs = "SELECT id, total_usd FROM compare_runs"
        if since is not None:
            runs += " WHERE created_at >= ?"
        for run_id, total in self.db.execute(runs, since_args).fetchall():
            answers = Decimal(0)
            for rung, model, cost, estimated in self.db.execute(
                """SELECT rung, model, cost_usd, estimated FROM compare_cells
                   WHERE run_id = ? AND skipped IS NULL""",
                (run_id,),
            ):
                g = groups[(rung or "?", model or "?")]
                g[1] += 1
                if cost is None:
                    g[2] += 1
                else:
                    g[0] += Decimal(cost)
                    answers += Decimal(cost)
                g[3] += int(bool(estimated))
            verdicts = Decimal(total) - answers
            if verdicts > 0:
                g = groups[("compare", "(judges)")]
                g[0] += verdicts
                g[1] += 1
        return [
            SpendRow(tier, model, Decimal(g[0]), int(g[1]), int(g[2]), int(g[3]))
            for (tier, model), g in sorted(groups.items())
        ]

    def sessions(
        self, limit: int = 20, source: str | None = None, search: str = ""
    ) -> list[SessionSummary]:
        """The most recent sessions that have messages, newest first; with ``search``,
        those whose title or any question contains it (case-insensitive for ASCII)."""
        where = "WHERE EXISTS (SELECT 1 FROM messages WHERE session_id = s.id)"
        args: list[object] = []
        if source is not None:
            where += " AND s.source = ?"
            args.append(source)
        if search.strip():
            # LIKE with its wildcards escaped: "100%" or "a_b" are searched as typed.
            pattern = "%" + re.sub(r"([\\%_])", r"\\\1", search.strip()) + "%"
            where += """ AND (s.title LIKE ? ESCAPE '\\' OR EXISTS (
                SELECT 1 FROM messages WHERE session_id = s.id AND role = 'user'
                AND superseded = 0 AND content LIKE ? ESCAPE '\\'))"""
            args += [pattern, pattern]
        rows = self.db.execute(
            f"""SELECT s.id, s.started_at, s.source, s.title,
                      (SELECT content FROM messages WHERE session_id = s.id AND role = 'user'
                       ORDER BY id LIMIT 1),
                      (SELECT COUNT(*) FROM messages WHERE session_id = s.id)
               FROM sessions s {where}
               ORDER BY s.id DESC LIMIT ?""",
            (*args, limit),
        ).fetchall()
        out = []
        for sid, started, source_name, title, first, count in rows:
            spent = saved = Decimal(0)
            unknown = 0
            tiers: dict[str, None] = {}
            for cost, reference, tier in self.db.execute(
                """SELECT cost_usd, reference_usd, tier FROM messages
                   WHERE session_id = ? AND role = 'assistant' ORDER BY id""",
                (sid,),
            ):
                tiers[tier or "?"] = None
                if cost is None:
                    unknown += 1
                    continue
                spent += Decimal(cost)
                if reference is not None:
                    saved += Decimal(reference) - Decimal(cost)
            out.append(
                SessionSummary(sid, started, source_name, title or "", first or "", count,
                               spent, unknown, saved, tuple(tiers))
            )  # fmt: skip
        return out

    def transcript(self, session_id: int) -> list[StoredMessage]:
        rows = self.db.execute(
            """SELECT role, content, tier, model, cost_usd, estimated, finish_reason, error,
                      kind, provider, input_tokens, output_tokens, cached_input_tokens,
                      cache_write_tokens, reasoning_tokens, reference_usd, price_basis,
                      busy_s, reason, created_at, superseded, id, step_kind
               FROM messages WHERE session_id = ? ORDER BY id""",
            (session_id,),
        ).fetchall()
        return [
            StoredMessage(
                role, content, tier, model, _decimal(cost), bool(est), finish, error, kind,
                provider, inp or 0, out or 0, cached or 0, written or 0, reasoning or 0,
                _decimal(reference), basis, busy or 0.0, reason, created or "", bool(gone),
                row_id, step or "",
            )
            for (role, content, tier, model, cost, est, finish, error, kind, provider, inp,
                 out, cached, written, reasoning, reference, basis, busy, reason, created, gone,
                 row_id, step)
            in rows
        ]  # fmt: skip

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

    def spent_since(self, since: datetime) -> Decimal:
        return sum((row.usd for row in self.spend(since)), Decimal(0))

    # -- `rung compare` and `rung cost --what-if` -------------------------------------------
    COMPARE_RUN_COLUMNS = ("created_at", "source", "status", "rungs", "prompts", "options",
                            "total_usd", "unknown")  # fmt: skip
    COMPARE_CELL_COLUMNS = (
        "prompt_index", "rung", "model", "content", "input_tokens", "output_tokens",
        "cached_input_tokens", "estimated", "cost_usd", "cost_exact", "price_basis", "ttft_s",
        "tokens_per_s", "duration_s", "finish_reason", "error", "skipped", "checks",
    )  # fmt: skip

    def add_compare_run(self, run: dict[str, object], cells: list[dict[str, object]]) -> int:
        """A comparison run and its cells, in one transaction; returns the run's id."""
        run_cols, cell_cols = self.COMPARE_RUN_COLUMNS, self.COMPARE_CELL_COLUMNS
        self.db.execute("BEGIN")
        try:
            cur = self.db.execute(
                f"INSERT INTO compare_runs ({', '.join(run_cols)}) "
                f"VALUES ({', '.join('?' for _ in run_cols)})",
                tuple(run[c] for c in run_cols),
            )
            run_id = int(cur.lastrowid or 0)
            self.db.executemany(
                f"INSERT INTO compare_cells (run_id, {', '.join(cell_cols)}) "
                f"VALUES (?, {', '.join('?' for _ in cell_cols)})",
                [(run_id, *(cell[c] for c in cell_cols)) for cell in cells],
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return run_id

    def compare_run(self, run_id: int) -> tuple[dict[str, object], list[dict[str, object]]] | None:
        """A stored comparison (the run's row, its cells in order), or None."""
        run_cols, cell_cols = self.COMPARE_RUN_COLUMNS, self.COMPARE_CELL_COLUMNS
        row = self.db.execute(
            f"SELECT id, {', '.join(run_cols)} FROM compare_runs WHERE id = ?", (run_id,)
        ).fetchone()
        if row is None:
            return None
        cells = self.db.execute(
            f"SELECT {', '.join(cell_cols)} FROM compare_cells WHERE run_id = ? ORDER BY id",
            (run_id,),
        ).fetchall()
        return (
            dict(zip(("id", *run_cols), row, strict=True)),
            [dict(zip(cell_cols, cell, strict=True)) for cell in cells],
        )

    def compare_runs(self, limit: int = 20) -> list[dict[str, object]]:
        """The newest comparison runs: id, created_at, source, status, rungs (JSON),
        prompts (how many), cells, total_usd, unknown."""
        rows = self.db.execute(
            """SELECT r.id, r.created_at, r.source, r.status, r.rungs,
                      (SELECT COUNT(DISTINCT prompt_index) FROM compare_cells
                       WHERE run_id = r.id), r.total_usd, r.unknown,
                      (SELECT COUNT(*) FROM compare_cells WHERE run_id = r.id)
               FROM compare_runs r ORDER BY r.id DESC LIMIT ?""",
            (limit,),
        ).fetchall()
        keys = ("id", "created_at", "source", "status", "rungs", "prompts", "total_usd",
                "unknown", "cells")  # fmt: skip
        return [dict(zip(keys, row, strict=True)) for row in rows]

    def replies_since(self, since: datetime | None = None) -> list[StoredMessage]:
        """Every finished reply (any session) since a moment, oldest first, with its
        usage: what `rung cost --what-if` re-prices."""
        query = """SELECT role, content, tier, model, cost_usd, estimated, finish_reason, error,
                          kind, provider, input_tokens, output_tokens, cached_input_tokens,
                          cache_write_tokens, reasoning_tokens, reference_usd, price_basis,
                          busy_s, reason, created_at, superseded, id, step_kind
                   FROM messages WHERE role = 'assistant' AND finish_reason != ?"""
        args: tuple[str, ...] = (STREAMING,)
        if since is not None:
            query += " AND created_at >= ?"
            args = (STREAMING, since.astimezone(UTC).isoformat())
        rows = self.db.execute(query + " ORDER BY id", args).fetchall()
        return [
            StoredMessage(
                role, "", tier, model, _decimal(cost), bool(est), finish, error, kind,
                provider, inp or 0, out or 0, cached or 0, written or 0, reasoning or 0,
                _decimal(reference), basis, busy or 0.0, reason, created or "", bool(gone),
                row_id, step or "",
            )
            for (role, _content, tier, model, cost, est, finish, error, kind, provider, inp,
                 out, cached, written, reasoning, reference, basis, busy, reason, created, gone,
                 row_id, step)
            in rows
        ]  # fmt: skip


def start_of_today(now: datetime | None = None) -> datetime:
    """Local midnight: a "day" budget follows the user's clock."""
    now = (now or datetime.now().astimezone()).astimezone()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def start_of_week(now: datetime | None = None) -> datetime:
    today = start_of_today(now)
    return today - timedelta(days=today.weekday())


def open_store(data_dir: Path) -> Store:
    """Open (and create or migrate) the history. Raises StoreError with a clear message."""
    return Store(data_dir / DB_NAME)
