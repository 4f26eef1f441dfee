"""One accepted reply as it is read: what it produced, its deadlines, and the reader
that keeps it within its limits (time, bytes per event and per reply, output past
``max_tokens``). Bodies are read as raw bytes: nothing is ever inflated."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from httpx_sse import ServerSentEvent

from .base import ChatRequest, Event, Failed, TextDelta, ToolCallReady, Usage
from .faults import clip, size_text
from .sse import EventTooLarge, SSEParser
from .usage_check import OUTPUT_SLACK, OUTPUT_SLACK_TOKENS

if TYPE_CHECKING:
    from .http import HttpOptions, RemoteTier


@dataclass
class StreamState:
    """What one reply has produced so far, as the protocol parser sees it."""

    chars: int = 0  # of the reply so far, for an estimate if no usage arrives
    deltas: int = 0
    # Reasoning text the provider streams but the reply does not show (billed as output).
    hidden_chars: int = 0
    usage: Usage | None = None
    finish_reason: str | None = None
    model: str = ""
    done: bool = False
    # The provider took the request: a 2xx event stream began. Before that, nothing
    # was used and nothing is charged.
    accepted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def output_estimate(self) -> int:
        return max(self.deltas, (self.chars + self.hidden_chars + 3) // 4)


@dataclass
class ReplyClock:
    """The deadlines of one reply, and the seconds the server spent on it (busy_s)."""

    options: HttpOptions
    started: float = field(default_factory=time.monotonic)
    busy_s: float = 0.0
    attempt_at: float | None = None
    progress_at: float = field(default_factory=time.monotonic)
    quiet_events: int = 0  # keep-alives and empty events since the last progress
    first_text_at: float | None = None

    @property
    def total_deadline(self) -> float:
        return self.started + self.options.total_timeout

    def begin_attempt(self) -> None:
        self.attempt_at = self.progress_at = time.monotonic()
        self.quiet_events = 0

    def end_attempt(self, server_worked: bool = True) -> None:
        """Count the attempt as busy time, unless the server never got it (no connection)."""
        if self.attempt_at is not None and server_worked:
            self.busy_s += time.monotonic() - self.attempt_at
        self.attempt_at = None

    def progress(self) -> None:
        self.progress_at = time.monotonic()
        self.quiet_events = 0

    def next_read(self) -> tuple[float, str]:
        """Seconds the next read may wait, and which limit that is ("idle" or "total")."""
        now = time.monotonic()
        idle = self.progress_at + self.options.idle_limit - now
        total = self.total_deadline - now
        return (idle, "idle") if idle < total else (total, "total")

    def fits(self, wait: float) -> bool:
        return time.monotonic() + wait < self.total_deadline


async def next_chunk(chunks: AsyncIterator[bytes], timeout: float) -> bytes | None:
    """The next piece of a body within ``timeout`` seconds, or None at its end.

    The timeout covers only this read (no ``yield`` inside it), so it can never fire
    while the caller is busy with an event it was handed.
    """
    if timeout <= 0:
        raise TimeoutError
    async with asyncio.timeout(timeout):
        try:
            return await anext(chunks)
        except StopAsyncIteration:
            return None


def content_coding(response: httpx.Response) -> str | None:
    """The content codings the server applied ("gzip", "gzip, gzip"), or None for an
    uncompressed body. Rung asks for ``identity`` and reads raw bytes: httpx would
    inflate whatever the server declares (a decoder per coding, stacked) before any of
    Rung's byte bounds saw the result, so a few KiB could become gigabytes."""
    declared = response.headers.get("content-encoding", "")
    codings = [c.strip().lower() for c in declared.split(",") if c.strip()]
    other = [c for c in codings if c != "identity"]
    return clip(", ".join(other), 60) if other else None


async def read_capped(response: httpx.Response, limit: int, timeout: float) -> bytes:
    """At most ``limit`` bytes of a body, whatever arrived within ``timeout`` seconds.

    Error pages and model lists are read through this: a body that never ends, or
    trickles, costs neither memory nor time beyond the bound. The bytes are the raw
    ones: a compressed body is not inflated (callers check ``content_coding`` first).
    """
    data = bytearray()
    chunks = response.aiter_raw()
    deadline = time.monotonic() + timeout
    try:
        while len(data) < limit:
            chunk = await next_chunk(chunks, deadline - time.monotonic())
            if chunk is None:
                break
            data += chunk
    except (TimeoutError, httpx.HTTPError):
        pass  # what arrived is all there is to show
    finally:
        await response.aclose()
    return bytes(data[:limit])


class ReplyReader:
    """Reads one accepted event stream within the reply's limits: the idle and total
    deadlines, bytes per event and per reply, and output past max_tokens."""

    def __init__(
        self,
        tier: RemoteTier,
        response: httpx.Response,
        request: ChatRequest,
        state: StreamState,
        clock: ReplyClock,
    ) -> None:
        o = tier.options
        self.tier = tier
        self.state = state
        self.clock = clock
        self.over_limit = False
        # Raw bytes: nothing is inflated (a compressed stream was refused before this).
        self._chunks = response.aiter_raw()
        self._parser = SSEParser(o.max_event_bytes)
        self._wire_limit = o.reply_byte_limit(request.max_tokens)
        self._wire_bytes = 0
        self._output_limit = OUTPUT_SLACK * request.max_tokens + OUTPUT_SLACK_TOKENS
        self._pending: StreamFailure | None = None  # raised after the text that came before it

    async def next_deltas(self) -> list[Event] | None:
        """The text of the next network read, or None when the reply is over."""
        if self._pending is not None:
            raise self._pending
        if self.state.done or self.over_limit:
            return None
        chunk = await self._read()
        if chunk is None:
            return None
        self._wire_bytes += len(chunk)
        if self._wire_bytes > self._wire_limit:
            raise StreamFailure(
                Failed(
                    f"{self.tier.label} sent more than {size_text(self._wire_limit)} for one "
                    "reply; Rung stopped reading it.",
                    kind="protocol",
                )
            )
        out: list[Event] = []
        try:
            for sse in self._feed(chunk):
                out += self._take(sse)
                if self.state.done or self.over_limit:
                    break
        except StreamFailure as failure:
            self._pending = failure
        return out

    def incomplete(self) -> Failed | None:
        """The failure of a stream that ended cleanly but before the reply did."""
        if self.state.done or self.state.finish_reason is not None or self.over_limit:
            return None
        return Failed(
            f"The {self.tier.label} stream ended before the reply was complete.",
            retryable=True,
            kind="network",
        )

    async def aclose(self) -> None:
        await self._chunks.aclose()  # type: ignore[attr-defined]

    def _take(self, sse: ServerSentEvent) -> list[Event]:
        state, clock = self.state, self.clock
        before = state.chars + state.hidden_chars
        deltas = self.tier.checked_parse(sse, state)
        for delta in deltas:
            if isinstance(delta, TextDelta | ToolCallReady) and clock.first_text_at is None:
                clock.first_text_at = time.monotonic()
            if isinstance(delta, TextDelta):  # tool arguments count as hidden_chars
                state.chars += len(delta.text)
                state.deltas += 1
        if state.chars + state.hidden_chars > before:
            clock.progress()
        else:
            clock.quiet_events += 1
        self.over_limit = state.output_estimate() > self._output_limit
        return deltas

    def _feed(self, chunk: bytes) -> list[ServerSentEvent]:
        comments = self._parser.comments
        try:
            events = self._parser.feed(chunk)
        except EventTooLarge as exc:
            raise StreamFailure(
                Failed(
                    f"{self.tier.label} sent {exc}; Rung stopped reading the reply.",
                    kind="protocol",
                )
            ) from None
        self.clock.quiet_events += self._parser.comments - comments
        return events

    async def _read(self) -> bytes | None:
        """The next bytes of the stream, within the idle and total deadlines."""
        timeout, which = self.clock.next_read()
        try:
            return await next_chunk(self._chunks, timeout)
        except TimeoutError:
            if self.state.finish_reason is not None:
                return None  # the reply is whole; only a usage chunk or [DONE] is missing
            failed = self.tier.deadline_failure(
                which, bool(self.state.deltas), self.clock.quiet_events
            )
            raise StreamFailure(failed) from None


class StreamFailure(Exception):
    """A reply's end as a ``Failed``, raised through the reading code to the tier."""

    def __init__(self, failed: Failed) -> None:
        super().__init__(failed.message)
        self.failed = failed
