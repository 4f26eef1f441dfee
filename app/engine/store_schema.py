"""The history's schema: its migration steps, in order, and the reply states it keys on.

``PRAGMA user_version`` counts the steps a file has had (``Store`` applies the rest,
one transaction each). A released step is never edited: SQLite keeps each CREATE
statement's text in the file, and files written by older versions must still open and
migrate the same way. A new column or table is a new step at the end.
"""

from __future__ import annotations

# A reply's finish_reason while its writer streams it, and once that writer is gone.
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
