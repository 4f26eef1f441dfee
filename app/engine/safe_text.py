"""The one sanitizer for text Rung did not write itself, on its way to a terminal.

Model output, server error bodies, model names a server chose, stdin, pastes and files
are untrusted: an escape sequence in them could set the clipboard (OSC 52), retitle
the window, clear the screen or move the cursor over what the user is reading. Every
such text passes through ``for_terminal`` wherever it is printed or drawn: stdout and
stderr of the commands, the chat view, status and failure notes, history listings.
What is *stored* stays exactly as received; only what is shown is made safe.

Control characters are made visible rather than dropped (ESC shows as ␛), so a reader
can tell that something odd arrived; newlines and tabs are kept. The mapping is
per character, so a sequence split across two streamed pieces is neutralised too.
"""

from __future__ import annotations

import re

# C0 controls (but tab and newline) become their Unicode "control pictures" (U+2400+),
# DEL becomes ␡, and C1 controls (U+0080 to U+009F, which some terminals treat as CSI/OSC
# introducers) become the replacement character.
_VISIBLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_VISIBLE[0x7F] = "\u2421"
_VISIBLE.update({c: "\ufffd" for c in range(0x80, 0xA0)})

_C1_IN_JSON = re.compile("[\u0080-\u009f]")


def for_terminal(text: str) -> str:
    """``text`` with every control character made visible; ``\\n`` and ``\\t`` kept.

    A CRLF line ending is a line ending, not a carriage return that could overwrite the
    line: it becomes ``\\n`` first.
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return text.translate(_VISIBLE)


def one_line(text: str, limit: int | None = None) -> str:
    """Untrusted text for a one-line listing: whitespace runs collapsed, made safe, cut."""
    flat = " ".join(for_terminal(text).split())
    if limit is not None and len(flat) > limit:
        return flat[: max(0, limit - 1)] + "…"
    return flat


def json_for_terminal(dumped: str) -> str:
    """JSON text (``json.dumps(..., ensure_ascii=False)``) safe to print: JSON already
    escapes C0 controls, but leaves C1 controls raw; escape those too (still valid JSON,
    and the decoded strings are unchanged)."""
    return _C1_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped)
