"""`@path` in a message attaches that file: its text goes to the model with the question.

Only text the user typed can attach a file: the instruction argument of `rung ask` and
what was typed into the prompt. Piped stdin, pasted text and attached files are never
scanned, so a pasted traceback that mentions ``@/proc/self/environ`` reads nothing.

Where a mention may point:
- inside the working directory, after resolving symlinks (a link that leads out is
  refused, not followed);
- outside it (an absolute path, ``..``, ``~``) only when the caller confirms that exact
  mention (the chat screen asks the user; `rung ask` never does);
- never into ``/proc``, ``/sys``, ``/dev``, ``/run``, or Rung's own config, data and
  cache directories (keys and history live there), and never at anything but a
  regular file. Files are read with a hard byte cap instead of trusting their size.

Code blocks are not scanned (``@decorator`` is not a file), and an address like
``me@example.com`` is not a mention.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

MENTION = re.compile(r"(?<![\w@])@((?:~|\.{1,2})?/?[\w.\-/~+]+[\w/])")
FENCE = re.compile(r"```.*?(```|\Z)", re.DOTALL)
MAX_FILE_BYTES = 256_000  # about 64k tokens: more belongs in a retrieval tool, not a chat
NEVER_UNDER = (Path("/proc"), Path("/sys"), Path("/dev"), Path("/run"))


@dataclass(frozen=True)
class Attachment:
    path: Path
    name: str  # as the user wrote it
    size: int


@dataclass
class Expansion:
    text: str  # what the model gets: the typed text, then each file in a <file> block
    attached: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # what was not attached, and why
    # Typed mentions of files outside the working directory: attached only once the user
    # confirms them (pass them back in ``confirmed``).
    needs_confirmation: list[str] = field(default_factory=list)


def _size(n: int) -> str:
    return f"{n / 1000:.1f} KB" if n >= 1000 else f"{n} B"


def describe(attached: list[Attachment]) -> str:
    return ", ".join(f"{a.name} ({_size(a.size)})" for a in attached)


def mentions(text: str) -> list[str]:
    """The ``@path`` mentions outside code blocks, in order, each once."""
    return list(dict.fromkeys(MENTION.findall(FENCE.sub("", text))))


def private_dirs() -> list[Path]:
    """Rung's own directories: keys, history and config must never be attached."""
    import platformdirs

    names = (
        platformdirs.user_config_dir("rung"),
        platformdirs.user_data_dir("rung"),
        platformdirs.user_cache_dir("rung"),
    )
    return [Path(n).resolve() for n in names]


def _is_under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _leaves_cwd(name: str) -> bool:
    """Whether the user wrote a path that is meant to leave the working directory."""
    return name.startswith(("/", "~")) or ".." in Path(name).parts


def _read_capped(path: Path) -> bytes:
    """Read at most MAX_FILE_BYTES + 1 bytes of a regular file. Opened non-blocking so a
    FIFO swapped in after the checks cannot hang Rung; checked again on the open file."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError("not a regular file")
        chunks: list[bytes] = []
        left = MAX_FILE_BYTES + 1
        while left > 0:
            chunk = os.read(fd, min(left, 65536))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _resolve(
    name: str, cwd: Path, confirmed: Collection[str], forbidden: list[Path]
) -> tuple[Path | None, str | None, bool]:
    """(the file to read, or why not, and whether it needs the user's confirmation)."""
    written = Path(name).expanduser()
    target = written if written.is_absolute() else cwd / written
    try:
        real = target.resolve(strict=True)
    except (OSError, RuntimeError):
        if "/" in name or Path(name).suffix:
            return None, f"@{name}: no such file (from {cwd})", False
        return None, None, False  # "@alice" is a person, not a file: say nothing
    root = cwd.resolve()
    if any(_is_under(real, d) for d in (*NEVER_UNDER, *forbidden)):
        return None, f"@{name}: Rung never attaches files from {real.parent}", False
    if not _is_under(real, root):
        if not _leaves_cwd(name):
            return None, f"@{name}: a link that leads outside {root}; not attached", False
        if name not in confirmed:
            return None, None, True
    try:
        mode = real.stat().st_mode
    except OSError as exc:
        return None, f"@{name}: cannot be read ({exc.strerror})", False
    if not stat.S_ISREG(mode):
        return None, f"@{name}: not a regular file", False
    return real, None, False


def expand(
    text: str,
    cwd: Path,
    *,
    ignore: Collection[str] = (),
    confirmed: Collection[str] = (),
) -> Expansion:
    """Attach the files that ``text`` (typed by the user) mentions.

    ``ignore``: mentions that arrived by paste, reported and not attached.
    ``confirmed``: outside-the-directory mentions the user agreed to attach.
    """
    result = Expansion(text)
    forbidden = private_dirs()
    blocks: list[str] = []
    for name in mentions(text):
        if name in ignore:
            result.problems.append(f"@{name} came from a paste; type it to attach the file")
            continue
        path, problem, ask = _resolve(name, cwd, confirmed, forbidden)
        if ask:
            result.needs_confirmation.append(name)
            continue
        if path is None:
            if problem:
                result.problems.append(problem)
            continue
        try:
            raw = _read_capped(path)
        except OSError as exc:
            result.problems.append(f"@{name}: cannot be read ({exc.strerror or exc})")
            continue
        if len(raw) > MAX_FILE_BYTES:
            result.problems.append(f"@{name}: more than {_size(MAX_FILE_BYTES)}, too big to attach")
            continue
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            body = "\0"
        if "\0" in body:
            result.problems.append(f"@{name}: not a text file")
            continue
        result.attached.append(Attachment(path, name, len(raw)))
        blocks.append(f'<file path="{name}">\n{body.rstrip()}\n</file>')
    if blocks:
        result.text = text + "\n\n" + "\n\n".join(blocks)
    return result


FILE_BLOCK = re.compile(r'\n\n<file path="([^"]+)">\n.*?\n</file>', re.DOTALL)


def split_attached(content: str) -> tuple[str, list[str]]:
    """What the user typed, and the names of the files that were attached to it."""
    return FILE_BLOCK.sub("", content), FILE_BLOCK.findall(content)


def typed_part(content: str) -> str:
    """A stored question as the user typed it, without the files attached to it (for
    titles and listings)."""
    return split_attached(content)[0]
