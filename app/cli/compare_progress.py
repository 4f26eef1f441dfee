"""What `rung compare` says on stderr while it works: its messages (sanitized, since
they quote prompts, rung names and errors) and the progress line.
"""

from __future__ import annotations

import sys
from typing import TextIO

from rung.cli.compare_text import cell_cost
from rung.engine.compare import Progress
from rung.engine.compare_cell import Cell
from rung.engine.safe_text import for_terminal
from rung.tiers.pricing import format_usd


def say(message: str) -> None:
    """A message on stderr, sanitized: it may quote a prompt, a rung name or an error."""
    print(f"rung compare: {for_terminal(message)}", file=sys.stderr, flush=True)


class ProgressLine:
    """One line rewritten in place on a terminal; a plain line per finished cell when
    stderr is a file or a pipe (a log reads well, with no carriage returns)."""

    def __init__(self, stream: TextIO, total: int) -> None:
        self.stream = stream
        self.total = total
        self.tty = stream.isatty()
        self.drawn = False

    def __call__(self, p: Progress) -> None:
        where = f"{p.cell.rung} #{p.cell.prompt + 1}"
        if self.tty:
            line = (
                f"[{p.done}/{p.total}] {p.in_flight} running · {format_usd(p.spent)} spent"
                f" · {p.kind} {where}"
            )
            self.stream.write("\r\x1b[K" + line)
            self.stream.flush()
            self.drawn = True
            return
        if p.kind == "started":
            return
        c = p.cell
        if p.kind == "skipped":
            what = f"skipped ({c.skipped})"
        else:
            what = f"{cell_cost(c)}, {c.duration_s:.1f} s, {_ended(c)}"
        # The error and the reason skipped quote servers and exceptions: sanitized.
        line = for_terminal(f"[{p.done}/{p.total}] {where}: {what}")
        print(f"rung compare: {line}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


def _ended(c: Cell) -> str:
    if c.skipped:
        return f"skipped: {c.skipped}"
    if c.error:
        return f"error: {c.error}"
    return c.finish_reason
