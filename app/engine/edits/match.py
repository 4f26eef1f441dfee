"""Where a SEARCH text is in a file, and the file with it replaced.

Matching works on whole lines and has two passes, never a fuzzy one:

1. exact: the SEARCH lines equal consecutive lines of the file (a line ending is not
   content, so a CRLF file matches a reply written with LF);
2. whitespace-tolerant: the same non-blank lines in the same order, ignoring trailing
   whitespace, blank lines, and an indentation shifted by the same amount on every
   line; the replacement is shifted by that amount too.

A pass that matches in several places refuses as ambiguous rather than falling through
to the looser pass: the looser pass must never pick one of several exact candidates.
Replaced lines take the line ending of the file where they land, and a file that did
not end with a newline still does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from rung.engine.edits.textio import content, dominant_ending, plain_lines, split_lines

SHOWN_LINES = 12  # of the closest window, in a no-match report


@dataclass(frozen=True)
class Replaced:
    text: str  # the whole new text
    line: int  # 1-based first line of the match in the old text
    how: Literal["exact", "whitespace"]


@dataclass(frozen=True)
class Ambiguous:
    lines: tuple[int, ...]  # 1-based first line of every match
    how: Literal["exact", "whitespace"]

    def describe(self, path: str, what: str = "The SEARCH text") -> str:
        where = ", ".join(str(n) for n in self.lines)
        return (
            f"{what} matches {len(self.lines)} places in {path} (lines {where}); "
            "nothing was changed for it. Quote more surrounding lines so it matches once."
        )


@dataclass(frozen=True)
class NoMatch:
    closest_line: int  # 1-based first line of the most similar window; 0: empty file
    closest: tuple[str, ...]  # that window's lines, without endings
    similarity: float  # 0..1, difflib's ratio between the window and the SEARCH text

    def describe(self, path: str, what: str = "The SEARCH text") -> str:
        head = f"{what} does not match {path}; nothing was changed for it."
        if not self.closest:
            return f"{head} The file is empty."
        last = self.closest_line + len(self.closest) - 1
        span = f"line {last}" if last == self.closest_line else f"lines {self.closest_line}–{last}"
        width = len(str(last))
        shown = [
            f"  {n:>{width}} | {line}"
            for n, line in enumerate(self.closest[:SHOWN_LINES], self.closest_line)
        ]
        if len(self.closest) > SHOWN_LINES:
            shown.append(f"  {'':>{width}} | …")
        pct = round(self.similarity * 100)
        return f"{head} The most similar part of the file ({pct}% alike) is {span}:\n" + "\n".join(
            shown
        )


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _common_indent(lines: list[str]) -> str:
    indents = [_indent(line) for line in lines]
    first, last = min(indents), max(indents)
    size = 0
    while size < len(first) and first[size] == last[size]:
        size += 1
    return first[:size]


def _blank_run(lines: list[str]) -> int:
    count = 0
    for line in lines:
        if line.strip():
            break
        count += 1
    return count


def _reindent(lines: list[str], old: str, new: str) -> list[str]:
    """Shift ``lines`` (indented for ``old``) to sit at ``new``."""
    if old == new:
        return lines
    out: list[str] = []
    for line in lines:
        if not line.strip():
            out.append("")
        elif line.startswith(old):
            out.append(new + line[len(old) :])
        elif len(new) > len(old):
            # Less indented than the SEARCH text: shift it by the same amount.
            out.append(_indent(line) + new[len(old) :] + line.lstrip(" \t"))
        else:
            indent = _indent(line)
            out.append(indent[: max(0, len(indent) - (len(old) - len(new)))] + line.lstrip(" \t"))
    return out


def _splice(lines: list[str], start: int, stop: int, new: list[str]) -> str:
    first = lines[start]
    if first.endswith("\r\n"):
        eol = "\r\n"
    elif first.endswith("\n"):
        eol = "\n"
    else:
        eol = dominant_ending("".join(lines))
    out = [line + eol for line in new]
    if out and not lines[stop - 1].endswith("\n"):
        out[-1] = out[-1][: -len(eol)]  # the file did not end with a newline: keep it so
    return "".join(lines[:start] + out + lines[stop:])


def _exact(body: list[str], search: list[str]) -> list[int]:
    size = len(search)
    head = search[0]
    return [
        start
        for start in range(len(body) - size + 1)
        if body[start] == head and body[start : start + size] == search
    ]


def _tolerant(body: list[str], search: list[str]) -> tuple[list[tuple[int, int, str]], str]:
    """Matches as (start, stop, file indent), and the SEARCH text's own indent."""
    wanted = [line.rstrip() for line in search if line.strip()]
    own = _common_indent(wanted)
    relative = [line[len(own) :] for line in wanted]
    solid = [index for index, line in enumerate(body) if line.strip()]
    size = len(wanted)
    head = relative[0].strip()
    found: list[tuple[int, int, str]] = []
    for k in range(len(solid) - size + 1):
        if body[solid[k]].strip() != head:
            continue
        window = [body[index].rstrip() for index in solid[k : k + size]]
        indent = _common_indent(window)
        if not (indent.startswith(own) or own.startswith(indent)):
            continue  # tabs against spaces is not a uniform shift
        if [line[len(indent) :] for line in window] == relative:
            found.append((solid[k], solid[k + size - 1] + 1, indent))
    return found, own


def _similarity(window: list[str], target: str) -> float:
    return SequenceMatcher(None, "\n".join(window), target, autojunk=False).ratio()


def closest(body: list[str], search: list[str]) -> NoMatch:
    """The window of the file most like ``search``, for a no-match report."""
    if not body:
        return NoMatch(0, (), 0.0)
    size = min(max(1, len(search)), len(body))
    stripped = [line.strip() for line in body]
    wanted = [line.strip() for line in search]
    wanted_set = {line for line in wanted if line}
    # Cheap first: windows sharing the most lines with the SEARCH text, then difflib on
    # the best few, so a long file stays fast.
    sums = [0]
    for line in stripped:
        sums.append(sums[-1] + (1 if line and line in wanted_set else 0))
    scores = [(sums[s + size] - sums[s], s) for s in range(len(body) - size + 1)]
    best = max(score for score, _ in scores)
    if best > 0:
        starts = [s for _, s in sorted(scores, key=lambda item: (-item[0], item[1]))[:20]]
    else:
        offset = next((i for i, line in enumerate(wanted) if line), 0)
        first = wanted[offset] if wanted else ""
        quick = sorted(
            range(len(body)),
            key=lambda i: (-SequenceMatcher(None, stripped[i], first).quick_ratio(), i),
        )[:50]
        ranked = sorted(
            quick, key=lambda i: (-SequenceMatcher(None, stripped[i], first).ratio(), i)
        )
        starts = [min(max(0, i - offset), len(body) - size) for i in ranked[:10]]
    target = "\n".join(wanted)
    ratios = [(_similarity(stripped[s : s + size], target), s) for s in dict.fromkeys(starts)]
    ratio, start = max(ratios, key=lambda item: (item[0], -item[1]))
    return NoMatch(start + 1, tuple(body[start : start + size]), ratio)


def replace_once(text: str, search: str, replace: str) -> Replaced | Ambiguous | NoMatch:
    """``text`` with the one place matching ``search`` replaced by ``replace``.

    ``search`` must have a non-blank line (an empty SEARCH means "create the file", which
    is the caller's decision, not a match).
    """
    wanted = plain_lines(search)
    if not any(line.strip() for line in wanted):
        raise ValueError("replace_once needs a SEARCH text with a non-blank line")
    lines = split_lines(text)
    body = [content(line) for line in lines]
    new = plain_lines(replace)

    starts = _exact(body, wanted)
    if len(starts) > 1:
        return Ambiguous(tuple(s + 1 for s in starts), "exact")
    if starts:
        start = starts[0]
        return Replaced(_splice(lines, start, start + len(wanted), new), start + 1, "exact")

    found, own = _tolerant(body, wanted)
    if len(found) > 1:
        return Ambiguous(tuple(start + 1 for start, _, _ in found), "whitespace")
    if not found:
        return closest(body, wanted)
    start, stop, indent = found[0]
    # Blank lines around the SEARCH text were the model's context, not part of the match:
    # drop as many around the replacement so the file does not gain blank lines.
    lead = min(_blank_run(wanted), _blank_run(new))
    trail = min(_blank_run(wanted[::-1]), _blank_run(new[::-1]))
    new = new[lead : len(new) - trail]
    text = _splice(lines, start, stop, _reindent(new, own, indent))
    return Replaced(text, start + 1, "whitespace")
