"""The shapes every agent tool shares: what it needs, the plan of one call, its result.

A tool call runs in two halves so permission is asked about exactly what will happen:
``plan(arguments, context)`` checks the arguments and works out the call (the file and
line range, the diff of an edit, the exact command) without changing anything, and the
``Plan``'s ``execute`` does it. The dispatcher asks in between. A plan that cannot be made
(a path outside the project, an edit that matches twice) is a ``ToolResult`` error told
to the model.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rung.engine.agent.sandbox import Sandbox
    from rung.engine.edits.journal import Journal


class Need(StrEnum):
    """What a tool needs, declared by the tool (not probed): the permission rules' kinds."""

    READ = "read"
    EDIT = "edit"
    RUN = "run"
    MCP = "mcp"  # a tool of an MCP server (rules: mcp:SERVER/TOOL)


@dataclass(frozen=True)
class ToolResult:
    text: str  # for the model (sanitised, bounded and masked by the dispatcher)
    summary: str  # one line for the screen: `read app/x.py 1-120`, `run pytest -q → exit 1`
    is_error: bool = False
    files_changed: tuple[str, ...] = ()  # relative to the project root
    exit_code: int | None = None  # a command's, when it ran to the end (step routing reads it)


def failed(text: str, summary: str) -> ToolResult:
    """An error result: told to the model, never raised."""
    return ToolResult(text, summary, is_error=True)


@dataclass
class ToolContext:
    """What tools run against; one per agent session (``turn`` changes per user turn)."""

    root: Path  # the project root; every path is confined to it
    journal: Journal | None = None  # file changes go through it (None: edits refused)
    turn: str | None = None  # the user turn: its edits are one undo step
    sandbox: Sandbox | None = None  # None: commands not sandboxed
    run_timeout: float = 120.0  # seconds a command may take unless the call asks less
    max_run_timeout: float = 600.0  # the most a call may ask for
    allow_network: bool = False  # commands reach the network (only under the sandbox)
    output_cap: int = 64 * 1024  # bytes of a command's output the model sees
    # Paths a `read:` deny rule forbids (relative to the root): left out of listings and
    # search hits too, not only refused to `read`. Set by the dispatcher.
    hidden: Callable[[str], bool] = lambda _path: False

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()


@dataclass
class Plan:
    """One checked call, ready to run once permission is given."""

    need: Need
    subject: str  # what permission rules match: a relative path or the command
    summary: str  # the one line shown while asking and after
    execute: Callable[[], Awaitable[ToolResult]]
    detail: str = ""  # what the approval shows in full: a diff, the exact command
    # Why only an explicit yes for this one call may allow it (never a rule, never
    # "always"): a runs-code file, `.git` internals.
    sensitive: str | None = None
    read_only: bool = False  # an MCP tool its server marks read-only (plan mode runs it)
