"""`rung compare` runs in the history: a run and its cells written in one transaction,
read back whole (`rung compare --show`) or listed newest first.

A mixin of ``Store`` (store.py), which opens the database these queries use. What the
money in a run counts toward (budgets, `rung cost`) is store_spend.py's.
"""

from __future__ import annotations

import sqlite3


class CompareRuns:
    """Comparison runs, kept and read back: mixed into Store, which opens ``db``."""

    db: sqlite3.Connection

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
