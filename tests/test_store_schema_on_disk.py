"""The history file's format: a released schema step is never edited, and a file left by
any older Rung opens, migrates and reads back whole (what was asked, answered and spent)."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from rung.engine.store import MIGRATIONS, SCHEMA_VERSION, Store

# sha256 of each released step's text, the same in every version of store.py since the
# step was added (git log -- app/engine/store.py). SQLite keeps a CREATE statement's text
# in the file: an edited step would leave old and new files with different schemas. A new
# step is added at the end of MIGRATIONS, and its digest here once it is released.
RELEASED_STEPS = (
    "dde7f47e600890c7363a309134e91bfee2effbb8fa8d98f2cb05fb537ccc64bc",
    "a5440a75a84c0325d6fd6e4154d2c2e30952a058f7c760e0228734931ac8f516",
    "5199c7c7e3d37aa12742e9b425ff7ba40a9933e57db4bdd7f3d854319ef90336",
    "1c795a9527af35f2ca13ad8bcebaee60dcc10f635008d45894605003afe18ff4",
    "66aef309bfbdef401a7d876718ccdc375574abfce605d276a633765bb44279bb",
    "583759d5cd0648485fc1f49a9d2c4f3a38e1c8123d9851a60e9812f387290765",
    "fb40b9d3eddaaeb6ae19cc19739de29c83897df722a0c63a29708a3cce7492ef",
)


def test_released_schema_steps_are_never_edited() -> None:
    assert len(MIGRATIONS) >= len(RELEASED_STEPS)
    for number, digest in enumerate(RELEASED_STEPS, start=1):
        text = MIGRATIONS[number - 1]
        assert hashlib.sha256(text.encode()).hexdigest() == digest, f"step {number} was edited"


def older_file(path: Path, version: int) -> None:
    """A history file as the Rung of schema ``version`` left it: one priced exchange,
    written with only the columns that version had."""
    db = sqlite3.connect(path, isolation_level=None)
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
    db.execute(
        "INSERT INTO sessions (started_at, source, title) VALUES (?, 'tui', NULL)",
        ("2026-11-20T10:00:00+00:00",),
    )
    db.execute(
        "INSERT INTO messages (session_id, created_at, role, content) VALUES (1, ?, 'user', ?)",
        ("2026-11-20T10:00:01+00:00", "Is 91 prime?"),
    )
    db.execute(
        """INSERT INTO messages (session_id, created_at, role, content, tier, kind, provider,
           model, input_tokens, output_tokens, estimated, cost_usd, reference_usd,
           price_basis, finish_reason)
           VALUES (1, ?, 'assistant', ?, 'deepseek', 'remote', 'deepseek', 'deepseek-v4-flash',
           12, 9, 0, '0.0003', '0.0100', 'tokens', 'stop')""",
        ("2026-11-20T10:00:02+00:00", "No: 7 x 13."),
    )
    db.close()


def schema(path: Path) -> list[tuple[str, str, str]]:
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
    finally:
        db.close()


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_a_file_from_an_older_rung_opens_with_its_history(tmp_path: Path, version: int) -> None:
    path = tmp_path / "rung.db"
    older_file(path, version)
    store = Store(path)
    try:
        assert store.schema_version == SCHEMA_VERSION
        question, answer = store.transcript(1)
        assert (question.role, question.content) == ("user", "Is 91 prime?")
        assert (answer.content, answer.model, answer.finish_reason) == (
            "No: 7 x 13.", "deepseek-v4-flash", "stop"
        )  # fmt: skip
        assert answer.cost_usd == Decimal("0.0003") and answer.output_tokens == 9
        assert not answer.superseded and answer.step_kind == ""
        [listed] = store.sessions()
        assert listed.first_question == "Is 91 prime?" and listed.messages == 2
        assert (listed.spent, listed.saved) == (Decimal("0.0003"), Decimal("0.0097"))
        assert store.spent_since(datetime(2026, 11, 1, tzinfo=UTC)) == Decimal("0.0003")
        # The migrated file takes what a new one takes: the conversation goes on.
        store.add_user_message(1, "And 97?")
        assert [m.content for m in store.transcript(1)][-1] == "And 97?"
    finally:
        store.close()
    Store(tmp_path / "new.db").close()
    assert schema(path) == schema(tmp_path / "new.db")
