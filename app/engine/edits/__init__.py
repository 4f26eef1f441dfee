"""Proposed code edits: parse them from a reply, match them to files, apply and undo.

The flow: ``edit_instructions`` goes into the system prompt; ``StreamParser`` (or
``parse_partial``) counts complete blocks while a reply streams; ``propose`` turns the
finished reply into a ``Proposal`` to review hunk by hunk; ``apply_proposal`` writes
the accepted hunks and records them in a ``Journal``, whose ``undo``/``redo`` restore
exact bytes, also after a restart. ``policy`` says what a proposal may touch (never
Rung's own files, keys, shell start-up files or anything outside the project; files
that run code only after their own yes); ``build_proposal`` applies it.
"""

from rung.engine.edits.apply import apply_proposal, default_title
from rung.engine.edits.errors import (
    ChangedOnDiskError,
    EditError,
    JournalError,
    NotTextError,
    UnsafePathError,
    WriteError,
)
from rung.engine.edits.hunks import Hunk
from rung.engine.edits.journal import Journal, JournalEntry, JournalFile
from rung.engine.edits.outcome import Outcome
from rung.engine.edits.parse import (
    Edit,
    ParseProblem,
    ParseResult,
    StreamParser,
    parse_partial,
    parse_reply,
)
from rung.engine.edits.prompt import EDIT_INSTRUCTIONS, edit_instructions
from rung.engine.edits.review import DiskState, FileProposal, Proposal, build_proposal, propose

__all__ = [
    "EDIT_INSTRUCTIONS",
    "ChangedOnDiskError",
    "DiskState",
    "Edit",
    "EditError",
    "FileProposal",
    "Hunk",
    "Journal",
    "JournalEntry",
    "JournalError",
    "JournalFile",
    "NotTextError",
    "Outcome",
    "ParseProblem",
    "ParseResult",
    "Proposal",
    "StreamParser",
    "UnsafePathError",
    "WriteError",
    "apply_proposal",
    "build_proposal",
    "default_title",
    "edit_instructions",
    "parse_partial",
    "parse_reply",
    "propose",
]
