"""Undo and redo restore exact bytes, refuse when someone else changed a file, and work
after a restart (a new process with the same data directory and root)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rung.engine.edits import journal as journal_module
from rung.engine.edits.apply import apply_proposal
from rung.engine.edits.errors import NotTextError
from rung.engine.edits.journal import Journal
from rung.engine.edits.outcome import Outcome
from rung.engine.edits.parse import Edit
from rung.engine.edits.review import build_proposal
from rung.engine.edits.textio import is_text
from rung.engine.edits.writes import FileWrite


def sr(path: str, search: str, replace: str) -> Edit:
    return Edit(path, search, replace, "search-replace", 1)


def apply(root: Path, journal: Journal, *edits: Edit, title: str | None = None) -> Outcome:
    proposal = build_proposal(root, list(edits))
    assert proposal.all_problems == []
    outcome = apply_proposal(proposal, journal, title)
    assert outcome.ok, outcome.message
    return outcome


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "app.py").write_bytes(b"x = 1\r\ny = 2\r\n")  # CRLF, to see bytes are exact
    return project


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data" / "edits"


def test_undo_restores_exact_bytes_and_redo_reapplies(root: Path, data: Path) -> None:
    journal = Journal(data, root)
    outcome = apply(root, journal, sr("app.py", "x = 1\n", "x = 10\n"), title="Bump x")
    assert outcome.entry_id == 1
    changed = (root / "app.py").read_bytes()
    assert changed == b"x = 10\r\ny = 2\r\n"
    undone = journal.undo()
    assert undone.ok and undone.message == "Undid “Bump x”: restored app.py."
    assert (root / "app.py").read_bytes() == b"x = 1\r\ny = 2\r\n"
    redone = journal.redo()
    assert redone.ok and redone.message == "Redid “Bump x”: app.py."
    assert (root / "app.py").read_bytes() == changed
    assert journal.redo().message == f"Nothing to redo in {root.resolve()}."


def test_undo_after_a_restart_with_new_objects(root: Path, data: Path) -> None:
    apply(root, Journal(data, root), sr("app.py", "x = 1\n", "x = 10\n"))
    apply(root, Journal(data, root), sr("app.py", "y = 2\n", "y = 20\n"))
    later = Journal(data, root)
    assert later.undo().ok
    assert (root / "app.py").read_bytes() == b"x = 10\r\ny = 2\r\n"
    assert Journal(data, root).undo().ok
    assert (root / "app.py").read_bytes() == b"x = 1\r\ny = 2\r\n"
    assert Journal(data, root).undo().message == f"Nothing to undo in {root.resolve()}."
    assert Journal(data, root).redo().ok
    assert (root / "app.py").read_bytes() == b"x = 10\r\ny = 2\r\n"


def test_undo_in_a_new_process(root: Path, data: Path) -> None:
    apply(
        root, Journal(data, root), sr("app.py", "x = 1\n", "x = 10\n"), sr("new.py", "", "n = 1\n")
    )
    script = (
        "import sys; from pathlib import Path\n"
        "from rung.engine.edits import Journal\n"
        "print(Journal(Path(sys.argv[1]), Path(sys.argv[2])).undo().message)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(data), str(root)],
        capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    assert (
        done.stdout.strip()
        == "Undid “Edit app.py and 1 more file”: restored app.py; removed new.py."
    )
    assert (root / "app.py").read_bytes() == b"x = 1\r\ny = 2\r\n"
    assert not (root / "new.py").exists()


def test_created_file_and_its_new_directories_go_away_on_undo(root: Path, data: Path) -> None:
    (root / "pkg").mkdir()
    journal = Journal(data, root)
    apply(root, journal, sr("pkg/sub/deeper/mod.py", "", "VALUE = 1\n"))
    assert (root / "pkg/sub/deeper/mod.py").read_text() == "VALUE = 1\n"
    assert journal.undo().message.endswith("removed pkg/sub/deeper/mod.py.")
    assert not (root / "pkg" / "sub").exists()
    assert (root / "pkg").is_dir()  # it was there before the apply
    assert journal.redo().ok
    assert (root / "pkg/sub/deeper/mod.py").read_text() == "VALUE = 1\n"
    assert journal.undo().ok
    assert not (root / "pkg" / "sub").exists()


def test_undo_refuses_when_the_file_was_changed_since(root: Path, data: Path) -> None:
    journal = Journal(data, root)
    apply(root, journal, sr("app.py", "x = 1\n", "x = 10\n"), sr("b.py", "", "b = 1\n"), title="T")
    (root / "b.py").write_text("b = 1  # edited by hand\n")
    outcome = journal.undo()
    assert not outcome.ok
    assert outcome.message == (
        "Cannot undo “T”: b.py was changed by something else since Rung applied it. "
        "Nothing was changed."
    )
    assert (root / "app.py").read_bytes() == b"x = 10\r\ny = 2\r\n"  # all or nothing
    (root / "b.py").unlink()
    assert "b.py was deleted by something else" in journal.undo().message
    (root / "b.py").write_text("b = 1\n")
    assert journal.undo().ok


def test_redo_refuses_when_the_file_was_changed_since_the_undo(root: Path, data: Path) -> None:
    journal = Journal(data, root)
    apply(root, journal, sr("app.py", "x = 1\n", "x = 10\n"), title="T")
    assert journal.undo().ok
    (root / "app.py").write_bytes(b"x = 1\r\ny = 2\r\nz = 3\r\n")
    outcome = journal.redo()
    assert not outcome.ok
    assert "app.py was changed by something else since it was undone" in outcome.message
    assert (root / "app.py").read_bytes() == b"x = 1\r\ny = 2\r\nz = 3\r\n"


def test_journal_is_private(root: Path, data: Path) -> None:
    apply(root, Journal(data, root), sr("app.py", "x = 1\n", "x = 10\n"))
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for path in data.rglob("*"):
        expected = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == expected, path


def test_history_lists_newest_first_and_marks_undone(root: Path, data: Path) -> None:
    journal = Journal(data, root)
    assert journal.history() == []
    apply(root, journal, sr("app.py", "x = 1\n", "x = 10\n"), title="First")
    apply(root, journal, sr("app.py", "y = 2\n", "y = 20\n"), title="Second")
    journal.undo()
    history = journal.history()
    assert [(e.id, e.title, e.undone) for e in history] == [
        (2, "Second", True),
        (1, "First", False),
    ]
    assert history[1].paths == ("app.py",)
    assert history[1].files[0].before == b"x = 1\r\ny = 2\r\n"
    line = history[0].describe()
    assert line.startswith("   2  20") and "Second  [app.py]  (undone)" in line
    assert journal.next_undo() == history[1] and journal.next_redo() == history[0]


def test_a_new_apply_after_undo_drops_the_redo(root: Path, data: Path) -> None:
    journal = Journal(data, root)
    apply(root, journal, sr("app.py", "x = 1\n", "x = 10\n"), title="First")
    journal.undo()
    apply(root, journal, sr("app.py", "y = 2\n", "y = 20\n"), title="Other")
    assert [e.title for e in journal.history()] == ["Other"]
    assert not journal.redo().ok


def test_history_is_per_root(tmp_path: Path, data: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for project in (one, two):
        project.mkdir()
        (project / "f.txt").write_text("a\n")
    apply(one, Journal(data, one), sr("f.txt", "a\n", "b\n"))
    assert Journal(data, two).history() == []
    assert not Journal(data, two).undo().ok
    assert (one / "f.txt").read_text() == "b\n"
    assert Journal(data, one).undo().ok


def test_old_entries_are_pruned(root: Path, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(journal_module, "MAX_ENTRIES", 2)
    journal = Journal(data, root)
    for n in range(4):
        apply(root, journal, sr("app.py", f"x = {n + 1}\n", f"x = {n + 2}\n"))
    assert [e.id for e in journal.history()] == [4, 3]


def test_damaged_journal_entry_is_a_message_not_a_traceback(root: Path, data: Path) -> None:
    journal = Journal(data, root)
    apply(root, journal, sr("app.py", "x = 1\n", "x = 10\n"))
    entry = next(data.rglob("000001.json"))
    entry.write_text("{not json")
    outcome = journal.undo()
    assert not outcome.ok
    assert "is damaged" in outcome.message and "Nothing was changed" in outcome.message
    assert (root / "app.py").read_bytes() == b"x = 10\r\ny = 2\r\n"
    apply(root, journal, sr("app.py", "y = 2\n", "y = 3\n"))  # still recordable, new number
    assert [e.id for e in journal.history()] == [2]


def test_journal_failure_rolls_the_apply_back(root: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the journal should be\n")
    outcome = apply_proposal(
        build_proposal(root, [sr("app.py", "x = 1\n", "x = 10\n")]),
        Journal(blocker / "edits", root),
    )
    assert not outcome.ok and "undo journal" in outcome.message
    assert (root / "app.py").read_bytes() == b"x = 1\r\ny = 2\r\n"


def test_undo_never_calls_git(root: Path, data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    subprocess.run(["git", "init", "-q"], cwd=root, check=False, capture_output=True)

    def no_subprocess(*args: object, **kwargs: object) -> None:
        raise AssertionError("edits must not run other programs")

    monkeypatch.setattr(subprocess, "Popen", no_subprocess)
    monkeypatch.setattr(os, "system", no_subprocess)
    journal = Journal(data, root)
    apply(root, journal, sr("app.py", "x = 1\n", "x = 10\n"))
    assert journal.undo().ok and journal.redo().ok


texts = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=200
)
MARK = "@@ rung-test-marker-4f1c9a @@"


@given(texts, texts, texts, st.booleans())
@settings(max_examples=60, deadline=None)
def test_apply_then_undo_restores_any_text_byte_for_byte(
    head: str, tail: str, new: str, crlf: bool
) -> None:
    eol = "\r\n" if crlf else "\n"
    original = f"{head}\n{MARK}{eol}{tail}".encode()
    with tempfile.TemporaryDirectory() as temp:
        project, data = Path(temp) / "p", Path(temp) / "d"
        project.mkdir()
        (project / "f.txt").write_bytes(original)
        proposal = build_proposal(project, [sr("f.txt", MARK + "\n", new)])
        assert proposal.all_problems == []
        journal = Journal(data, project)
        outcome = apply_proposal(proposal, journal)
        if not outcome.ok:
            assert outcome.message == "Nothing to apply: no accepted changes."
            assert proposal.file("f.txt").result_bytes() == original
            return
        applied = (project / "f.txt").read_bytes()
        assert applied == proposal.file("f.txt").result_bytes() != original
        assert journal.undo().ok
        assert (project / "f.txt").read_bytes() == original
        assert journal.redo().ok
        assert (project / "f.txt").read_bytes() == applied


@given(st.binary(max_size=300), st.binary(max_size=300))
@settings(max_examples=60, deadline=None)
def test_journal_round_trips_any_text_bytes(before: bytes, after: bytes) -> None:
    with tempfile.TemporaryDirectory() as temp:
        project, data = Path(temp) / "p", Path(temp) / "d"
        project.mkdir()
        (project / "f.txt").write_bytes(before)
        journal = Journal(data, project)
        try:
            journal.record([FileWrite("f.txt", before, after)], "raw")
        except NotTextError:
            assert not (is_text(before) and is_text(after))
            assert (project / "f.txt").read_bytes() == before
            return
        assert Journal(data, project).undo().ok
        assert (project / "f.txt").read_bytes() == before
        assert Journal(data, project).redo().ok
        assert (project / "f.txt").read_bytes() == after
