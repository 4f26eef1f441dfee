"""The conversation as the model sees it, from what was stored: a resumed session's
questions and answers, when its last answer ended, and the files attached in it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rung.engine.attachments import split_attached
from rung.engine.store_history import StoredMessage
from rung.tiers.base import Message


def stored_timestamp(iso: str) -> float | None:
    """A stored UTC ISO 8601 time as seconds since the epoch (None if unreadable)."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def attached_paths(messages: list[Message]) -> list[str]:
    """The files attached anywhere in the conversation, each once, in order."""
    names: dict[str, None] = {}
    for m in messages:
        if m.role == "user":
            names.update(dict.fromkeys(split_attached(m.content)[1]))
    return list(names)


def history_from_store(stored: list[StoredMessage]) -> list[Message]:
    """The conversation as the model should see it again: each question, then the last
    answer it got (a fallback or an escalation replaced the earlier attempts)."""
    history: list[Message] = []
    for m in stored:
        if m.role == "user":
            history.append(Message("user", m.content))
        elif m.content:
            if history and history[-1].role == "assistant":
                history[-1] = Message("assistant", m.content)
            else:
                history.append(Message("assistant", m.content))
    return history
