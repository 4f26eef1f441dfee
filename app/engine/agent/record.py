"""An agent turn in the history: each step is a reply row (priced, counted by `rung cost`
like any chat reply), and its tool calls and their results ride on that row as JSON
(``messages.agent``), written as they happen. So a turn stopped anywhere — Esc, a cut
stream, kill -9 — leaves a transcript that ``rebuild`` turns back into messages and
the next run picks up where it stopped.

What a stopped turn leaves, and how it comes back:

- a step whose stream did not finish (cut, killed): its row is marked interrupted or
  failed and carries no calls; it is left out (the model is asked again);
- a call that never returned (killed while it ran): its result says it was stopped
  and its outcome is unknown, so the model checks before it repeats it;
- everything else comes back exactly as the model saw it (append-only: a resumed turn
  keeps the earlier prefix, and with it the provider's prompt cache).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rung.engine.recorder import Handle
from rung.engine.session import Session
from rung.engine.store import StoredMessage
from rung.tiers.base import Message, PrivatePart, ToolCall

LOST = (
    "Rung was stopped while this call ran (its result was lost). It may or may not have "
    "taken effect: check before you repeat it."
)


@dataclass
class StepRecord:
    """One step's calls (with the provider-private parts the next request must send back)
    and the results so far, as stored on its reply row."""

    calls: list[ToolCall]
    private: tuple[PrivatePart, ...] = ()
    results: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_json(self) -> str:
        calls = [
            {"id": c.id, "name": c.name, "arguments": c.arguments, "origin": c.origin,
             "private": [_part(p) for p in c.private]}
            for c in self.calls
        ]  # fmt: skip
        return json.dumps(
            {"calls": calls, "private": [_part(p) for p in self.private], "results": self.results},
            ensure_ascii=False,
        )


def _part(part: PrivatePart) -> dict[str, str]:
    return {"provider": part.provider, "model": part.model, "kind": part.kind, "data": part.data}


def _parts(raw: Any) -> tuple[PrivatePart, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        PrivatePart(str(p.get("provider", "")), str(p.get("model", "")), str(p.get("kind", "")),
                    str(p.get("data", "")))
        for p in raw if isinstance(p, dict)
    )  # fmt: skip


def save_step(session: Session, handle: Handle, step: StepRecord) -> None:
    """Write the step's calls and results on its row (through the history's thread)."""
    if session.recorder is None:
        return
    data = step.as_json()

    def write(store: Any) -> None:
        if handle.row_id is not None:
            store.set_agent_step(handle.row_id, data)

    session.recorder.submit(write)


def _calls(data: dict[str, Any]) -> list[ToolCall]:
    calls = []
    for raw in data.get("calls") or []:
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            calls.append(
                ToolCall(raw["id"], str(raw.get("name", "")), str(raw.get("arguments", "")),
                         str(raw.get("origin", "")), _parts(raw.get("private")))
            )  # fmt: skip
    return calls


def rebuild(stored: Sequence[StoredMessage], steps: dict[int, str]) -> list[Message]:
    """The transcript of a stored agent session (see the module docstring)."""
    messages: list[Message] = []
    for row in stored:
        if row.superseded:
            continue
        if row.role == "user":
            if messages and messages[-1].role == "user":  # the step between them was lost
                last = messages.pop()
                messages.append(Message("user", f"{last.content}\n\n{row.content}"))
            else:
                messages.append(Message("user", row.content))
            continue
        try:
            data = json.loads(steps[row.row_id]) if row.row_id in steps else None
        except ValueError:
            data = None
        calls = _calls(data) if isinstance(data, dict) else []
        if not calls:
            ended = row.error is None and row.finish_reason not in ("interrupted", "streaming")
            if ended and row.content:
                messages.append(Message("assistant", row.content))
            continue
        assert isinstance(data, dict)
        private = _parts(data.get("private"))
        messages.append(Message("assistant", row.content, tool_calls=tuple(calls), private=private))
        results = data.get("results") if isinstance(data, dict) else None
        results = results if isinstance(results, dict) else {}
        for call in calls:
            got = results.get(call.id)
            if isinstance(got, dict) and isinstance(got.get("text"), str):
                messages.append(tool_message(call, got["text"], bool(got.get("is_error"))))
            else:
                messages.append(tool_message(call, LOST, True))
    return messages


@dataclass(frozen=True)
class StoredCall:
    """One stored tool call as the chat shows it again (a resumed session): the call,
    and its one-line summary, outcome and output (LOST when it never returned)."""

    call: ToolCall
    summary: str
    is_error: bool
    text: str


def stored_calls(raw: str) -> list[StoredCall]:
    """The calls on a step's row (``messages.agent``), in order, with their results;
    [] for a row without calls or with JSON that does not parse."""
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    if not isinstance(data, dict):
        return []
    results = data.get("results")
    results = results if isinstance(results, dict) else {}
    found = []
    for call in _calls(data):
        got = results.get(call.id)
        if isinstance(got, dict) and isinstance(got.get("text"), str):
            summary = str(got.get("summary") or call.name)
            found.append(StoredCall(call, summary, bool(got.get("is_error")), got["text"]))
        else:
            found.append(StoredCall(call, f"{call.name} → lost", True, LOST))
    return found


def tool_message(call: ToolCall, text: str, is_error: bool) -> Message:
    return Message("tool", text, tool_call_id=call.id, name=call.name, is_error=is_error)
