"""`rung undo`: put back the files the last applied edit changed, exactly; `--redo`
applies it again; `--list` shows what was applied in this project. Works from any
folder inside the project (the journal is looked up from there). Printing only."""

from __future__ import annotations

import sys
from pathlib import Path

from rung.engine.edits import JournalError
from rung.engine.safe_text import for_terminal
from rung.engine.workspace import project_journal


def run_undo(*, redo: bool = False, listing: bool = False) -> int:
    journal = project_journal(Path.cwd())
    try:
        # An apply, undo or redo a killed process left half done is settled first (every
        # file back as before that edit); that settling is then what this command did.
        recovered = journal.recover()
    except JournalError as exc:
        print(f"rung undo: {for_terminal(str(exc))}", file=sys.stderr)
        return 1
    for outcome in recovered:
        print(f"rung undo: {for_terminal(outcome.message)}", file=sys.stderr)
    if recovered and not listing:
        return 0 if all(outcome.ok for outcome in recovered) else 1
    if listing:
        entries = journal.history()
        if not entries:
            print(f"No edits applied by Rung in {for_terminal(str(journal.root))}.")
            return 0
        for entry in entries:
            print(for_terminal(entry.describe()))
        return 0
    outcome = journal.redo() if redo else journal.undo()
    stream = sys.stdout if outcome.ok else sys.stderr
    print(("" if outcome.ok else "rung undo: ") + for_terminal(outcome.message), file=stream)
    return 0 if outcome.ok else 1
