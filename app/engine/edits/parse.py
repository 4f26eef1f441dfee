"""Edit proposals in a model's reply: SEARCH/REPLACE blocks and unified diffs.

Both formats become the same ``Edit`` (a file, the lines to find, the lines to put
there). Parsing never raises: a malformed block is reported as a ``ParseProblem`` and
the rest of the reply is still read.

A reply being streamed can be parsed at any point: only blocks whose end has arrived
count, and a block still being written is not a problem yet (``final=False``). The
``StreamParser`` does the same incrementally, so a long reply is not re-read on every
token.

What is tolerated: code fences with or without a language, the file name on the line
before the fence, in the fence's info string or on the first line inside it; several
blocks in one fence (a block without a name belongs to the previous block's file);
CRLF; trailing whitespace on marker lines; prose anywhere between blocks; a doubled
``=======`` right before ``>>>>>>> REPLACE`` (dropped, never written into the file);
a block closed by a second ``=======`` instead of the marker, when the next block or
the end of the reply follows (it ends at that divider). File names: see ``names``. Unified diff
hunks are located by their context and removed lines; their line numbers are ignored,
since models often get them wrong.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from rung.engine.edits.names import FENCE, find_path, known_names

Origin = Literal["search-replace", "unified-diff"]

# ORIGINAL/UPDATED: the older spelling of the same block, still seen from some models.
HEAD = re.compile(r"^\s*<{5,9} ?(?:SEARCH|ORIGINAL)\b.*$")
DIVIDER = re.compile(r"^\s*={5,9}\s*$")
UPDATED = re.compile(r"^\s*>{5,9} ?(?:REPLACE|UPDATED)\b.*$")
DIFF_HEADER_LINES = (
    "diff ",
    "index ",
    "new file mode",
    "deleted file mode",
    "old mode",
    "new mode",
    "similarity index",
    "rename from",
    "rename to",
)


@dataclass(frozen=True)
class Edit:
    path: str  # as the reply wrote it (normalized later, when it is matched to a file)
    search: str  # lines to find, each ending in "\n"; "" creates a new file
    replace: str  # lines to put there, each ending in "\n"
    origin: Origin
    line: int  # 1-based line of the reply where the block starts, for messages


@dataclass(frozen=True)
class ParseProblem:
    line: int  # 1-based line of the reply
    message: str


@dataclass(frozen=True)
class ParseResult:
    edits: tuple[Edit, ...] = ()
    problems: tuple[ParseProblem, ...] = ()
    # The files attached to the conversation, as the user named them: what the user
    # chose to show the model, which decides what its edits may change (edits.policy).
    attached: tuple[str, ...] = ()

    @property
    def files(self) -> tuple[str, ...]:
        """The files named, in order of first mention, each once."""
        return tuple(dict.fromkeys(edit.path for edit in self.edits))

    def summary(self) -> str:
        """``"3 edits to 2 files"``, for a status line while a reply streams."""
        edits, files = len(self.edits), len(self.files)
        return f"{edits} edit{'' if edits == 1 else 's'} to {files} file{'' if files == 1 else 's'}"


@dataclass
class _State:
    """Where a scan can resume: everything before ``index`` is final."""

    index: int = 0
    last_path: str | None = None  # the file of the previous block, for unnamed blocks
    floor: int = 0  # the file-name lookback never reads above this line (previous block)
    fence: bool = False  # inside a ``` fence
    known: frozenset[str] = frozenset()  # attached files: names a reply may use bare
    edits: list[Edit] = field(default_factory=list)
    problems: list[ParseProblem] = field(default_factory=list)


def _report(state: _State, line: int, message: str) -> None:
    state.problems.append(ParseProblem(line, message))


def _give_up(state: _State, path: str | None, resume: int) -> int:
    """After a malformed block: its file still names the next unnamed block, and its
    lines are never read as a file name."""
    state.last_path = path or state.last_path
    state.floor = resume
    return resume


def _text(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


def _read_block(lines: list[str], head: int, state: _State, final: bool) -> int | None:
    """Read the SEARCH/REPLACE block at ``head``; the index after it, None if unfinished."""
    named = find_path(lines, head, state.floor, state.known)
    path = named or state.last_path
    block = f"The block{f' for {path}' if path else ''} at reply line {head + 1}"
    index = head + 1
    search: list[str] = []
    while index < len(lines) and not DIVIDER.match(lines[index]):
        if HEAD.match(lines[index]) or UPDATED.match(lines[index]):
            _report(state, head + 1, f"{block} has no ======= line; not used.")
            return _give_up(state, path, index if HEAD.match(lines[index]) else index + 1)
        search.append(lines[index])
        index += 1
    if index >= len(lines):
        if not final:
            return None
        _report(state, head + 1, f"{block} ends before its ======= line; not used.")
        return _give_up(state, path, index)
    index += 1
    first = index  # of the REPLACE part
    replace: list[str] = []
    while index < len(lines) and not UPDATED.match(lines[index]):
        if HEAD.match(lines[index]):
            break
        replace.append(lines[index])
        index += 1
    if index >= len(lines) and not final:
        return None
    if index >= len(lines) or HEAD.match(lines[index]):
        # No >>>>>>> REPLACE before the next block or the end: a block closed by a second
        # "=======" instead still says clearly what it wants; it ends there.
        dividers = [n for n, line in enumerate(replace) if DIVIDER.match(line)]
        if not dividers:
            where = "ends before its" if index >= len(lines) else "has no"
            _report(state, head + 1, f"{block} {where} >>>>>>> REPLACE line; not used.")
            return _give_up(state, path, index)
        replace = replace[: dividers[-1]]
        resume = first + dividers[-1] + 1  # lines after it may name the next block's file
    else:
        # "=======" doubled right before the marker is a slip, not a line of the file
        # (SEARCH cannot hold such a line either: the first one ends it).
        if replace and DIVIDER.match(replace[-1]):
            replace.pop()
        resume = index + 1
    if path is None:
        _report(state, head + 1, f"{block} does not say which file it changes; not used.")
    else:
        state.edits.append(Edit(path, _text(search), _text(replace), "search-replace", head + 1))
        state.last_path = path
    state.floor = resume
    return resume


def _is_diff_start(lines: list[str], index: int) -> bool | None:
    """True at ``--- x`` followed by ``+++ y``; None when the next line has not arrived."""
    if not lines[index].startswith("--- "):
        return False
    if index + 1 >= len(lines):
        return None
    return lines[index + 1].startswith("+++ ")


def _diff_name(header: str) -> str:
    name = header[4:].split("\t", 1)[0].strip()
    if len(name) > 1 and name[0] == name[-1] == '"':
        name = name[1:-1]
    return name


@dataclass
class _Hunk:
    line: int  # 1-based line of the @@ header in the reply
    body: list[str] = field(default_factory=list)
    trailing_blank: int = 0  # empty reply lines taken as blank context, maybe not meant so
    broken: bool = False  # had a line no hunk can have: unusable, half a change is worse

    def add(self, line: str, from_empty: bool = False) -> None:
        if self.broken:
            return
        self.body.append(line)
        self.trailing_blank = self.trailing_blank + 1 if from_empty else 0

    def sides(self) -> tuple[list[str], list[str]]:
        body = self.body[: len(self.body) - self.trailing_blank]
        old = [line[1:] for line in body if line[:1] in (" ", "-")]
        new = [line[1:] for line in body if line[:1] in (" ", "+")]
        return old, new

    def changes(self) -> bool:
        return not self.broken and any(line[:1] in ("+", "-") for line in self.body)


def _ends_diff(lines: list[str], index: int) -> bool:
    line = lines[index]
    return _is_diff_start(lines, index) is True or line.startswith(DIFF_HEADER_LINES)


def _read_diff(lines: list[str], start: int, state: _State, final: bool) -> int | None:
    """Read one file's section of a unified diff; the index after it, None if unfinished."""
    old_name, new_name = _diff_name(lines[start]), _diff_name(lines[start + 1])
    fenced = state.fence
    hunks: list[_Hunk] = []
    bad: list[ParseProblem] = []
    index = start + 2
    ended = False  # saw what ends the section (not just the end of the text so far)
    while index < len(lines):
        line = lines[index]
        if line.startswith("@@"):
            hunks.append(_Hunk(index + 1))
            index += 1
            continue
        if _ends_diff(lines, index) or (fenced and FENCE.match(line)):
            ended = True
            break
        if not hunks:
            ended = True  # no @@ after the header: not a diff we can use
            break
        if line[:1] in (" ", "+", "-"):
            hunks[-1].add(line)
        elif line.startswith("\\"):
            pass  # "\ No newline at end of file": matching keeps the file's own final newline
        elif line == "" or not line.strip():
            if fenced:
                hunks[-1].add(" ", from_empty=True)  # models drop the space of blank context
            elif index + 1 >= len(lines):
                if not final:
                    return None
                ended = True
                break
            elif lines[index + 1][:1] in (" ", "+", "-", "@", "\\"):
                hunks[-1].add(" ", from_empty=True)
            else:
                ended = True
                break
        elif fenced:
            bad.append(
                ParseProblem(
                    index + 1,
                    f"The diff for {new_name} has a line that is not part of a hunk "
                    f"at reply line {index + 1}; that hunk was not used.",
                )
            )
            hunks[-1].broken = True
            hunks[-1].body.clear()
            index += 1
            continue
        else:
            ended = True
            break
        index += 1
    if not ended and not final:
        return None
    state.floor = index  # lines of a diff are never a later block's file name
    state.problems.extend(bad)
    if not hunks:
        _report(state, start + 1, f"The diff for {new_name} at reply line {start + 1} is empty.")
        return index
    if new_name == "/dev/null":
        state.problems.append(
            ParseProblem(
                start + 1,
                f"The diff at reply line {start + 1} deletes {_strip_prefix(old_name, 'a/')}; "
                "deleting files is not supported.",
            )
        )
        return index
    old_name, new_name = _without_prefixes(old_name, new_name)
    if old_name != "/dev/null" and old_name != new_name:
        state.problems.append(
            ParseProblem(
                start + 1,
                f"The diff at reply line {start + 1} renames {old_name} to {new_name}; "
                "renaming files is not supported.",
            )
        )
        return index
    if old_name == "/dev/null":
        new_name = _strip_prefix(new_name, "b/")
        if any(hunk.broken for hunk in hunks):
            return index  # half a new file is not a new file; the problem says why
        added = [line for hunk in hunks for line in hunk.sides()[1]]
        state.edits.append(Edit(new_name, "", _text(added), "unified-diff", start + 1))
    else:
        for hunk in hunks:
            if hunk.changes():
                old, new = hunk.sides()
                edit = Edit(new_name, _text(old), _text(new), "unified-diff", hunk.line)
                state.edits.append(edit)
    state.last_path = new_name
    return index


def _strip_prefix(name: str, prefix: str) -> str:
    return name[len(prefix) :] if name.startswith(prefix) else name


def _without_prefixes(old: str, new: str) -> tuple[str, str]:
    """Drop git's ``a/`` and ``b/``; models sometimes write only one of them."""
    if old.startswith("a/") and new.startswith("b/"):
        return old[2:], new[2:]
    if _strip_prefix(old, "a/") == new:
        return new, new
    if _strip_prefix(new, "b/") == old:
        return old, old
    return old, new


def _scan(lines: list[str], state: _State, final: bool) -> None:
    """Advance ``state`` over ``lines``; stop before a block that has not ended yet."""
    index = state.index
    while index < len(lines):
        line = lines[index]
        if HEAD.match(line):
            after = _read_block(lines, index, state, final)
        else:
            diff = _is_diff_start(lines, index)
            if diff is None and not final:
                return
            if diff:
                after = _read_diff(lines, index, state, final)
            else:
                if FENCE.match(line):
                    state.fence = not state.fence
                after = index + 1
        if after is None:
            return
        index = state.index = after


def _lines(text: str, final: bool) -> list[str]:
    parts = text.split("\n")
    # While streaming the last part is a line still being written; when the reply is
    # complete it is the last line (empty after a final newline).
    if not final or parts[-1] == "":
        parts.pop()
    return [part[:-1] if part.endswith("\r") else part for part in parts]


def parse_reply(text: str, final: bool = True, attached: Sequence[str] = ()) -> ParseResult:
    """The edits in ``text``; ``final=False`` for a reply still streaming.

    ``attached``: the files attached to the conversation, as the user named them; a
    reply may name them even when the name has no file-like shape (``tmpk2x9_q1v``).
    """
    state = _State(known=known_names(attached))
    _scan(_lines(text, final), state, final)
    return ParseResult(tuple(state.edits), tuple(state.problems), tuple(attached))


def parse_partial(text: str, attached: Sequence[str] = ()) -> ParseResult:
    """The complete blocks of a reply still streaming; unfinished ones are not problems."""
    return parse_reply(text, final=False, attached=attached)


class StreamParser:
    """Feed a streamed reply piece by piece; each call reads only the new lines."""

    def __init__(self, attached: Sequence[str] = ()) -> None:
        self._text: list[str] = []
        self._lines: list[str] = []
        self._pending = ""  # the line still being written
        self._attached = tuple(attached)
        self._state = _State(known=known_names(attached))

    def feed(self, delta: str) -> ParseResult:
        """The complete blocks so far, after adding ``delta``."""
        self._text.append(delta)
        if "\n" in delta:
            parts = (self._pending + delta).split("\n")
            self._pending = parts.pop()
            self._lines.extend(part[:-1] if part.endswith("\r") else part for part in parts)
            _scan(self._lines, self._state, final=False)
        else:
            self._pending += delta
        return self.result()

    def result(self) -> ParseResult:
        return ParseResult(tuple(self._state.edits), tuple(self._state.problems), self._attached)

    def finish(self) -> ParseResult:
        """The whole reply, now complete: unfinished blocks become problems."""
        return parse_reply("".join(self._text), attached=self._attached)
