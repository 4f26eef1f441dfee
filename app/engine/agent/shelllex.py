"""The lexing helpers of ``shellsplit``: quotes, matching parentheses, redirections.

Anything these cannot read with confidence raises ``Unsure`` with the reason.
"""

from __future__ import annotations

SAFE_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr"})


class Unsure(Exception):
    """The command line cannot be judged part by part (the message says why)."""


def matching(text: str, start: int, opener: str, closer: str) -> int:
    """Index just past the ``closer`` matching an ``opener`` before ``start``."""
    depth, i = 1, start
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "'":
            end = text.find("'", i + 1)
            if end == -1:
                raise Unsure("an unclosed quote")
            i = end + 1
            continue
        if char == '"':
            i = end_of_double(text, i + 1)
            continue
        if char == opener:
            depth += 1
        elif char == closer:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise Unsure(f"an unclosed {opener}")


def end_of_double(text: str, i: int) -> int:
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        if text.startswith("$(", i):
            i = matching(text, i + 2, "(", ")")
            continue
        i += 1
    raise Unsure("an unclosed quote")


def placeholder(text: str, i: int) -> bool:
    """``{}`` as a word of its own (find's and xargs' placeholder), not a group."""
    return text.startswith("{}", i) and (i + 2 == len(text) or text[i + 2] in " \t\n;&|")


def redirect(text: str, i: int, *, output: bool, dup: bool = False) -> int:
    """Past the target of a redirection at ``i``; an output to a file is unsure."""
    while i < len(text) and text[i] in " \t":
        i += 1
    if dup and i < len(text) and (text[i].isdigit() or text[i] == "-"):
        end = i
        while end < len(text) and (text[end].isdigit() or text[end] == "-"):
            end += 1
        return end
    start = i
    while i < len(text) and text[i] not in " \t\n;&|<>()":
        if text[i] in "'\"`$\\":
            raise Unsure("a redirection to a computed file name")
        i += 1
    target = text[start:i]
    if not target:
        raise Unsure("a redirection without a target")
    if output and target not in SAFE_TARGETS:
        raise Unsure(f"it writes to {target} with a redirection")
    return i
