"""Where an edit may write: only inside the root directory Rung was started in.

A model's reply names the files, so every name is untrusted. Refused: absolute paths,
``..`` anywhere, anything inside ``.git``, and a symlink anywhere on the way that leads
outside the root (each link is resolved and checked, then the whole path once more).
A link that stays inside the root is followed, so the file it points to is the one
edited and the link itself survives. A name with a control character, a bidirectional
control (which can make ``evil.py`` show as ``yp.live``) or a zero-width character is
refused: the user could not read which file is meant.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

from rung.engine.edits.errors import EditError, UnsafePathError

MAX_NAME = 4096
MAX_FILE_BYTES = 1_000_000  # larger files are generated or data, not something to patch by chat
# Characters that change how a name looks on screen, or hide part of it.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
)
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\ufeff\u2060")


def unreadable_character(name: str) -> str | None:
    """Why ``name`` cannot be shown as it is (a control, bidi or zero-width character)."""
    for char in name:
        code = ord(char)
        if code < 0x20 or 0x7F <= code < 0xA0:
            return f"a control character (U+{code:04X})"
        if char in BIDI_CONTROLS:
            return f"a bidirectional text control (U+{code:04X})"
        if char in ZERO_WIDTH:
            return f"a zero-width character (U+{code:04X})"
    return None


def normalize(name: str) -> str:
    """The relative POSIX form of a file name from a reply: ``./a\\\\b.py`` → ``a/b.py``.

    Raises ``UnsafePathError`` for names that cannot be inside the root whatever it is.
    """
    cleaned = name.strip().strip("`'\"").strip()
    # A model on Windows habits writes backslashes; on POSIX they would be part of a name.
    cleaned = cleaned.replace("\\", "/")
    if not cleaned or len(cleaned) > MAX_NAME or "\0" in cleaned:
        raise UnsafePathError(f"{name!r} is not a usable file name")
    hidden = unreadable_character(cleaned)
    if hidden:
        # ascii(): the message itself must not carry the character to a terminal.
        raise UnsafePathError(f"{cleaned!a}: the name has {hidden}; refused")
    if cleaned.startswith(("/", "~")) or (len(cleaned) > 1 and cleaned[1] == ":"):
        raise UnsafePathError(
            f"{cleaned}: absolute paths are refused; name files relative to the project"
        )
    parts = [p for p in PurePosixPath(cleaned).parts if p != "."]
    if not parts:
        raise UnsafePathError(f"{name!r} names the project directory, not a file")
    if ".." in parts:
        raise UnsafePathError(f"{cleaned}: '..' is refused; edits stay inside the project")
    if any(p.lower() == ".git" for p in parts):
        raise UnsafePathError(f"{cleaned}: Rung never writes inside .git")
    return "/".join(parts)


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def real_root(root: Path) -> Path:
    try:
        real = root.resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        raise EditError(f"the project directory {root} cannot be used: {exc}") from exc
    if not real.is_dir():
        raise EditError(f"the project directory {root} is not a directory")
    return real


def resolve_inside(root: Path, name: str) -> Path:
    """The real path ``name`` (relative to ``root``) stands for, checked to stay inside.

    Raises ``UnsafePathError`` (outside, ``.git``, a dangling link, a directory or a
    special file) or ``EditError`` (a file where a directory is needed).
    """
    rel = normalize(name)
    top = real_root(root)
    current = top
    parts = rel.split("/")
    for number, part in enumerate(parts, 1):
        current = current / part
        try:
            info = current.lstat()
        except FileNotFoundError:
            break  # the rest does not exist yet: nothing there can be a link
        except OSError as exc:
            raise EditError(f"{rel}: cannot be checked ({exc.strerror or exc})") from exc
        if stat.S_ISLNK(info.st_mode):
            try:
                target = current.resolve(strict=True)
            except (OSError, RuntimeError) as exc:
                shown = "/".join(parts[:number])
                raise UnsafePathError(
                    f"{rel}: {shown} is a link to a missing or looping target; refused"
                ) from exc
            if not _inside(target, top):
                shown = "/".join(parts[:number])
                raise UnsafePathError(
                    f"{rel}: {shown} is a link to {target}, outside {top}; refused"
                )
            current = target
        elif number < len(parts) and not stat.S_ISDIR(info.st_mode):
            shown = "/".join(parts[:number])
            raise EditError(f"{rel}: {shown} is a file, not a directory")
    real = (top / rel).resolve()
    if not _inside(real, top) or real == top:
        raise UnsafePathError(f"{rel}: leads outside {top}; refused")
    if any(p.lower() == ".git" for p in real.relative_to(top).parts):
        raise UnsafePathError(f"{rel}: leads into .git; Rung never writes there")
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        return real
    except OSError as exc:
        raise EditError(f"{rel}: cannot be checked ({exc.strerror or exc})") from exc
    if not stat.S_ISREG(mode):
        raise UnsafePathError(f"{rel}: not a regular file; Rung edits only regular files")
    return real


def read_current(real: Path, name: str, limit: int = MAX_FILE_BYTES) -> bytes | None:
    """The bytes of ``real`` (shown as ``name``), or None when it does not exist.

    Raises ``EditError`` when it cannot be read or is larger than ``limit``.
    """
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EditError(f"{name}: cannot be read ({exc.strerror or exc})") from exc
    try:
        # Checked on the open file: a FIFO swapped in after resolve_inside must not hang us.
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePathError(f"{name}: not a regular file")
        chunks: list[bytes] = []
        left = limit + 1
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > limit:
        raise EditError(f"{name}: larger than {limit / 1_000_000:g} MB; too big to edit here")
    return raw
