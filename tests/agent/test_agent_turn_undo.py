"""One agent turn of several tool edits is one `rung undo` step, with exact bytes, also
from a new process; a file changed since stops the whole turn's undo."""

from __future__ import annotations

import subprocess
from pathlib import Path

from rung.engine.edits.writes import FileWrite
from rung.engine.workspace import edits_journal
from tests.test_cli import rung


def _project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, timeout=30)
    (root / "a.py").write_bytes(b"a = 1\r\n\xc3\xa9\r\n")  # CRLF and UTF-8 kept exactly
    (root / "b.py").write_bytes(b"b = 1\n")
    return root


def test_a_turn_of_three_edits_is_undone_and_redone_by_one_rung_undo(tmp_path: Path) -> None:
    root = _project(tmp_path)
    journal = edits_journal(root)
    journal.record([FileWrite("b.py", b"b = 1\n", b"b = 0\n")], "Earlier chat apply")
    journal.record([FileWrite("a.py", b"a = 1\r\n\xc3\xa9\r\n", b"a = 2\r\n\xc3\xa9\r\n")],
                   "edit a.py", turn="t1")  # fmt: skip
    journal.record([FileWrite("new/c.py", None, b"c\n")], "write new/c.py", turn="t1")
    journal.record([FileWrite("a.py", b"a = 2\r\n\xc3\xa9\r\n", b"a = 3\r\n")], "edit a.py",
                   turn="t1")  # fmt: skip

    undone = rung(tmp_path, "undo", cwd=root)
    assert undone.returncode == 0, undone.stderr
    assert "one turn of 3 edits" in undone.stdout
    assert (root / "a.py").read_bytes() == b"a = 1\r\n\xc3\xa9\r\n"
    assert not (root / "new").exists()  # the created file and its folder are gone
    assert (root / "b.py").read_bytes() == b"b = 0\n"  # the earlier apply is its own step

    redone = rung(tmp_path, "undo", "--redo", cwd=root)
    assert redone.returncode == 0, redone.stderr
    assert (root / "a.py").read_bytes() == b"a = 3\r\n"
    assert (root / "new" / "c.py").read_bytes() == b"c\n"

    rung(tmp_path, "undo", cwd=root)
    second = rung(tmp_path, "undo", cwd=root)
    assert second.returncode == 0, second.stderr
    assert "Earlier chat apply" in second.stdout
    assert (root / "b.py").read_bytes() == b"b = 1\n"


def test_a_file_changed_since_stops_the_whole_turn_and_changes_nothing(tmp_path: Path) -> None:
    root = _project(tmp_path)
    journal = edits_journal(root)
    journal.record([FileWrite("b.py", b"b = 1\n", b"b = 2\n")], "edit b.py", turn="t1")
    journal.record([FileWrite("a.py", b"a = 1\r\n\xc3\xa9\r\n", b"a = 2\n")], "edit a.py",
                   turn="t1")  # fmt: skip
    (root / "b.py").write_bytes(b"b = 99\n")  # the user changed it after the turn
    outcome = journal.undo()
    assert not outcome.ok
    assert "b.py was changed since" in outcome.message
    assert "Nothing was changed" in outcome.message
    assert (root / "a.py").read_bytes() == b"a = 2\n"  # not half undone
    assert (root / "b.py").read_bytes() == b"b = 99\n"
