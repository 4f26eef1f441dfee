"""Where a long Markdown reply can be split into separate views without changing how it
reads.

Textual lays out a whole Markdown view again on each write to it, so a reply streamed
into one view costs more per token the longer it gets (at 400 tokens/s an 8,000-token
reply fell 454 ms behind: bench/stream_render.py). Split into views of about PART_CHARS
characters, a write re-lays out only the last one; the finished ones keep their size.

A cut is only made where the Markdown before and after it would parse the same apart as
together, and be spaced the same: before a line that starts a paragraph (its first
character a letter or a digit, not "1." or "1)") after a blank line, outside a fenced
code block. Within one view the top margin of a heading, a code block or a quote and
the bottom margin of the block before it collapse into one; across two views they would
add up. Paragraphs have no top margin, so a part that starts with one needs no CSS to
fix its spacing: such CSS (a ``:first-child`` rule) made Textual restyle every block of
the view on each write, 45% of the last write's time. (A line that an underline below
turns into a heading, "Title" over "===", is the exception: one blank row more.)
"""

from __future__ import annotations

import re

PART_CHARS = 2000

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
LIST_ITEM = re.compile(r"^\d{1,9}[.)](\s|$)")
LINES = re.compile(r"[^\n]*\n|[^\n]+")  # not str.splitlines: only "\n" ends a Markdown line
NUMBER = re.compile(r"\d{1,9}[.)]?")


class PartCutter:
    """Feed it a reply piece by piece; it says where new parts begin.

    Whether a line can start a part is known from its first few characters ("1." or "-"
    followed by a space make a list item). While they are undecided, at most a dozen
    characters are held back, and only where a cut is due; ``end`` returns them.
    """

    def __init__(self, size: int | None = None) -> None:
        self.size = PART_CHARS if size is None else size
        self._part_len = 0  # characters in the current part
        self._line = ""  # the current line so far (held back while _deciding)
        self._deciding = True  # at a line start whose verdict is not known yet
        self._fence = ""  # the open fence's marker ("```", "~~~~"), "" outside code
        self._prev_blank = False

    def feed(self, text: str) -> list[str]:
        """Split ``text``: the first piece continues the current part, each further one
        starts a new part. Joined, all pieces and ``end()`` are everything fed."""
        pieces = [""]
        for segment in LINES.findall(text):
            complete = segment.endswith("\n")
            if self._deciding:
                line = self._line + segment
                verdict = self._verdict(line.rstrip("\n"), complete)
                if verdict is None:
                    self._line = line
                    continue
                self._deciding = False
                if verdict:
                    pieces.append("")
                    self._part_len = 0
                self._line, segment = "", line
            pieces[-1] += segment
            self._part_len += len(segment)
            self._line += segment
            if complete:
                self._scan(self._line.rstrip("\n"))
                self._line, self._deciding = "", True
        return pieces

    def end(self) -> str:
        """What was held back at the end of the reply."""
        held = self._line if self._deciding else ""
        if held:
            self._line = ""
            self._part_len += len(held)
        return held

    def split(self, text: str) -> list[str]:
        """A whole text at once (a stored reply): its parts."""
        pieces = self.feed(text)
        pieces[-1] += self.end()
        return [piece for piece in pieces if piece]

    def _verdict(self, line: str, complete: bool) -> bool | None:
        """Does this line start a new part: yes, no, or not known from this much of it."""
        if not self._prev_blank or self._fence or self._part_len < self.size:
            return False
        if not line:
            return False if complete else None
        if not line[0].isalnum():
            return False  # not a paragraph: a heading, code, a quote, a table, a list...
        number = NUMBER.match(line)
        if number is None:
            return True
        if number.end() == len(line):
            return LIST_ITEM.match(line) is None if complete else None
        if line[number.end() - 1] not in ".)":
            return True  # a number starting a sentence, not "1." or "1)"
        return not line[number.end()].isspace()

    def _scan(self, line: str) -> None:
        fence = FENCE.match(line)
        if self._fence:
            marker = fence.group(1) if fence else ""
            closes = marker[:1] == self._fence[0] and len(marker) >= len(self._fence)
            if closes and fence and not fence.group(2).strip():
                self._fence = ""
        elif fence and not (fence.group(1)[0] == "`" and "`" in fence.group(2)):
            self._fence = fence.group(1)
        self._prev_blank = not line.strip()
