"""What kind of step the agent is about to take, from what the turn did so far.

Per-step routing (``step_router.py``) prices and gates each step by its kind:

- **plan**: the first step of a task; the step after a command failed (a red test run, a
  timeout) once the turn had changed files — the change did not work; and the step
  after the model said it needs to rethink. Deciding what to do is where a weak model
  costs the most.
- **act**: tool calls that follow a plan (read, search, edit, run) — including the step
  after a test run that fails before anything was edited (reproducing the problem is
  part of the plan, not its failure) and after a tool's own error (a path not found, an
  edit whose old text did not match: the step's rung corrects it).
- **answer**: the step that most likely ends the turn: after the project's commands
  passed following an edit, or the last step the limit allows.
- **digest**: condensing text for the agent itself (compaction's summary); never a
  step of the model's own choosing, so ``step_kind`` never returns it.

Pure: the loop passes what the last step's tools did (``ToolOutcome``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

STEP_KINDS = ("plan", "act", "digest", "answer")

# A model saying it needs another approach: plan again on a strong rung.
RETHINK = re.compile(
    r"\b(re-?think|re-?plan|step back|different approach|another approach|start over|"
    r"(?:that|this|it) (?:didn't|did not|doesn't|does not) work)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ToolOutcome:
    """One finished tool call, as step routing reads it."""

    tool: str
    is_error: bool
    exit_code: int | None = None  # a command's, when it ran to the end
    changed: bool = False  # it changed files

    @property
    def failed(self) -> bool:
        return self.is_error or bool(self.exit_code)


def step_kind(
    step: int,
    last: Sequence[ToolOutcome],
    last_text: str,
    edited_this_turn: bool,
    steps_left: int,
) -> tuple[str, str]:
    """(kind, why) for step ``step`` (1-based) of a turn, given the previous step's tool
    outcomes and text, whether the turn changed files so far, and the steps left after
    this one."""
    if step == 1:
        return "plan", "first step of the task"
    if edited_this_turn and any(o.tool == "run" and o.failed for o in last):
        return "plan", "a command failed after the edits"
    if RETHINK.search(last_text or ""):
        return "plan", "the model asked to rethink"
    if steps_left <= 0:
        return "answer", "the last step the limit allows"
    ran = [o for o in last if o.tool == "run"]
    if edited_this_turn and ran and all(o.exit_code == 0 for o in ran):
        return "answer", "the commands passed after the edits"
    return "act", "follows the plan"
