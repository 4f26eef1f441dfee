"""Sessions and messages in SQLite: every message with its usage and cost.

One file in the data directory, WAL mode (the TUI and `rung ask` may write at once),
schema versioned with ``PRAGMA user_version`` and migrated step by step. Money is
stored as decimal strings and summed as Decimal, never as floats.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from rung.tiers.meter import MessageCost

DB_NAME = "rung.db"

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
]


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
    first_question: str
    messages: int
    spent: Decimal


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


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db = sqlite3.connect(path, timeout=10, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            # One transaction per step: a failed migration leaves the old schema intact.
            try:
                self.db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
            except BaseException:
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                raise

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

    def add_user_message(self, session_id: int, content: str) -> None:
        self.db.execute(
            "INSERT INTO messages (session_id, created_at, role, content) VALUES (?, ?, ?, ?)",
            (session_id, datetime.now(UTC).isoformat(), "user", content),
        )

    def add_reply(
        self, session_id: int, content: str, record: MessageCost, error: str | None = None
    ) -> None:
        u = record.usage
        self.db.execute(
            """INSERT INTO messages (session_id, created_at, role, content, tier, kind,
               provider, model, input_tokens, output_tokens, cached_input_tokens,
               cache_write_tokens, reasoning_tokens, estimated, cost_usd, reference_usd,
               price_basis, finish_reason, busy_s, error)
               VALUES (?, ?, 'assistant', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (
                session_id,
                record.when.astimezone(UTC).isoformat(),
                content,
                record.tier,
                record.kind,
                record.provider,
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
                record.finish_reason,
                record.busy_s,
                error,
            ),
        )

    # -- reading ---------------------------------------------------------------
    def spend(self, since: datetime | None = None) -> list[SpendRow]:
        """Spend by tier and model since a moment (all time when None)."""
        query = "SELECT tier, model, cost_usd, estimated FROM messages WHERE role = 'assistant'"
        args: tuple[str, ...] = ()
        if since is not None:
            query += " AND created_at >= ?"
            args = (since.astimezone(UTC).isoformat(),)
        groups: dict[tuple[str, str], list[int | Decimal]] = defaultdict(
            lambda: [Decimal(0), 0, 0, 0]
        )
        for tier, model, cost, estimated in self.db.execute(query, args):
            g = groups[(tier or "?", model or "?")]
            g[1] += 1
            if cost is None:
                g[2] += 1
            else:
                g[0] += Decimal(cost)
            g[3] += int(bool(estimated))
        return [
            SpendRow(tier, model, Decimal(g[0]), int(g[1]), int(g[2]), int(g[3]))
            for (tier, model), g in sorted(groups.items())
        ]

    def sessions(self, limit: int = 20) -> list[SessionSummary]:
        """The most recent sessions that have messages, newest first."""
        rows = self.db.execute(
            """SELECT s.id, s.started_at, s.source,
                      (SELECT content FROM messages WHERE session_id = s.id AND role = 'user'
                       ORDER BY id LIMIT 1),
                      (SELECT COUNT(*) FROM messages WHERE session_id = s.id)
               FROM sessions s
               WHERE EXISTS (SELECT 1 FROM messages WHERE session_id = s.id)
               ORDER BY s.id DESC LIMIT ?""",
            (limit,),
        ).fetchall()
        out = []
        for sid, started, source, first, count in rows:
            costs = self.db.execute(
                "SELECT cost_usd FROM messages WHERE session_id = ? AND cost_usd IS NOT NULL",
                (sid,),
            ).fetchall()
            spent = sum((Decimal(c) for (c,) in costs), Decimal(0))
            out.append(SessionSummary(sid, started, source, first or "", count, spent))
        return out

    def transcript(self, session_id: int) -> list[StoredMessage]:
        rows = self.db.execute(
            """SELECT role, content, tier, model, cost_usd, estimated, finish_reason, error
               FROM messages WHERE session_id = ? ORDER BY id""",
            (session_id,),
        ).fetchall()
        return [
            StoredMessage(role, content, tier, model,
                          None if cost is None else Decimal(cost), bool(est), finish, error)
            for role, content, tier, model, cost, est, finish, error in rows
        ]  # fmt: skip

    def spent_since(self, since: datetime) -> Decimal:
        return sum((row.usd for row in self.spend(since)), Decimal(0))


def start_of_today(now: datetime | None = None) -> datetime:
    """Local midnight: a "day" budget follows the user's clock."""
    now = (now or datetime.now().astimezone()).astimezone()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def start_of_week(now: datetime | None = None) -> datetime:
    today = start_of_today(now)
    return today - timedelta(days=today.weekday())


def open_store(data_dir: Path) -> Store:
    return Store(data_dir / DB_NAME)
