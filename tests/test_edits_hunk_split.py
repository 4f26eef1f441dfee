"""Nearby edits are separate hunks (defect sweep, issue 24): edits at lines 3 and 7 of a
file were one ``@@ -1,10 +1,10 @@`` hunk, so one could not be kept and the other
rejected. Each change is its own hunk in the review and in the diff, and the diff
still goes through real ``git apply``."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rung.engine.edits.hunks import combine, compute_hunks
from rung.engine.edits.review import propose

F = "```"
TEN = "".join(f"line {i}\n" for i in range(1, 11))
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n{F}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n{F}\n\n"


NEAR = block("ten.txt", "line 3\n", "line three\n") + block("ten.txt", "line 7\n", "line seven\n")


def test_edits_at_lines_3_and_7_are_two_hunks_each_kept_or_rejected(tmp_path: Path) -> None:
    (tmp_path / "ten.txt").write_text(TEN)
    proposal = propose(tmp_path, NEAR)
    ten = proposal.file("ten.txt")
    assert [h.header for h in ten.hunks] == ["@@ -1,5 +1,5 @@", "@@ -6,5 +6,5 @@"]
    ten.hunks[0].accepted = False
    assert ten.result_text() == TEN.replace("line 7\n", "line seven\n")
    ten.hunks[0].accepted, ten.hunks[1].accepted = True, False
    assert ten.result_text() == TEN.replace("line 3\n", "line three\n")
    diff = proposal.as_unified_diff()
    assert diff.count("\n@@ ") == 1 and diff.count("@@ -") == 1  # only the accepted one


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)


def applies_with_git(root: Path, old: str, new: str) -> None:
    """The proposal's diff from ``old`` to ``new`` applies with real git, exactly."""
    (root / "f.txt").write_text(old)
    reply = f"f.txt\n{F}\n<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE\n{F}\n"
    proposal = propose(root, reply)
    diff = proposal.as_unified_diff()
    (root / "change.diff").write_text(diff)
    checked = git(root, "apply", "--check", "change.diff")
    assert checked.returncode == 0, (checked.stderr, diff)
    assert git(root, "apply", "change.diff").returncode == 0
    assert (root / "f.txt").read_text() == new


@needs_git
def test_split_hunks_still_go_through_git_apply(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    lines = [f"{i}\n" for i in range(1, 21)]
    cases = [
        {3: "three\n", 7: "seven\n"},  # four equal lines between
        {3: "three\n", 5: "five\n"},  # one equal line between
        {3: "three\n", 4: "four\n", 9: "nine\n", 20: "twenty\n"},  # adjacent, and at the end
        {1: "one\n", 19: "nineteen\n"},
    ]
    for case in cases:
        new = [case.get(n, line) for n, line in enumerate(lines, 1)]
        applies_with_git(tmp_path, "".join(lines), "".join(new))
    hunks = compute_hunks("".join(lines), "".join(lines).replace("5\n", "five\n", 1))
    assert len(hunks) == 1


@needs_git
@given(
    st.lists(st.sampled_from(["a\n", "b\n", "c\n", "\n", "d\n"]), min_size=1, max_size=16),
    st.lists(st.sampled_from(["a\n", "b\n", "x\n", "\n", "y\n"]), min_size=1, max_size=16),
)
@settings(max_examples=40, deadline=None)
def test_any_diff_of_split_hunks_applies_with_git(tmp_path_factory, old, new) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("git")
    git(root, "init", "-q")
    old_text, new_text = "".join(old), "".join(new)
    if not old_text.strip() or old_text == new_text:
        return  # an empty SEARCH creates a file; no change has no diff
    applies_with_git(root, old_text, new_text)
    hunks = compute_hunks(old_text, new_text)
    for hunk in hunks:  # each hunk holds exactly one change: one run of +/- lines
        lines = hunk.lines
        runs = [i for i, line in enumerate(lines) if line[:1] in "+-" and
                (i == 0 or lines[i - 1][:1] == " ")]  # fmt: skip
        if len(runs) == 2:
            # The one exception: a change on the last line, one line after another, has
            # no line left to anchor it (git needs context) and joins that hunk.
            assert hunk is hunks[-1] and lines[runs[1] - 1][:1] == " ", lines
            assert lines[runs[1] - 2][:1] in "+-" and lines[-1][:1] in "+-", lines
        else:
            assert len(runs) == 1, lines
    assert combine(old_text, new_text, hunks) == new_text
