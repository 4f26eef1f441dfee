"""A command's output kept within a bound while it is read: the first and the last
``cap / 2`` bytes and a count of what was cut, so 50 MB of output never sits in memory
and the model still sees how it started and how it ended."""

from __future__ import annotations


class HeadTail:
    def __init__(self, cap: int) -> None:
        self.cap = max(2, cap)
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, chunk: bytes) -> None:
        self.total += len(chunk)
        half = self.cap // 2
        room = half - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self._tail += chunk
            if len(self._tail) > self.cap - half:
                del self._tail[: len(self._tail) - (self.cap - half)]

    @property
    def cut(self) -> int:
        return self.total - len(self._head) - len(self._tail)

    def text(self) -> str:
        """The kept output as text (invalid UTF-8 replaced), with the cut marked."""
        head = bytes(self._head).decode("utf-8", "replace")
        tail = bytes(self._tail).decode("utf-8", "replace")
        if not self.cut:
            return head + tail
        return f"{head}\n… {self.cut} bytes cut …\n{tail}"
