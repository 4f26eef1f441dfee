"""A unified diff that ``git apply`` accepts: ``a/`` and ``b/`` prefixes, relative paths,
``new file mode`` for created files, and ``\\ No newline at end of file`` markers.

difflib's ``unified_diff`` writes neither the marker nor the git headers, and a diff
without the marker silently adds or drops a final newline when applied.
"""

from __future__ import annotations

from rung.engine.edits.hunks import diff_lines
from rung.engine.edits.textio import split_lines

NO_NEWLINE = "\\ No newline at end of file\n"


def _quote(path: str) -> str:
    """Git's C-style quoting, for names with quotes, backslashes or control characters."""
    if not any(c in path for c in '"\\') and all(" " <= c != "\x7f" for c in path):
        return path
    escapes = {'"': '\\"', "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
    body = "".join(escapes.get(c, c if " " <= c != "\x7f" else f"\\{ord(c):03o}") for c in path)
    return f'"{body}"'


def _line(prefix: str, line: str) -> str:
    if line.endswith("\n"):
        return prefix + line
    return prefix + line + "\n" + NO_NEWLINE


def file_diff(path: str, old: str | None, new: str) -> str:
    """The git diff turning ``old`` (None: no such file) into ``new`` at ``path``."""
    old_lines, new_lines = split_lines(old or ""), split_lines(new)
    a, b = _quote(f"a/{path}"), _quote(f"b/{path}")
    head = [f"diff --git {a} {b}\n"]
    if old is None:
        head += ["new file mode 100644\n", "--- /dev/null\n", f"+++ {b}\n"]
    else:
        head += [f"--- {a}\n", f"+++ {b}\n"]
    hunks = diff_lines(old_lines, new_lines)
    if not hunks:
        # An empty new file: git writes only the header and the mode, no ---/+++ lines.
        return "".join(head[:2]) if old is None else ""
    body: list[str] = []
    for hunk in hunks:
        body.append(hunk.header + "\n")
        first = hunk.old_start - 1 if hunk.old_count else hunk.old_start
        position = first
        for change in hunk.changes:
            body.extend(_line(" ", line) for line in old_lines[position : change.old_from])
            body.extend(_line("-", line) for line in old_lines[change.old_from : change.old_to])
            body.extend(_line("+", line) for line in new_lines[change.new_from : change.new_to])
            position = change.old_to
        body.extend(_line(" ", line) for line in old_lines[position : first + hunk.old_count])
    return "".join(head + body)
