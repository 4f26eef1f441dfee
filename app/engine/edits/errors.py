"""Why an edit was refused: exceptions whose message a user reads as it is.

Every refusal in this package is an ``EditError``; the subclasses let a caller tell the
kinds apart (a path that leads outside the project is not the same as a file someone
else changed). ``str(error)`` is a complete sentence, never a traceback.
"""

from __future__ import annotations


class EditError(Exception):
    """A refusal to read, change or restore a file; the message is for the user."""


class UnsafePathError(EditError):
    """A path that leaves the project directory, goes into ``.git`` or is not a file."""


class NotTextError(EditError):
    """A binary or non-UTF-8 file: Rung never edits those."""


class ChangedOnDiskError(EditError):
    """The file on disk is not what the caller expected (someone else changed it)."""

    def __init__(self, path: str, how: str) -> None:
        super().__init__(f"{path} was {how} by something else")
        self.path = path
        self.how = how  # "changed", "deleted" or "created"


class WriteError(EditError):
    """Writing failed part way; the message says what was restored."""

    def __init__(self, message: str, clean: bool = True) -> None:
        super().__init__(message)
        self.clean = clean  # every file is as it was before; False: some could not be restored


class JournalError(EditError):
    """The undo journal could not be read or written."""
