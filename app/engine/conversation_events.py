"""What the conversation engine tells its listeners while it answers.

Listeners receive the tier events (``TextDelta``, ``Usage``, ``Notice``, ``Finished``,
``Failed``) and these: ``Routed`` (an attempt begins), ``LiveCost``, ``FallingBack``
(engine/fallback.py), ``Recorded`` (an attempt ended and was priced), ``StoreProblem``
and ``EditsProposed``. No Textual here: the chat screen and `rung ask` both listen.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from rung.engine.fallback import FallingBack
from rung.tiers.base import Event, Reply
from rung.tiers.meter import MessageCost

if TYPE_CHECKING:
    # The coding assistant's parser loads with the first reply about attached files.
    from rung.engine.edits import ParseResult


@dataclass(frozen=True)
class Routed:
    """An attempt begins on ``tier`` (the first, a fallback, or an escalation)."""

    tier: str
    model: str
    reason: str
    attempt: int
    escalation: bool = False


@dataclass(frozen=True)
class LiveCost:
    """The running (estimated) cost of the reply in flight."""

    record: MessageCost


@dataclass(frozen=True)
class Recorded:
    """An attempt ended (however it ended) and was priced and recorded."""

    tier: str
    reply: Reply
    record: MessageCost
    reason: str
    last: bool  # no fallback attempt follows


@dataclass(frozen=True)
class StoreProblem:
    message: str


@dataclass(frozen=True)
class EditsProposed:
    """The final reply proposes changes to files ("3 edits to 2 files"): review them."""

    result: ParseResult


EngineEvent = Event | Routed | LiveCost | FallingBack | Recorded | StoreProblem | EditsProposed
Listener = Callable[[EngineEvent], Awaitable[None] | None]
