"""Reading conversations back from the history: the list of sessions (with what each
cost and saved) and a session's messages, or every finished reply since a moment.

A mixin of ``Store`` (store.py), which opens the database these queries read.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from rung.engine.store_schema import STREAMING


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


# The columns a StoredMessage is read from, in the order of its fields.
_MESSAGE_COLUMNS = """role, content, tier, model, cost_usd, estimated, finish_reason, error,
    kind, provider, input_tokens, output_tokens, cached_input_tokens, cache_write_tokens,
    reasoning_tokens, reference_usd, price_basis, busy_s, reason, created_at, superseded, id,
    step_kind"""


def _decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _stored_message(row: tuple[Any, ...], *, content: bool = True) -> StoredMessage:
    """One row of ``_MESSAGE_COLUMNS``; ``content=False`` leaves the text out."""
    (role, text, tier, model, cost, est, finish, error, kind, provider, inp, out, cached,
     written, reasoning, reference, basis, busy, reason, created, gone, row_id,
     step) = row  # fmt: skip
    return StoredMessage(
        role, text if content else "", tier, model, _decimal(cost), bool(est), finish, error,
        kind, provider, inp or 0, out or 0, cached or 0, written or 0, reasoning or 0,
        _decimal(reference), basis, busy or 0.0, reason, created or "", bool(gone), row_id,
        step or "",
    )  # fmt: skip


class HistoryReads:
    """Conversations read back: mixed into Store, which opens ``db``."""

    db: sqlite3.Connection

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
            f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE session_id = ? ORDER BY id",
            (session_id,),
        ).fetchall()
        return [_stored_message(row) for row in rows]

    def replies_since(self, since: datetime | None = None) -> list[StoredMessage]:
        """Every finished reply (any session) since a moment, oldest first, with its
        usage (not its text): what `rung cost --what-if` re-prices."""
        query = (
            f"SELECT {_MESSAGE_COLUMNS} FROM messages"
            " WHERE role = 'assistant' AND finish_reason != ?"
        )
        args: tuple[str, ...] = (STREAMING,)
        if since is not None:
            query += " AND created_at >= ?"
            args = (STREAMING, since.astimezone(UTC).isoformat())
        rows = self.db.execute(query + " ORDER BY id", args).fetchall()
        return [_stored_message(row, content=False) for row in rows]
