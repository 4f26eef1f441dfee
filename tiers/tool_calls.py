"""Streamed tool calls, put together piece by piece and bounded.

Every dialect streams a call's arguments in fragments (OpenAI by ``index``, Anthropic by
content block) or whole (Gemini). ``CallAssembly`` keeps the open calls of one reply and
hands out each one only when it is complete, so a stream cut mid-call never yields half
a call. Bounds: a call's arguments at most ``MAX_ARGUMENT_BYTES``, at most
``MAX_CALLS`` calls in one reply; past either the reply fails with a clear message.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .base import Failed, PrivatePart, ToolCall, ToolCallReady

if TYPE_CHECKING:  # reply.py imports httpx: the local tier (text protocol) starts without it
    from .reply import StreamState


def _failure(failed: Failed) -> Exception:
    from .reply import StreamFailure

    return StreamFailure(failed)


MAX_ARGUMENT_BYTES = 1024 * 1024
MAX_CALLS = 64


def new_call_id() -> str:
    """An id for a call whose provider sent none (Gemini's are optional). The "rung-"
    prefix tells the Gemini renderer not to send it back as if Gemini had made it."""
    return f"rung-{uuid.uuid4().hex[:16]}"


@dataclass
class OpenCall:
    key: object  # the dialect's handle: OpenAI's index, Anthropic's block index
    id: str
    name: str
    parts: list[str] = field(default_factory=list)
    size: int = 0


class CallAssembly:
    """The tool calls of one reply: open ones (arguments still arriving) and the count
    of those already handed out."""

    def __init__(self, label: str, origin: str) -> None:
        self.label = label
        self.origin = origin
        self.open: dict[object, OpenCall] = {}
        self.ready = 0

    def start(self, key: object, call_id: str, name: str) -> None:
        if self.ready + len(self.open) >= MAX_CALLS:
            raise _failure(
                Failed(
                    f"{self.label} asked for more than {MAX_CALLS} tool calls in one reply; "
                    "Rung stopped reading it.",
                    kind="protocol",
                )
            )
        self.open[key] = OpenCall(key, call_id or new_call_id(), name)

    def add(self, key: object, fragment: str, state: StreamState) -> None:
        """A piece of a call's arguments (counted as billed output that is not shown)."""
        call = self.open.get(key)
        if call is None or not fragment:
            return
        call.size += len(fragment.encode("utf-8", "surrogatepass"))
        if call.size > MAX_ARGUMENT_BYTES:
            raise _failure(
                Failed(
                    f"{self.label} sent more than {MAX_ARGUMENT_BYTES // 1024} KiB of arguments "
                    f"for one tool call ({call.name!r}); Rung stopped reading the reply.",
                    kind="protocol",
                )
            )
        call.parts.append(fragment)
        state.hidden_chars += len(fragment)

    def name(self, key: object, name: str) -> None:
        call = self.open.get(key)
        if call is not None and name and not call.name:
            call.name = name

    def finish(self, key: object, private: tuple[PrivatePart, ...] = ()) -> ToolCallReady | None:
        """The complete call under ``key`` (None if there is none)."""
        call = self.open.pop(key, None)
        if call is None:
            return None
        self.ready += 1
        arguments = "".join(call.parts)
        return ToolCallReady(ToolCall(call.id, call.name, arguments, self.origin, private))

    def finish_all(self) -> list[ToolCallReady]:
        """Every open call, in the order they began (a finish reason ends them all)."""
        return [ready for key in list(self.open) if (ready := self.finish(key)) is not None]

    def whole(
        self,
        call_id: str,
        name: str,
        arguments: str,
        state: StreamState,
        private: tuple[PrivatePart, ...] = (),
    ) -> ToolCallReady:
        """A call that arrived in one piece (Gemini), checked against the same bounds."""
        key = object()
        self.start(key, call_id, name)
        self.add(key, arguments, state)
        ready = self.finish(key, private)
        assert ready is not None
        return ready
