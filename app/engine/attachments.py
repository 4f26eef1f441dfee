"""`@path` in a message attaches that file: its text goes to the model with the question.

Only real, readable text files are attached; code blocks are not scanned (``@decorator``
is not a file), and an address like ``me@example.com`` is not a mention.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MENTION = re.compile(r"(?<![\w@])@((?:~|\.{1,2})?/?[\w.\-/~+]+[\w/])")
FENCE = re.compile(r"```.*?(```|\Z)", re.DOTALL)
MAX_FILE_BYTES = 256_000  # about 64k tokens: more belongs in a retrieval tool, not a chat


@dataclass(frozen=True)
class Attachment:
    path: Path
    name: str  # as the user wrote it
    size: int


def _size(n: int) -> str:
    return f"{n / 1000:.1f} KB" if n >= 1000 else f"{n} B"


def describe(attached: list[Attachment]) -> str:
    return ", ".join(f"{a.name} ({_size(a.size)})" for a in attached)


def expand(text: str, cwd: Path) -> tuple[str, list[Attachment], list[str]]:
    """(what the model gets, what was attached, what could not be and why)."""
    outside_code = FENCE.sub("", text)
    attached: list[Attachment] = []
    problems: list[str] = []
    blocks: list[str] = []
    for name in dict.fromkeys(MENTION.findall(outside_code)):
        path = Path(name).expanduser()
        path = path if path.is_absolute() else cwd / path
        if not path.is_file():
            if "/" in name or Path(name).suffix:
                problems.append(f"@{name}: no such file (from {cwd})")
            continue
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            problems.append(
                f"@{name}: {_size(size)} is too big to attach (limit {_size(MAX_FILE_BYTES)})"
            )
            continue
        try:
            body = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            problems.append(f"@{name}: not a text file")
            continue
        except OSError as exc:
            problems.append(f"@{name}: cannot be read ({exc.strerror})")
            continue
        attached.append(Attachment(path, name, size))
        blocks.append(f'<file path="{name}">\n{body.rstrip()}\n</file>')
    if not blocks:
        return text, attached, problems
    return text + "\n\n" + "\n\n".join(blocks), attached, problems


FILE_BLOCK = re.compile(r'\n\n<file path="([^"]+)">\n.*?\n</file>', re.DOTALL)


def split_attached(content: str) -> tuple[str, list[str]]:
    """What the user typed, and the names of the files that were attached to it."""
    return FILE_BLOCK.sub("", content), FILE_BLOCK.findall(content)
