"""What sending a message is made of: the options every request carries and the
request built with them, the ``Plan`` the engine commits to (or the ``Refusal`` that
sends nothing), and the ``Outcome`` its attempts came to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rung.engine.conversation_attempt import Attempt
from rung.engine.conversation_history import attached_paths
from rung.tiers.base import ChatRequest, Message


@dataclass(frozen=True)
class ChatOptions:
    """What every request of this conversation carries."""

    system: str | None = None
    max_tokens: int = 2048
    temperature: float = 0.2
    fallback: bool = True


@dataclass(frozen=True)
class Plan:
    """A question the engine has committed to send."""

    request: ChatRequest
    question: str
    tier: str
    reason: str
    # The answer replaces the last one (escalation, regeneration): no new question.
    escalation: bool = False
    # The question replaces the last exchange (edited and sent again).
    replaces_last: bool = False


@dataclass(frozen=True)
class Refusal:
    """Nothing was sent; ``message`` says why (budget, nothing to escalate, busy)."""

    message: str
    kind: str = "info"  # "budget", "busy", "nothing", "top", "key"


@dataclass
class Outcome:
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def final(self) -> Attempt:
        return self.attempts[-1]


def build_request(options: ChatOptions, messages: list[Message]) -> ChatRequest:
    """The request for ``messages`` with these options; when files are attached, with
    the instructions for proposing changes to them."""
    system = options.system or None
    attached = attached_paths(messages)
    if attached:
        from rung.engine.edits import edit_instructions  # loaded when files are attached

        # Files are in the conversation: ask for changes in a form Rung can review
        # hunk by hunk and apply (see engine/edits).
        system = (
            f"{system}\n\n{edit_instructions(attached)}"
            if system
            else (edit_instructions(attached))
        )
    return ChatRequest(
        messages=tuple(messages),
        system=system,
        max_tokens=options.max_tokens,
        temperature=options.temperature,
    )
