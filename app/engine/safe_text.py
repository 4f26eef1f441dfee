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

Characters that change what text *looks* like without being seen (bidi overrides such
as U+202E, which can make code read differently from what it does; zero-width spaces
and joiners between ASCII letters; Unicode tag characters, which can hide instructions)
are shown as ``<U+202E>``. Anything shaped like an API key is masked
(``secrets.mask_secrets``): a key pasted into a question or echoed in a reply is never
shown in full, even when Rung does not know it. A streamed reply goes through
``StreamSanitizer``, which holds back a word that may still become a key.
"""

from __future__ import annotations

import re

from rung.engine.secrets import mask_secrets

# C0 controls (but tab and newline) become their Unicode "control pictures" (U+2400+),
# DEL becomes ␡, and C1 controls (U+0080 to U+009F, which some terminals treat as CSI/OSC
# introducers) become the replacement character.
_VISIBLE: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20) if c not in (0x09, 0x0A)}
_VISIBLE[0x7F] = "\u2421"
_VISIBLE.update({c: "\ufffd" for c in range(0x80, 0xA0)})

_IN_JSON = re.compile(
    "[\u0080-\u009f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]"
)


# Bidi embeddings, overrides and isolates, marks, invisible separators, the BOM, and the
# invisible operators: shown wherever they appear.
_ALWAYS_HIDDEN = "\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
_INVISIBLE = re.compile(
    # A flag's tag sequence (England: U+1F3F4, tags, U+E007F) is an emoji: kept whole.
    "(\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f)"
    f"|[{_ALWAYS_HIDDEN}\U000e0000-\U000e007f]"
    # Zero-width (non-)joiners shape Persian, Indic scripts and emoji: kept between two
    # such characters, shown next to ASCII ("pay\u200cpal" is not "paypal").
    "|(?<=[\x00-\x7f])[\u200c\u200d]|[\u200c\u200d](?=[\x00-\x7f])"
    "|^[\u200c\u200d]|[\u200c\u200d]$"
)


def _shown(match: re.Match[str]) -> str:
    if match.group(1):
        return match.group(1)
    return f"<U+{ord(match.group()):04X}>"


def show_invisible(text: str) -> str:
    """``text`` with bidi controls and invisible characters written as ``<U+202E>``."""
    return _INVISIBLE.sub(_shown, text)


def for_terminal(text: str) -> str:
    """``text`` made safe to show: every control character made visible (``\\n`` and
    ``\\t`` kept), bidi and invisible characters spelled out, key-shaped secrets masked.

    A CRLF line ending is a line ending, not a carriage return that could overwrite the
    line: it becomes ``\\n`` first.
    """
    if "\r\n" in text:
        text = text.replace("\r\n", "\n")
    return mask_secrets(show_invisible(text.translate(_VISIBLE)))


# A word that may still grow into a key is held back at most this long (a key is
# shorter; a longer word is printed, masked as far as it has arrived).
_HOLD_MAX = 512
# Words after which the next word is a secret's value: held back with it.
_NAMES_A_SECRET = re.compile(
    r"(?i)(?:bearer|key|token|secret|password|passwd)\\?[\"']?\s*[:=]?\s*\\?[\"']?$"
)

_KEY_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


class StreamSanitizer:
    """``for_terminal`` for text that arrives in pieces (a streamed reply): a key split
    across two pieces is masked too. What may still be the start of a key (the last
    word, with the word naming it) is held back until the text after it arrives;
    ``end()`` returns what is left."""

    def __init__(self) -> None:
        self._held = ""

    def feed(self, piece: str) -> str:
        text = self._held + piece
        cut = _safe_cut(text)
        self._held = text[cut:]
        return for_terminal(text[:cut]) if cut else ""

    def end(self) -> str:
        held, self._held = self._held, ""
        return for_terminal(held)


def _safe_cut(text: str) -> int:
    """Where ``text`` can be cut so that no later text changes how the part before is
    shown: before the last word (and the word that names a secret before it), and never
    inside a CRLF or a joiner's neighbourhood."""
    end = len(text)
    while end and not text[end - 1].isspace():
        end -= 1
    if end and len(text) - end <= _HOLD_MAX:
        before = text[:end]
        named = _NAMES_A_SECRET.search(before[-64:])
        if named:
            end -= len(before[-64:]) - named.start()
            while end and not text[end - 1].isspace():
                end -= 1
    elif len(text) - end > _HOLD_MAX:
        # A very long word: cut where no key can run across (a key is one run of these).
        end = start = len(text) - _HOLD_MAX
        while end and start - end < _HOLD_MAX and text[end - 1] in _KEY_CHARS:
            end -= 1
        if not end or start - end >= _HOLD_MAX:
            end = start  # a run longer than any key: cutting it splits no key
    # A "\r" may be the first half of a CRLF; a joiner is judged by what follows it.
    while end and text[end - 1] in "\r\u200c\u200d":
        end -= 1
    return end


def one_line(text: str, limit: int | None = None) -> str:
    """Untrusted text for a one-line listing: whitespace runs collapsed, made safe, cut."""
    flat = " ".join(for_terminal(text).split())
    if limit is not None and len(flat) > limit:
        return flat[: max(0, limit - 1)] + "…"
    return flat


def json_for_terminal(dumped: str) -> str:
    """JSON text (``json.dumps(..., ensure_ascii=False)``) safe to print: JSON already
    escapes C0 controls, but leaves C1 controls raw; escape those, and the bidi and
    invisible characters, as JSON escapes too (still valid JSON, and the decoded strings
    are unchanged). Key-shaped secrets are masked: JSON is a view like any other."""
    return mask_secrets(_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", dumped))
