"""Server-sent events from bytes, with a bound on what one event may hold."""

from __future__ import annotations

import re

from httpx_sse import ServerSentEvent

from .faults import size_text

# The UTF-8 byte order mark a stream may start with (the SSE rules say: drop it).
BOM = b"\xef\xbb\xbf"


class EventTooLarge(Exception):
    """A server-sent event (or a line without an end) grew past the per-event bound."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an event larger than {size_text(limit)}")
        self.limit = limit


class SSEParser:
    """Server-sent events from bytes, never holding more than ``max_event_bytes`` of one.

    Why not httpx-sse's ``EventSource``: its line reader keeps a line until its newline
    arrives, with no limit (a 200 MB line without a newline is held whole), and its
    decoders are private. This follows the same WHATWG rules: lines end with CRLF, LF
    or CR; a leading BOM is dropped; ":" starts a comment; "field: value" loses one
    space; data lines join with "\\n"; a blank line dispatches; an event unfinished at
    the end of the stream is dropped. Bytes are split before decoding, so a character
    split across network reads is never broken (CR and LF never occur inside UTF-8).
    """

    _LINE_END = re.compile(rb"[\r\n]")

    def __init__(self, max_event_bytes: int) -> None:
        self.limit = max_event_bytes
        self.comments = 0  # keep-alive comments seen, for the idle message
        self._buffer = bytearray()
        self._searched = 0  # bytes at the start of the buffer known to hold no line end
        self._skip_lf = False  # the last line ended with CR: a following LF belongs to it
        self._at_start = True  # a byte order mark may still come
        self._event = ""
        self._data: list[str] = []
        self._event_bytes = 0
        self._id = ""
        self._retry: int | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for a line not yet ended (tests check the bound with it)."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        buf = self._buffer
        buf += chunk
        if self._at_start:
            if len(buf) < len(BOM) and BOM.startswith(buf):
                return []  # too short to tell yet
            self._at_start = False
            if buf.startswith(BOM):
                del buf[: len(BOM)]
        pos = 0
        if self._skip_lf and buf[:1] == b"\n":
            pos = 1
        self._skip_lf = False
        events: list[ServerSentEvent] = []
        while True:
            found = self._LINE_END.search(buf, max(pos, self._searched))
            if found is None:
                break
            end = found.start()
            self._check(end - pos)
            line = bytes(buf[pos:end])
            pos = end + 1
            if buf[end] == 0x0D:
                if pos < len(buf):
                    pos += buf[pos] == 0x0A
                else:
                    self._skip_lf = True
            self._searched = 0
            event = self._take(line.decode("utf-8", "replace"), len(line))
            if event is not None:
                events.append(event)
        del buf[:pos]
        self._searched = len(buf)
        self._check(len(buf))
        return events

    def _check(self, line_bytes: int) -> None:
        if self._event_bytes + line_bytes > self.limit:
            raise EventTooLarge(self.limit)

    def _take(self, line: str, size: int) -> ServerSentEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments += 1
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
            self._event_bytes += size
        elif name == "event":
            self._event = value
        elif name == "id" and "\0" not in value:
            self._id = value
        elif name == "retry" and value.isascii() and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        # Like httpx-sse: an id seen once makes every later blank line an event.
        if not (self._event or self._data or self._id or self._retry is not None):
            return None
        event = ServerSentEvent(self._event, "\n".join(self._data), self._id, self._retry)
        self._event, self._data, self._event_bytes, self._retry = "", [], 0, None
        return event
