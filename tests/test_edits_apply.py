"""Applying accepted hunks to real files: all or nothing, atomic, never outside the root,
never to a binary file, never into .git, mode kept; in and outside a git repository."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from rung.engine.edits import writes
from rung.engine.edits.apply import apply_proposal
from rung.engine.edits.parse import Edit
from rung.engine.edits.review import build_proposal, propose

F = "```"
needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")

CALC = """\
def add(a, b):
    return a - b


def sub(a, b):
    return a - b


def mul(a, b):
    return a * b
"""

# A model's diff: wrong line numbers, a blank context line without its space.
DIFF_REPLY = f"""\
Here's a patch:

{F}diff
--- a/calc.py
+++ b/calc.py
@@ -40,7 +40,7 @@ def add(a, b):
 def add(a, b):
-    return a - b
+    return a + b

{" "}
@@ -90,3 +90,4 @@
 def mul(a, b):
     return a * b
+
--- /dev/null
+++ b/tests/test_calc.py
@@ -0,0 +1,4 @@
+from calc import add
+
+def test_add():
+    assert add(2, 2) == 4
{F}
"""


def sr(path: str, search: str, replace: str) -> Edit:
    return Edit(path, search, replace, "search-replace", 1)


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n{F}python\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n{F}\n"


def test_model_diff_with_wrong_line_numbers_applies_by_context(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text(CALC)
    proposal = propose(tmp_path, DIFF_REPLY)
    assert proposal.all_problems == []
    outcome = apply_proposal(proposal)
    assert outcome.ok, outcome.message
    assert outcome.paths == ("calc.py", "tests/test_calc.py")
    assert (tmp_path / "calc.py").read_text() == CALC.replace(
        "def add(a, b):\n    return a - b", "def add(a, b):\n    return a + b"
    ) + "\n"
    assert (tmp_path / "tests" / "test_calc.py").read_text().startswith("from calc import add\n")
    assert "created tests/test_calc.py" in outcome.message


def test_only_accepted_hunks_are_written(tmp_path: Path) -> None:
    text = "".join(f"v{i} = {i}\n" for i in range(20))
    (tmp_path / "v.py").write_text(text)
    proposal = propose(
        tmp_path,
        block("v.py", "v1 = 1\n", "v1 = 100\n") + "\n" + block("v.py", "v18 = 18\n", "v18 = 0\n"),
    )
    proposal.file("v.py").hunks[0].accepted = False
    assert apply_proposal(proposal).ok
    assert (tmp_path / "v.py").read_text() == text.replace("v18 = 18", "v18 = 0")


def test_ambiguous_and_unmatched_edits_apply_nothing_and_say_where(tmp_path: Path) -> None:
    (tmp_path / "calc.py").write_text(CALC)
    reply = block("calc.py", "    return a - b\n", "    return a + b\n") + block(
        "calc.py", "def div(a, b):\n    return a / b\n", "pass\n"
    )
    proposal = propose(tmp_path, reply)
    problems = proposal.all_problems
    assert "matches 2 places in calc.py (lines 2, 6)" in problems[0]
    assert "does not match calc.py" in problems[1]
    assert "| def add(a, b):" in problems[1] or "| def sub(a, b):" in problems[1]
    outcome = apply_proposal(proposal)
    assert not outcome.ok and outcome.message == "Nothing to apply: no accepted changes."
    assert (tmp_path / "calc.py").read_text() == CALC


def test_a_file_changed_since_the_proposal_stops_the_whole_apply(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("alpha\n")
    (tmp_path / "b.txt").write_text("beta\n")
    proposal = build_proposal(
        tmp_path, [sr("a.txt", "alpha\n", "ALPHA\n"), sr("b.txt", "beta\n", "BETA\n")]
    )
    (tmp_path / "b.txt").write_text("beta, edited in another window\n")
    outcome = apply_proposal(proposal)
    assert not outcome.ok
    assert "b.txt was changed by something else since the proposal was made" in outcome.message
    assert "Nothing was applied" in outcome.message
    assert (tmp_path / "a.txt").read_text() == "alpha\n"  # not half applied
    assert proposal.disk_state("b.txt").text == "beta, edited in another window\n"


def test_a_new_file_that_appeared_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    proposal = build_proposal(tmp_path, [sr("new.py", "", "x = 1\n")])
    (tmp_path / "new.py").write_text("mine\n")
    outcome = apply_proposal(proposal)
    assert "new.py was created by something else" in outcome.message
    assert (tmp_path / "new.py").read_text() == "mine\n"


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("../escape.txt", "'..' is refused"),
        ("sub/../../escape.txt", "'..' is refused"),
        ("/tmp/escape.txt", "absolute paths are refused"),
        ("~/escape.txt", "absolute paths are refused"),
        (".git/config", "never writes inside .git"),
        ("sub/.GIT/hooks/pre-commit", "never writes inside .git"),
    ],
)
def test_paths_leaving_the_root_or_into_git_are_refused(
    tmp_path: Path, name: str, says: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    proposal = build_proposal(root, [sr(name, "", "pwned\n")])
    assert proposal.to_write == []
    assert says in proposal.refused[0].reason  # refused by edits.policy, with the reason
    assert not (tmp_path / "escape.txt").exists()


def test_symlinks_leading_outside_are_refused(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (root / "link.txt").symlink_to(outside / "secret.txt")
    (root / "linkdir").symlink_to(outside)
    (root / "gitlink").symlink_to(root / ".git", target_is_directory=True)
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    proposal = build_proposal(
        root,
        [
            sr("link.txt", "secret\n", "stolen\n"),
            sr("linkdir/secret.txt", "secret\n", "stolen\n"),
            sr("linkdir/new.txt", "", "planted\n"),
            sr("gitlink/config", "[core]\n", "[core]\nhooksPath = /tmp\n"),
        ],
    )
    assert proposal.to_write == []
    problems = "\n".join(r.describe() for r in proposal.refused)
    assert "link.txt: refused, link.txt is a link to" in problems and "outside" in problems
    assert "linkdir/secret.txt: refused, linkdir is a link to" in problems
    assert "linkdir/new.txt: refused, linkdir is a link to" in problems
    assert "leads into .git" in problems
    assert (outside / "secret.txt").read_text() == "secret\n"
    assert not (outside / "new.txt").exists()


def test_symlink_swapped_in_after_the_proposal_is_refused_at_apply(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "pkg").mkdir(parents=True)
    outside.mkdir()
    (root / "pkg" / "mod.py").write_text("x = 1\n")
    (outside / "mod.py").write_text("x = 1\n")
    proposal = build_proposal(root, [sr("pkg/mod.py", "x = 1\n", "x = 2\n")])
    shutil.rmtree(root / "pkg")
    (root / "pkg").symlink_to(outside)
    outcome = apply_proposal(proposal)
    assert not outcome.ok and "pkg is a link to" in outcome.message
    assert (outside / "mod.py").read_text() == "x = 1\n"


def test_a_symlink_inside_the_root_is_followed_and_kept(tmp_path: Path) -> None:
    (tmp_path / "real.py").write_text("x = 1\n")
    (tmp_path / "alias.py").symlink_to("real.py")
    outcome = apply_proposal(build_proposal(tmp_path, [sr("alias.py", "x = 1\n", "x = 2\n")]))
    assert outcome.ok, outcome.message
    assert (tmp_path / "alias.py").is_symlink()
    assert (tmp_path / "real.py").read_text() == "x = 2\n"


def test_binary_files_are_never_edited(tmp_path: Path) -> None:
    (tmp_path / "nul.txt").write_bytes(b"text\n\0more\n")
    (tmp_path / "latin1.txt").write_bytes("café\n".encode("latin-1"))
    proposal = build_proposal(
        tmp_path,
        [
            sr("nul.txt", "text\n", "x\n"),
            sr("latin1.txt", "caf\n", "x\n"),
            sr("n.py", "", "a\0b\n"),
        ],
    )
    problems = "\n".join(proposal.all_problems)
    assert "nul.txt is not a text file" in problems
    assert "latin1.txt is not a text file" in problems
    outcome = apply_proposal(proposal)  # the NUL in the new file's content is refused too
    assert not outcome.ok and "not text" in outcome.message
    assert not (tmp_path / "n.py").exists()


def test_a_file_that_became_binary_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    proposal = build_proposal(tmp_path, [sr("a.txt", "a\n", "b\n")])
    (tmp_path / "a.txt").write_bytes(b"\0\1\2")
    assert not apply_proposal(proposal).ok
    assert (tmp_path / "a.txt").read_bytes() == b"\0\1\2"


def test_mode_is_kept_and_new_files_follow_the_umask(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o750)
    old_umask = os.umask(0o027)
    try:
        proposal = build_proposal(
            tmp_path,
            [sr("run.sh", "echo hi\n", "echo hello\n"), sr("deep/new/file.txt", "", "x\n")],
        )
        assert apply_proposal(proposal).ok
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(script.stat().st_mode) == 0o750
    assert script.read_text() == "#!/bin/sh\necho hello\n"
    assert stat.S_IMODE((tmp_path / "deep/new/file.txt").stat().st_mode) == 0o640
    leftovers = [p.name for p in tmp_path.rglob("*") if ".rung-" in p.name]
    assert leftovers == []  # no temporary files left behind


def test_a_file_can_be_emptied(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("only line\n")
    assert apply_proposal(build_proposal(tmp_path, [sr("a.txt", "only line\n", "")])).ok
    assert (tmp_path / "a.txt").read_bytes() == b""


def test_write_failure_midway_restores_what_was_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    proposal = build_proposal(
        tmp_path, [sr("a.txt", "a\n", "A\n"), sr("new/c.txt", "", "c\n"), sr("b.txt", "b\n", "B\n")]
    )
    real_write = writes.write_atomic

    def failing(path: Path, data: bytes, mode: int | None, private: bool = False) -> None:
        if path.name == "b.txt" and data == b"B\n":
            raise OSError(28, "No space left on device")
        real_write(path, data, mode, private)

    monkeypatch.setattr(writes, "write_atomic", failing)
    outcome = apply_proposal(proposal)
    assert not outcome.ok
    assert "while writing b.txt (No space left on device)" in outcome.message
    assert "a.txt, new/c.txt put back as before" in outcome.message
    assert (tmp_path / "a.txt").read_text() == "a\n"
    assert (tmp_path / "b.txt").read_text() == "b\n"
    assert not (tmp_path / "new").exists()


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout


@needs_git
@pytest.mark.parametrize("in_git", [True, False])
def test_apply_works_the_same_in_and_outside_a_git_repository(tmp_path: Path, in_git: bool) -> None:
    (tmp_path / "calc.py").write_text(CALC)
    if in_git:
        git(tmp_path, "init", "-q")
        git(tmp_path, "add", "calc.py")
        index_before = (tmp_path / ".git" / "index").read_bytes()
    outcome = apply_proposal(propose(tmp_path, DIFF_REPLY))
    assert outcome.ok, outcome.message
    assert "return a + b" in (tmp_path / "calc.py").read_text()
    if in_git:
        assert (tmp_path / ".git" / "index").read_bytes() == index_before  # nothing staged
        status = git(tmp_path, "status", "--porcelain")
        assert status.splitlines() == ["AM calc.py", "?? tests/"]


def test_a_save_between_the_checks_and_the_write_is_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    proposal = build_proposal(tmp_path, [sr("a.txt", "a\n", "A\n"), sr("b.txt", "b\n", "B\n")])
    real_check = writes.check

    def check_then_editor_saves(root: Path, planned: list[writes.FileWrite]) -> list:
        checked = real_check(root, planned)
        (tmp_path / "b.txt").write_text("b, saved by an editor just now\n")
        return checked

    monkeypatch.setattr(writes, "check", check_then_editor_saves)
    outcome = apply_proposal(proposal)
    assert not outcome.ok
    assert "b.txt was changed by something else since the proposal was made" in outcome.message
    assert (tmp_path / "a.txt").read_text() == "a\n"
    assert (tmp_path / "b.txt").read_text() == "b, saved by an editor just now\n"
