"""Bytes and text for the files Rung edits: what counts as text, and lines with endings.

Lines are split on ``\\n`` only (``str.splitlines`` would also split on form feeds and
U+2028, which would change a file Rung never meant to touch), and each keeps its ending
so a CRLF file stays CRLF and a missing final newline stays missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from rung.engine.edits.errors import NotTextError

SNIFF_BYTES = 8192  # NUL in the first 8 KB means binary, as git decides it
BOM = "\ufeff"


def is_text(raw: bytes) -> bool:
    """UTF-8 without NUL bytes in the first 8 KB."""
    if b"\0" in raw[:SNIFF_BYTES]:
        return False
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True)
class Decoded:
    text: str  # without the byte-order mark
    bom: bool  # the file started with a UTF-8 BOM; written back with it


def decode(raw: bytes, path: str) -> Decoded:
    if not is_text(raw):
        raise NotTextError(
            f"{path} is not a text file (binary or not UTF-8); Rung does not edit it"
        )
    text = raw.decode("utf-8")
    # The BOM is not part of the first line: a SEARCH quoting that line must still match.
    if text.startswith(BOM):
        return Decoded(text[1:], True)
    return Decoded(text, False)


def encode(text: str, bom: bool = False) -> bytes:
    """UTF-8 bytes; raises ``UnicodeEncodeError`` for lone surrogates from a reply."""
    return ((BOM if bom else "") + text).encode("utf-8")


def split_lines(text: str) -> list[str]:
    """Lines with their endings; no empty last line after a final newline."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def content(line: str) -> str:
    """A line without its ending (``\\n`` or ``\\r\\n``)."""
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


def plain_lines(text: str) -> list[str]:
    """Text from a reply as lines without endings (CRLF or LF alike)."""
    return [content(line) for line in split_lines(text)]


def dominant_ending(text: str) -> str:
    """``\\r\\n`` when most lines end that way, else ``\\n`` (also for one-line files)."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"
