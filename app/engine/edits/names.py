"""Which file a block in a reply means: the file name on a line above it, in the fence's
info string, or quoted in the prose before it.

A name has to look like a file, or a word of prose ("python", "Here") would be taken
for one: a dot inside it, a slash, a dotfile (``.gitignore``, ``.env``), one of the
well-known names without an extension (``Makefile``, ``VERSION``, ``CHANGELOG``), or
a file the user attached (a temporary file ``tmpk2x9_q1v`` has no shape at all).
"""

from __future__ import annotations

import re
from collections.abc import Collection

FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})(.*)$")
# A file name standing alone: no spaces, some path-like shape, a word character at the end.
PATHLIKE = re.compile(r"^[\w.\-+@~/\\]*\w$")
NAME_PREFIX = re.compile(r"^(?:file(?:name)?|path)\s*[:=]\s*", re.IGNORECASE)
BACKTICKED = re.compile(r"`([^`\s]+)`")
PARENTHETICAL = re.compile(r"\s+\([^()]*\):?$")
KNOWN_BARE_NAME = re.compile(
    r"^(?:[A-Z][a-z]*file|makefile|justfile|GNUmakefile|LICEN[CS]E|README|CODEOWNERS|"
    r"VERSION|CHANGELOG|CHANGES|HISTORY|AUTHORS|CONTRIBUTORS|NOTICE|COPYING|MANIFEST|"
    r"NEWS|TODO)$"
)
DOTFILE = re.compile(r"^\.\w[\w\-]*$")  # .gitignore, .env, .bashrc: the name is after the dot
LOOKBACK = 3  # non-blank lines searched above a block for its file name, as aider does


def strip_decoration(text: str) -> str:
    """``### **`app/x.py`**:`` → ``app/x.py``; ``File: app/x.py`` → ``app/x.py``."""
    text = text.strip().lstrip("#>").strip()
    if text.startswith("// "):  # a comment naming the file, first line inside the fence
        text = text[3:]
    text = PARENTHETICAL.sub("", text)  # "app/x.py (new file)"
    for _ in range(3):  # markup nests: **`x`**:
        text = NAME_PREFIX.sub("", text.rstrip(":").strip())
        for mark in ("**", "__", "`", "*", "'", '"'):
            if len(text) > 2 * len(mark) and text.startswith(mark) and text.endswith(mark):
                text = text[len(mark) : -len(mark)].strip()
    return text


def known_names(attached: Collection[str]) -> frozenset[str]:
    """The attached files as a reply may name them: as attached, and by base name."""
    names = {name.removeprefix("./") for name in attached}
    return frozenset(names | {name.rsplit("/", 1)[-1] for name in names})


def looks_like_path(text: str, known: Collection[str] = ()) -> bool:
    if text in known:
        return True
    if not PATHLIKE.match(text) or "://" in text or len(text) > 300:
        return False
    # "python" or "Here" alone are not files; "Makefile", ".env" and "VERSION" are.
    return (
        "." in text.strip(".")
        or "/" in text
        or DOTFILE.match(text) is not None
        or KNOWN_BARE_NAME.match(text) is not None
    )


def path_in_line(line: str, known: Collection[str] = ()) -> str | None:
    text = strip_decoration(line)
    return text if looks_like_path(text, known) else None


def path_in_fence(info: str, known: Collection[str] = ()) -> str | None:
    """``python app/x.py``, ``app/x.py``, ``python title=app/x.py``, ``py:app/x.py``."""
    for token in re.split(r"[\s:]+", info.strip()):
        name = token.split("=", 1)[1] if "=" in token else token
        name = name.strip("`'\"{}")
        if name in known or (
            looks_like_path(name) and ("." in name.strip(".") or DOTFILE.match(name))
        ):
            return name
    return None


def backticked_path(line: str, known: Collection[str] = ()) -> str | None:
    """The one path quoted in prose like "In `app/main.py`, change:"."""
    found = [name for name in BACKTICKED.findall(line) if looks_like_path(name, known)]
    return found[0] if len(found) == 1 else None


def find_path(lines: list[str], head: int, floor: int, known: Collection[str] = ()) -> str | None:
    """The file named above the block starting at ``lines[head]``, never above ``floor``."""
    seen = 0
    nearest_prose: str | None = None
    for index in range(head - 1, floor - 1, -1):
        line = lines[index]
        if not line.strip():
            continue
        seen += 1
        fence = FENCE.match(line)
        if fence:
            found = path_in_fence(fence.group(2), known)
        else:
            found = path_in_line(line, known)
            if found is None and nearest_prose is None:
                nearest_prose = line
        if found:
            return found
        if seen >= LOOKBACK:
            break
    return backticked_path(nearest_prose, known) if nearest_prose else None
