"""What applying, undoing or redoing did, as a value a UI or CLI shows as it is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    ok: bool
    message: str  # one or a few sentences for the user; says "nothing was changed" on refusal
    paths: tuple[str, ...] = ()  # files written, created or removed (relative to the root)
    entry_id: int | None = None  # the journal entry this made or used, when there is one
