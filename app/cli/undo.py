"""`rung undo`: put back the files the last applied edit changed, exactly; `--redo`
applies it again; `--list` shows what was applied here. Printing only."""

from __future__ import annotations

import sys
from pathlib import Path

from rung.engine.edits import JournalError
from rung.engine.safe_text import for_terminal
from rung.engine.workspace import edits_journal


def run_undo(*, redo: bool = False, listing: bool = False) -> int:
    journal = edits_journal(Path.cwd())
    if listing:
        try:
            entries = journal.history()
        except JournalError as exc:
            print(f"rung undo: {for_terminal(str(exc))}", file=sys.stderr)
            return 1
        if not entries:
            print(f"No edits applied by Rung in {Path.cwd()}.")
            return 0
        for entry in entries:
            print(for_terminal(entry.describe()))
        return 0
    outcome = journal.redo() if redo else journal.undo()
    stream = sys.stdout if outcome.ok else sys.stderr
    print(("" if outcome.ok else "rung undo: ") + for_terminal(outcome.message), file=stream)
    return 0 if outcome.ok else 1
