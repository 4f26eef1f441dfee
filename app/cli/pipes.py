"""Standard streams for the headless commands: a reader that went away, and stdin read
with a size bound.

A closed stdout (`rung cost | head -1`) is the reader saying "enough", not an error: the
command stops quietly, as `cat` or `git log` do, and exits 141 (128 + SIGPIPE), the
status a shell shows for a writer whose reader left. Python ignores SIGPIPE, so the
write raises BrokenPipeError instead; ``main()`` catches it once for every command,
and stdout is pointed at /dev/null so the interpreter's last flush cannot print
"Exception ignored ... BrokenPipeError" on the way out.

stdin is read with a hard cap (``yes | rung ask`` must not fill the memory): at most
the cap + 1 bytes are read, so a larger input is recognised without being held.
"""

from __future__ import annotations

import codecs
import errno
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

# The exit status of a writer stopped by SIGPIPE (128 + 13), as a shell reports it.
CLOSED_STDOUT_EXIT = 141
# Piped text for `rung ask`: a big diff or log still fits (about 250k tokens, more than
# most models take), a runaway producer does not.
MAX_STDIN_BYTES = 1_048_576

_closed = False


def is_closed_pipe(exc: BaseException) -> bool:
    """Whether ``exc`` is a write to a pipe (or socket) whose reader has gone."""
    return isinstance(exc, BrokenPipeError) or (
        isinstance(exc, OSError) and exc.errno in (errno.EPIPE, errno.ECONNRESET)
    )


def stdout_closed() -> bool:
    """Whether a write to stdout found its reader gone during this command."""
    return _closed


def silence_stdout() -> None:
    """The reader of stdout has gone: send whatever is still written to /dev/null, so
    neither later prints nor the interpreter's final flush raise again."""
    global _closed
    _closed = True
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (embedded, tests)
        pass


@dataclass(frozen=True)
class PipedText:
    text: str
    too_big: bool = False  # more than the cap arrived (``text`` is then its start)
    replaced: int = 0  # bytes that were not UTF-8, shown as U+FFFD


def read_capped(stream: BinaryIO, limit: int) -> bytes:
    """At most ``limit`` + 1 bytes of ``stream``: one more than allowed says "too big"
    without holding what follows."""
    chunks: list[bytes] = []
    left = limit + 1
    while left > 0:
        chunk = stream.read1(min(left, 65536)) if hasattr(stream, "read1") else stream.read(left)
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def decode(raw: bytes, limit: int) -> PipedText:
    """``raw`` (from ``read_capped``) as text: cut at ``limit`` on a whole character,
    bytes that are not UTF-8 as U+FFFD, counted for a warning."""
    too_big = len(raw) > limit
    if too_big:
        # Cut at the cap; a character the cut splits is left out, not shown as U+FFFD.
        text = codecs.getincrementaldecoder("utf-8")("replace").decode(raw[:limit])
    else:
        text = raw.decode("utf-8", errors="replace")
    # Only what was replaced counts, not U+FFFD characters the input really had.
    replaced = text.count("\ufffd") - raw[:limit].count("\ufffd".encode())
    return PipedText(text, too_big=too_big, replaced=max(0, replaced))


def read_stdin(limit: int = MAX_STDIN_BYTES) -> PipedText:
    """At most ``limit`` bytes of stdin as text. Bytes that are not UTF-8 become U+FFFD
    (a Latin-1 log still gets its question answered) and are counted for a warning."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text-only stdin (embedded use): still bounded
        text = sys.stdin.read(limit + 1)
        return PipedText(text[:limit], too_big=len(text) > limit)
    return decode(read_capped(stream, limit), limit)


def stdin_lines(limit: int = MAX_STDIN_BYTES) -> Iterator[str | None]:
    """stdin line by line, each read with a cap: a line longer than ``limit`` bytes is
    skipped (read through, never held) and yielded as None."""
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        yield from sys.stdin
        return
    while True:
        line = stream.readline(limit + 1)
        if not line:
            return
        if len(line) > limit and not line.endswith(b"\n"):
            while (rest := stream.readline(65536)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line.decode("utf-8", errors="replace")
