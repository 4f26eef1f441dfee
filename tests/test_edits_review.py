"""Reviewing a proposal hunk by hunk, and the accepted result as a diff that real
``git apply`` accepts."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rung.engine.edits.hunks import combine, compute_hunks
from rung.engine.edits.parse import Edit
from rung.engine.edits.review import Proposal, build_proposal, propose
from rung.engine.edits.textio import split_lines

F = "```"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

LONG = "".join(f"line {i}\n" for i in range(1, 31))


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n{F}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n{F}\n\n"


def sr(path: str, search: str, replace: str) -> Edit:
    return Edit(path, search, replace, "search-replace", 1)


def two_hunk_proposal(root: Path) -> Proposal:
    (root / "notes.txt").write_text(LONG)
    reply = (
        "Two fixes:\n\n"
        + block("notes.txt", "line 2\n", "line two\n")
        + block("notes.txt", "line 25\n", "line twenty-five\n")
    )
    return propose(root, reply)


def test_hunks_can_be_rejected_one_by_one(tmp_path: Path) -> None:
    proposal = two_hunk_proposal(tmp_path)
    assert proposal.all_problems == []
    notes = proposal.file("notes.txt")
    assert [h.header for h in notes.hunks] == ["@@ -1,5 +1,5 @@", "@@ -22,7 +22,7 @@"]
    assert notes.hunks[0].lines == (
        " line 1",
        "-line 2",
        "+line two",
        " line 3",
        " line 4",
        " line 5",
    )
    assert proposal.summary() == "2 hunks in 1 file"
    notes.hunks[0].accepted = False
    assert proposal.summary() == "2 hunks in 1 file (1 rejected)"
    assert proposal.result_text("notes.txt") == LONG.replace("line 25\n", "line twenty-five\n")
    notes.reject()
    assert proposal.result_text("notes.txt") == LONG
    assert not notes.will_write and proposal.to_write == []
    notes.accept()
    assert proposal.result_text("./notes.txt") == notes.proposed_text


def test_edits_to_one_file_apply_in_order_and_a_failing_one_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\ny = 2\n")
    proposal = build_proposal(
        tmp_path,
        [
            sr("a.py", "x = 1\n", "x = 10\n"),
            sr("a.py", "x = 10\ny = 2\n", "x = 10\ny = 20\n"),
            sr("a.py", "w = 0\n", ""),
        ],
    )
    a = proposal.file("a.py")
    assert a.proposed_text == "x = 10\ny = 20\n"
    assert len(a.edits) == 2
    assert len(a.problems) == 1 and "does not match a.py" in a.problems[0]


def test_problems_for_missing_binary_and_unsafe_files(tmp_path: Path) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0\0")
    (tmp_path / "full.py").write_text("x = 1\n")
    proposal = build_proposal(
        tmp_path,
        [
            sr("logo.png", "PNG\n", "JPG\n"),
            sr("missing.py", "x = 1\n", "x = 2\n"),
            sr("../outside.py", "", "x = 1\n"),
            sr("full.py", "", "y = 2\n"),
        ],
    )
    problems = "\n".join(proposal.all_problems)
    assert "logo.png is not a text file" in problems
    assert "missing.py does not exist" in problems
    # An unsafe path is a refusal (edits.policy): named, and the rest is not held back.
    assert [r.describe() for r in proposal.refused] == [
        "../outside.py: refused, '..' is refused; edits stay inside the project (1 edit not used)"
    ]
    assert "full.py already has content" in problems
    assert proposal.to_write == []


def test_changed_on_disk_is_detected_and_the_current_text_shown(tmp_path: Path) -> None:
    proposal = two_hunk_proposal(tmp_path)
    assert proposal.changed_on_disk() == []
    assert proposal.disk_state("notes.txt").changed is False
    (tmp_path / "notes.txt").write_text(LONG + "line 31\n")
    state = proposal.disk_state("notes.txt")
    assert state.changed and state.exists
    assert state.text == LONG + "line 31\n"
    assert proposal.changed_on_disk() == ["notes.txt"]
    (tmp_path / "notes.txt").unlink()
    assert proposal.disk_state("notes.txt") == proposal.disk_state("notes.txt")
    assert proposal.disk_state("notes.txt").exists is False
    assert proposal.changed_on_disk() == ["notes.txt"]


def test_same_bytes_rewritten_are_not_a_change(tmp_path: Path) -> None:
    proposal = two_hunk_proposal(tmp_path)
    (tmp_path / "notes.txt").write_text(LONG)  # touched (new mtime), same bytes
    assert proposal.changed_on_disk() == []


def test_byte_order_mark_is_kept(tmp_path: Path) -> None:
    (tmp_path / "bom.txt").write_bytes(b"\xef\xbb\xbfhello\nworld\n")
    proposal = build_proposal(tmp_path, [sr("bom.txt", "hello\n", "hi\n")])
    assert proposal.file("bom.txt").result_bytes() == b"\xef\xbb\xbfhi\nworld\n"


def git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd, capture_output=True, text=True, check=False,
    )  # fmt: skip


def check_with_git_apply(root: Path, proposal: Proposal) -> None:
    """Apply the proposal's diff with git to a copy of the original files; the result must
    be byte for byte what the proposal would write."""
    repo = root.parent / f"{root.name}-git"
    shutil.copytree(root, repo)
    assert git(repo, "init", "-q").returncode == 0
    patch = repo.parent / f"{root.name}.patch"
    patch.write_bytes(proposal.as_unified_diff().encode("utf-8"))
    checked = git(repo, "apply", "--check", str(patch))
    assert checked.returncode == 0, checked.stderr + proposal.as_unified_diff()
    assert git(repo, "apply", str(patch)).returncode == 0
    for f in proposal.to_write:
        assert (repo / f.path).read_bytes() == f.result_bytes(), f.path


@needs_git
def test_unified_diff_of_the_accepted_hunks_applies_with_git(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    root.mkdir()
    proposal = two_hunk_proposal(root)
    proposal.file("notes.txt").hunks[1].accepted = False
    diff = proposal.as_unified_diff()
    assert diff.startswith("diff --git a/notes.txt b/notes.txt\n--- a/notes.txt\n+++ b/notes.txt\n")
    assert "line two" in diff and "twenty-five" not in diff
    check_with_git_apply(root, proposal)


@needs_git
def test_git_apply_with_new_files_crlf_missing_newline_and_odd_names(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "win.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")
    (root / "tail.py").write_bytes(b"a = 1\nb = 2")
    (root / "src" / "my file.py").write_text("x = 1\n")
    (root / 'quote"d.txt').write_text("q\n")
    (root / "bom.txt").write_bytes(b"\xef\xbb\xbffirst\nsecond\n")
    edits = [
        sr("win.txt", "two\n", "2\n"),
        sr("tail.py", "b = 2\n", "b = 3\n"),
        sr("src/my file.py", "x = 1\n", "x = 2\n"),
        sr('quote"d.txt', "q\n", "quoted\n"),
        sr("bom.txt", "first\n", "1st\n"),
        sr("new/dir/created.py", "", "print('new')\n"),
        sr("empty/__init__.py", "", ""),
        sr("tail2.py", "", "no newline"),
    ]
    proposal = build_proposal(root, edits)
    assert proposal.all_problems == []
    assert proposal.file("win.txt").result_bytes() == b"one\r\n2\r\nthree\r\n"
    assert proposal.file("tail.py").result_bytes() == b"a = 1\nb = 3"
    diff = proposal.as_unified_diff()
    assert "\\ No newline at end of file" in diff
    assert "new file mode 100644\n--- /dev/null\n+++ b/new/dir/created.py" in diff
    check_with_git_apply(root, proposal)


def test_nothing_accepted_means_an_empty_diff(tmp_path: Path) -> None:
    proposal = two_hunk_proposal(tmp_path)
    proposal.reject_all()
    assert proposal.as_unified_diff() == ""


def test_hunks_of_a_long_repetitive_file_are_quick_and_exact() -> None:
    current = "".join(f"def f{i}():\n    return 1\n\n" for i in range(8000))
    proposed = current.replace("def f10():", "def g10():").replace("def f7990():", "def g7990():")
    started = time.perf_counter()
    hunks = compute_hunks(current, proposed)
    assert time.perf_counter() - started < 2  # plain difflib without junk takes ~15 s here
    assert [h.lines[3] for h in hunks] == ["-def f10():", "-def f7990():"]
    hunks[0].accepted = False
    assert combine(current, proposed, hunks) == current.replace("def f7990():", "def g7990():")


@given(
    st.lists(st.sampled_from(["a\n", "b\n", "\n", "c\r\n", "d"]), max_size=25),
    st.lists(st.sampled_from(["a\n", "b\n", "\n", "c\r\n", "e\n"]), max_size=25),
)
@settings(max_examples=300, deadline=None)
def test_accepting_one_hunk_changes_only_its_own_lines(old: list[str], new: list[str]) -> None:
    current, proposed = "".join(old), "".join(new)
    hunks = compute_hunks(current, proposed)
    assert combine(current, proposed, hunks) == proposed
    old_lines, new_lines = split_lines(current), split_lines(proposed)
    for chosen in hunks:
        for hunk in hunks:
            hunk.accepted = hunk is chosen
        first, last = chosen.changes[0], chosen.changes[-1]
        expected = (
            old_lines[: first.old_from]
            + new_lines[first.new_from : last.new_to]
            + old_lines[last.old_to :]
        )
        assert combine(current, proposed, hunks) == "".join(expected)
    for hunk in hunks:
        hunk.accepted = False
    assert combine(current, proposed, hunks) == current
