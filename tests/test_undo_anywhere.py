"""`rung undo` from any folder inside the project: the journal is found from the git
root, or from the nearest folder above with one, whichever the edits were applied in."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rung.engine.edits.writes import FileWrite
from rung.engine.workspace import edits_journal
from tests.test_cli import rung


def git_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src" / "pkg").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, timeout=30)
    (root / "src" / "pkg" / "calc.py").write_text("x = 1\n")
    return root


def test_undo_redo_and_list_from_a_subfolder_of_the_git_repository(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    calc = root / "src" / "pkg" / "calc.py"
    # Applied with Rung started at the repository root (as `rung ask --apply` does).
    edits_journal(root).record([FileWrite("src/pkg/calc.py", b"x = 1\n", b"x = 2\n")], "Bump x")
    deep = root / "src" / "pkg"
    listed = rung(tmp_path, "undo", "--list", cwd=deep)
    assert listed.returncode == 0, listed.stderr
    assert "Bump x  [src/pkg/calc.py]" in listed.stdout
    undone = rung(tmp_path, "undo", cwd=deep)
    assert undone.returncode == 0, undone.stderr
    assert undone.stdout.strip() == "Undid “Bump x”: restored src/pkg/calc.py."
    assert calc.read_text() == "x = 1\n"
    redone = rung(tmp_path, "undo", "--redo", cwd=root / "src")
    assert redone.returncode == 0, redone.stderr
    assert calc.read_text() == "x = 2\n"
    assert "(undone)" not in rung(tmp_path, "undo", "--list", cwd=deep).stdout


def test_the_nearest_folder_with_a_journal_wins(tmp_path: Path) -> None:
    # Rung was started in src/ (not the repository root) and applied there.
    root = git_project(tmp_path)
    src = root / "src"
    edits_journal(src).record([FileWrite("pkg/calc.py", b"x = 1\n", b"x = 3\n")], "In src")
    listed = rung(tmp_path, "undo", "--list", cwd=src / "pkg")
    assert "In src  [pkg/calc.py]" in listed.stdout
    undone = rung(tmp_path, "undo", cwd=src / "pkg")
    assert undone.returncode == 0, undone.stderr
    assert (src / "pkg" / "calc.py").read_text() == "x = 1\n"


def test_outside_a_repository_the_nearest_folder_with_a_journal_is_used(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    (root / "a" / "b").mkdir(parents=True)
    (root / "notes.txt").write_text("one\n")
    edits_journal(root).record([FileWrite("notes.txt", b"one\n", b"two\n")], "Notes")
    undone = rung(tmp_path, "undo", cwd=root / "a" / "b")
    assert undone.returncode == 0, undone.stderr
    assert (root / "notes.txt").read_text() == "one\n"


def test_nothing_to_undo_names_the_repository_root_and_stops_there(tmp_path: Path) -> None:
    # A journal above the repository belongs to another project: not used from inside.
    outer = tmp_path / "outer"
    outer.mkdir()
    (outer / "f.txt").write_text("a\n")
    edits_journal(outer).record([FileWrite("f.txt", b"a\n", b"b\n")], "Outer")
    root = git_project(outer)
    nothing = rung(tmp_path, "undo", cwd=root / "src" / "pkg")
    assert nothing.returncode == 1
    assert nothing.stderr.strip() == f"rung undo: Nothing to undo in {root.resolve()}."
    assert (outer / "f.txt").read_text() == "b\n"
    empty = rung(tmp_path, "undo", "--list", cwd=root / "src")
    assert empty.stdout.strip() == f"No edits applied by Rung in {root.resolve()}."


async def test_the_chat_screen_undoes_the_projects_edits_from_a_subfolder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rung.engine.config import load_config
    from rung.tui.app import RungApp
    from tests.scripted import Script, local

    root = git_project(tmp_path)
    calc = root / "src" / "pkg" / "calc.py"
    edits_journal(root).record([FileWrite("src/pkg/calc.py", b"x = 1\n", b"x = 2\n")], "Bump x")
    monkeypatch.chdir(root / "src")  # Rung started in a subfolder of the repository
    tier = local(Script(pieces=["ok"]))
    config = load_config()
    config.set("ladder", "rungs", [tier.name])
    config.set("ladder", "mode", tier.name)
    app = RungApp(config, tiers={tier.name: tier})
    shown: list[str] = []
    async with app.run_test(size=(100, 30)):
        monkeypatch.setattr(app.chat, "notify", lambda message, **_: shown.append(message))
        app.chat.action_undo_edit()
        assert calc.read_text() == "x = 1\n"
        app.chat.action_redo_edit()
        assert calc.read_text() == "x = 2\n"
    assert shown == [
        "Undid “Bump x”: restored src/pkg/calc.py.",
        "Redid “Bump x”: src/pkg/calc.py.",
    ]
