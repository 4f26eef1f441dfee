"""Apply the accepted part of a proposal: every file checked first, then all written or
none, and recorded in the journal (when one is given) so it can be undone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rung.engine.edits.errors import ChangedOnDiskError, EditError, WriteError
from rung.engine.edits.journal import Journal
from rung.engine.edits.outcome import Outcome
from rung.engine.edits.paths import real_root
from rung.engine.edits.review import FileProposal, Proposal
from rung.engine.edits.writes import FileWrite, apply_writes


def default_title(files: Sequence[FileProposal]) -> str:
    """``Edit app/x.py``, ``Edit app/x.py and 2 more files``: a line for the undo list."""
    if not files:
        return "Edit nothing"
    verb = "Create" if all(f.is_new for f in files) else "Edit"
    first = files[0].path
    if len(files) == 1:
        return f"{verb} {first}"
    more = len(files) - 1
    return f"{verb} {first} and {more} more file{'' if more == 1 else 's'}"


def _describe(files: Sequence[FileProposal]) -> str:
    changed = [f.path for f in files if not f.is_new]
    created = [f.path for f in files if f.is_new]
    parts = ([f"changed {', '.join(changed)}"] if changed else []) + (
        [f"created {', '.join(created)}"] if created else []
    )
    return "; ".join(parts)


def apply_proposal(
    proposal: Proposal, journal: Journal | None = None, title: str | None = None
) -> Outcome:
    """Write the accepted hunks of ``proposal``; all files or none.

    Refuses (and writes nothing) when a file changed on disk since the proposal was
    made, a path is unsafe, or a file is not text. With a ``journal`` the apply is
    recorded and can be undone; without one it cannot. The message starts with what
    the journal settled first (an apply a killed process left half done, rolled back).
    """
    outcome = _apply(proposal, journal, title)
    notices = journal.take_notices() if journal is not None else []
    if notices:
        outcome = replace(outcome, message=" ".join([*notices, outcome.message]))
    return outcome


def _apply(proposal: Proposal, journal: Journal | None, title: str | None) -> Outcome:
    files = proposal.to_write
    if not files:
        return Outcome(False, "Nothing to apply: no accepted changes.")
    title = title or default_title(files)
    writes = [FileWrite(f.path, f.base, f.result_bytes()) for f in files]
    try:
        if journal is not None:
            if journal.root != real_root(proposal.root):
                return Outcome(
                    False,
                    f"Nothing was applied: the undo journal is for {journal.root}, "
                    f"the proposal for {proposal.root}.",
                )
            entry_id: int | None = journal.record(writes, title).id
        else:
            apply_writes(proposal.root, writes)
            entry_id = None
    except ChangedOnDiskError as exc:
        return Outcome(
            False,
            f"Nothing was applied: {exc} since the proposal was made. "
            "Look at the file as it is now and ask again.",
        )
    except WriteError as exc:
        tail = "" if exc.clean else " Some files may be half changed."
        return Outcome(False, f"Nothing was applied: {exc}.{tail}")
    except EditError as exc:
        return Outcome(False, f"Nothing was applied: {exc}.")
    paths = tuple(f.path for f in files)
    return Outcome(True, f"Applied “{title}”: {_describe(files)}.", paths, entry_id)
