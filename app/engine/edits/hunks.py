"""The hunks between a file and its proposed text, and the text with only some of them.

Hunks come from difflib on lines *with* their endings (a CRLF file compares as CRLF,
and a lost final newline is a change), with up to three lines of context as
``diff -u`` shows them, but one hunk per change even when changes are close together
(``diff -u`` would merge them, so one could not be kept without the other). Each change
belongs to exactly one hunk, so any subset of hunks can be taken independently:
rejected hunks keep the old lines, accepted ones the new.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from rung.engine.edits.textio import content, split_lines

CONTEXT = 3


@dataclass(frozen=True)
class Change:
    """Old lines ``[old_from, old_to)`` become new lines ``[new_from, new_to)`` (0-based)."""

    old_from: int
    old_to: int
    new_from: int
    new_to: int


@dataclass
class Hunk:
    index: int  # 0-based position in its file
    old_start: int  # 1-based first line in the current file, as in "@@ -old_start,old_count"
    old_count: int
    new_start: int  # 1-based first line in the fully proposed file
    new_count: int
    lines: tuple[str, ...]  # " context", "-removed", "+added", without line endings
    changes: tuple[Change, ...]
    accepted: bool = True  # accepted unless the user rejects it

    @property
    def header(self) -> str:
        old = _range(self.old_start, self.old_count)
        return f"@@ -{old} +{_range(self.new_start, self.new_count)} @@"

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line.startswith("+"))

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line.startswith("-"))


def _range(start: int, count: int) -> str:
    return f"{start},{count}" if count != 1 else str(start)


# difflib without its "popular lines are junk" heuristic lines up blank lines and "}"
# as a reader expects, but is quadratic in them: beyond this size it keeps the heuristic
# (the hunks are still exact, only sometimes less tidy).
EXACT_DIFF_LINES = 3000

Opcode = tuple[str, int, int, int, int]


def _opcodes(old: Sequence[str], new: Sequence[str]) -> list[Opcode]:
    # Edits touch a few places: the common start and end need no diffing at all.
    size = min(len(old), len(new))
    head = 0
    while head < size and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < size - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    middle_old, middle_new = old[head : len(old) - tail], new[head : len(new) - tail]
    junk = max(len(middle_old), len(middle_new)) > EXACT_DIFF_LINES
    codes: list[Opcode] = [("equal", 0, head, 0, head)] if head else []
    matcher = SequenceMatcher(None, middle_old, middle_new, autojunk=junk)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        codes.append((tag, i1 + head, i2 + head, j1 + head, j2 + head))
    if tail:
        codes.append(("equal", len(old) - tail, len(old), len(new) - tail, len(new)))
    merged: list[Opcode] = []
    for code in codes:
        if merged and merged[-1][0] == code[0] == "equal":
            last = merged.pop()
            code = ("equal", last[1], code[2], last[3], code[4])
        merged.append(code)
    return merged


def _groups(old: Sequence[str], new: Sequence[str], context: int) -> Iterator[list[Opcode]]:
    """One group per change, so each can be kept or rejected on its own (``git add -p``'s
    split), with up to ``context`` equal lines around it. Two changes closer than twice
    the context share the equal lines between them instead of overlapping: ``git apply``
    refuses hunks whose context overlaps, and takes a hunk without trailing context to
    be at the end of the file, so each such hunk keeps at least one line after it."""
    codes = _opcodes(old, new)
    changes: list[list[Opcode]] = []
    for code in codes:
        if code[0] == "equal":
            continue
        if changes and changes[-1][-1][2] == code[1] and changes[-1][-1][4] == code[3]:
            changes[-1].append(code)  # adjacent changes, no equal line between: one change
        else:
            changes.append([code])
    lead = context
    previous: list[Opcode] = []
    for number, change in enumerate(changes):
        i1, j1 = change[0][1], change[0][3]
        i2, j2 = change[-1][2], change[-1][4]
        if number == 0:
            lead = min(context, i1)
        if number + 1 < len(changes):
            gap = changes[number + 1][0][1] - i2
            trail = context if gap > 2 * context else (gap + 1) // 2
            next_lead = context if gap > 2 * context else gap - trail
        else:
            trail, next_lead = min(context, len(old) - i2), 0
        group: list[Opcode] = []
        if lead:
            group.append(("equal", i1 - lead, i1, j1 - lead, j1))
        group.extend(change)
        if trail:
            group.append(("equal", i2, i2 + trail, j2, j2 + trail))
        if previous and not lead and not trail:
            # One line after another change, at the end of the file: no line is left to
            # anchor it, and git applies no hunk without any context; it joins that one.
            previous.extend(group)
        else:
            if previous:
                yield previous
            previous = group
        lead = next_lead
    if previous:
        yield previous


def diff_lines(old: list[str], new: list[str], context: int = CONTEXT) -> list[Hunk]:
    """Hunks from ``old`` to ``new`` (lists of lines with endings)."""
    hunks: list[Hunk] = []
    for group in _groups(old, new, context):
        first, last = group[0], group[-1]
        i1, i2, j1, j2 = first[1], last[2], first[3], last[4]
        shown: list[str] = []
        changes: list[Change] = []
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                shown.extend(" " + content(line) for line in old[a1:a2])
                continue
            changes.append(Change(a1, a2, b1, b2))
            shown.extend("-" + content(line) for line in old[a1:a2])
            shown.extend("+" + content(line) for line in new[b1:b2])
        # As in diff -u: an empty side starts at the line before it.
        old_start = i1 + 1 if i2 > i1 else i1
        new_start = j1 + 1 if j2 > j1 else j1
        hunks.append(
            Hunk(len(hunks), old_start, i2 - i1, new_start, j2 - j1, tuple(shown), tuple(changes))
        )
    return hunks


def compute_hunks(current: str, proposed: str, context: int = CONTEXT) -> list[Hunk]:
    return diff_lines(split_lines(current), split_lines(proposed), context)


def combine(current: str, proposed: str, hunks: Sequence[Hunk]) -> str:
    """``current`` with the accepted hunks of ``compute_hunks(current, proposed)`` applied."""
    old, new = split_lines(current), split_lines(proposed)
    out: list[str] = []
    position = 0
    for hunk in hunks:
        for change in hunk.changes:
            out.extend(old[position : change.old_from])
            if hunk.accepted:
                out.extend(new[change.new_from : change.new_to])
            else:
                out.extend(old[change.old_from : change.old_to])
            position = change.old_to
    out.extend(old[position:])
    return "".join(out)
