"""kill -9 in the middle of an apply, an undo or a redo loses nothing: the journal entry
(old and new bytes) is durable before the first file changes, and the next command that
opens the journal puts every file of the interrupted edit back as it was before it.

Real processes, really killed with SIGKILL: a helper applies (or undoes, or redoes) 400
files through the journal and is killed either at an exact rename (it stops there and
says so, then the test kills it) or after a random delay. Then the next command (a real
`rung undo`, or the journal opened again here) must leave every file of that edit all
old or all new, no temporary file behind, and undo and redo working.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rung.cli.undo import run_undo
from rung.engine.edits.writes import FileWrite
from rung.engine.workspace import edits_journal
from tests.conftest import subprocess_env
from tests.security.journal_kill_helper import (
    CHANGED,
    CREATED,
    FILES,
    big_writes,
    new_bytes,
    old_bytes,
)
from tests.test_cli import rung

HELPER = Path(__file__).with_name("journal_kill_helper.py")


@pytest.fixture
def place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Where the project and the journal live: tmpfs when there is one. A kill -9 is the
    same there (it is not a power loss); only fsync is free, which keeps 400-file runs
    fast on a shared machine (about 4 ms per fsync on this disk, 2 per file)."""
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(dir=shm, prefix="rung-journal-") as temp:
        monkeypatch.setenv("XDG_DATA_HOME", str(Path(temp) / "data"))
        yield Path(temp)


def cli(tmp_path: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A real `rung` with the same data directory as this test."""
    return rung(tmp_path, *args, cwd=cwd, XDG_DATA_HOME=os.environ["XDG_DATA_HOME"])


def make_project(place: Path) -> Path:
    root = place / "project"
    (root / "src").mkdir(parents=True)
    for n in range(CHANGED):
        (root / "src" / f"m{n:03d}.py").write_bytes(old_bytes(n))
    os.chmod(root / "src" / "m007.py", 0o755)  # a script: its mode must survive
    (root / "base.txt").write_text("base\n")
    # An earlier apply, so "undo still works" has something to undo besides the big one.
    edits_journal(root).record([FileWrite("base.txt", b"base\n", b"base 2\n")], "Earlier")
    return root


def state(root: Path) -> str:
    """ "old" or "new" when every file of the big edit is so; else what is mixed."""
    olds = news = 0
    for n in range(CHANGED):
        data = (root / "src" / f"m{n:03d}.py").read_bytes()
        olds += data == old_bytes(n)
        news += data == new_bytes(n)
    for n in range(CREATED):
        path = root / "gen" / "deep" / f"g{n:02d}.py"
        olds += not path.exists()
        news += path.exists() and path.read_bytes() == new_bytes(1000 + n)
    if olds == FILES and not (root / "gen").exists():
        return "old"
    if news == FILES:
        return "new"
    return f"mixed: {olds} old, {news} new of {FILES}"


def temp_files(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.rglob("*.rung-*.tmp")]


def run_helper(tmp_path: Path, root: Path, operation: str, stop_at: str = "-",
               when: str = "after", delay: float | None = None) -> str:  # fmt: skip
    """Run the helper; kill it with SIGKILL at its pause (or after ``delay`` seconds
    from "ready"). Returns how it ended: "killed" or "finished"."""
    child = subprocess.Popen(
        [sys.executable, str(HELPER), operation, str(root), stop_at, when],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=subprocess_env(tmp_path, XDG_DATA_HOME=os.environ["XDG_DATA_HOME"]), text=True,
    )  # fmt: skip
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        if delay is not None:
            time.sleep(delay)
        else:
            line = child.stdout.readline().strip()
            assert line == "paused", f"{line!r} {child.stderr.read()}"
        child.send_signal(signal.SIGKILL)
        code = child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    return "killed" if code == -signal.SIGKILL else "finished"


def check_whole_and_working(root: Path) -> str:
    """After the next opening of the journal: the big edit all old or all new, nothing
    pending, no temporary file, the file mode kept, and undo/redo both work."""
    with contextlib.chdir(root), contextlib.redirect_stdout(io.StringIO()) as shown:
        assert run_undo(listing=True) == 0  # `rung undo --list`, in this process
    assert "Traceback" not in shown.getvalue()
    journal = edits_journal(root)
    now = state(root)
    assert now in ("old", "new"), now
    assert temp_files(root, journal.directory) == []
    assert "(interrupted" not in shown.getvalue()  # nothing is left pending
    assert stat.S_IMODE((root / "src" / "m007.py").stat().st_mode) == 0o755
    big = [entry for entry in journal.history() if entry.title == "Big change"]
    if now == "new":
        assert journal.undo().ok and state(root) == "old"
    if big:  # kept (an interrupted apply is not): it redoes and undoes whole
        assert journal.redo().ok and state(root) == "new"
        assert journal.undo().ok and state(root) == "old"
    # The earlier apply is still there to undo and redo.
    undone = journal.undo()
    assert undone.ok and "Earlier" in undone.message, undone.message
    assert (root / "base.txt").read_text() == "base\n"
    assert journal.redo().ok and (root / "base.txt").read_text() == "base 2\n"
    assert state(root) == "old"
    assert stat.S_IMODE((root / "src" / "m007.py").stat().st_mode) == 0o755
    return now


def test_killed_after_62_of_400_files_the_next_undo_restores_the_originals(
    tmp_path: Path, place: Path
) -> None:
    root = make_project(place)
    assert run_helper(tmp_path, root, "apply", stop_at="f62") == "killed"
    assert state(root).startswith("mixed: 338 old, 62 new")
    result = cli(tmp_path, "undo", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "An apply of 400 files (“Big change”) was interrupted" in result.stderr
    assert "restored the original files" in result.stderr
    assert state(root) == "old"
    assert (root / "base.txt").read_text() == "base 2\n"  # the recovery was this undo
    check_whole_and_working(root)


def test_killed_after_299_of_400_restored_by_undo_the_next_undo_finishes_it(
    tmp_path: Path, place: Path
) -> None:
    root = make_project(place)
    edits_journal(root).record(big_writes(), "Big change")
    assert run_helper(tmp_path, root, "undo", stop_at="f299") == "killed"
    assert state(root).startswith("mixed: 299 old, 101 new")
    result = cli(tmp_path, "undo", cwd=root)
    assert result.returncode == 0, result.stderr
    assert "An undo of 400 files (“Big change”) was interrupted; finished undoing it" in (
        result.stderr
    )
    assert state(root) == "old"
    redone = cli(tmp_path, "undo", "--redo", cwd=root)
    assert redone.returncode == 0, redone.stderr
    assert state(root) == "new"
    check_whole_and_working(root)


# Where to stop: "r<n>" the n-th rename of any file, "f<n>" of a project file; before
# or after it. An apply renames its journal entry (r1), the 400 files, the entry marked
# done (r402); an undo its entry, the 380 changed files (the 20 created ones are
# deleted), the entry (r382); a redo as an apply.
APPLY_POINTS = [("r1", "before"), ("r1", "after"), ("f1", "before"), ("f150", "after"),
                ("r402", "before"), ("r402", "after")]  # fmt: skip
UNDO_POINTS = [("undo", "r1", "before"), ("undo", "f1", "before"), ("undo", "r382", "before"),
               ("redo", "f1", "before"), ("redo", "f389", "after")]  # fmt: skip


@pytest.mark.parametrize(("stop_at", "when"), APPLY_POINTS)
def test_an_apply_killed_at_any_point_is_whole_after_the_next_command(
    tmp_path: Path, place: Path, stop_at: str, when: str
) -> None:
    root = make_project(place)
    assert run_helper(tmp_path, root, "apply", stop_at=stop_at, when=when) == "killed"
    expected = "new" if (stop_at, when) == ("r402", "after") else "old"
    assert check_whole_and_working(root) == expected


@pytest.mark.parametrize(("operation", "stop_at", "when"), UNDO_POINTS)
def test_an_undo_or_redo_killed_at_any_point_is_whole_after_the_next_command(
    tmp_path: Path, place: Path, operation: str, stop_at: str, when: str
) -> None:
    root = make_project(place)
    journal = edits_journal(root)
    journal.record(big_writes(), "Big change")
    if operation == "redo":
        assert journal.undo().ok
    assert run_helper(tmp_path, root, operation, stop_at=stop_at, when=when) == "killed"
    # Killed before its entry was marked, the undo never began; after, it is finished.
    # A redo is always taken back (every file as before it).
    expected = "new" if (operation, stop_at) == ("undo", "r1") else "old"
    assert check_whole_and_working(root) == expected


def test_kills_at_random_moments_never_leave_a_half_edit(tmp_path: Path, place: Path) -> None:
    seed = random.randrange(1 << 30)
    chance = random.Random(seed)
    # How long a whole apply takes here, so the kills land during it.
    root = make_project(place / "timing")
    started = time.monotonic()
    edits_journal(root).record(big_writes(), "Big change")
    took = time.monotonic() - started
    ends = []
    for run in range(4):
        root = make_project(place / f"run{run}")
        operation = "apply"
        if run % 2:
            edits_journal(root).record(big_writes(), "Big change")
            operation = "undo"
        delay = chance.uniform(0, took * 1.5)
        ended = run_helper(tmp_path, root, operation, delay=delay)
        ends.append(ended)
        now = check_whole_and_working(root)
        assert now in ("old", "new"), f"seed {seed}, run {run}, delay {delay:.3f}"
    print(f"seed {seed}: {ends}, a whole apply took {took:.3f} s")


def test_a_file_changed_by_someone_else_meanwhile_is_left_alone(
    tmp_path: Path, place: Path
) -> None:
    root = make_project(place)
    assert run_helper(tmp_path, root, "apply", stop_at="f62") == "killed"
    (root / "src" / "m010.py").write_text("# the user's own change\n")
    outside = place / "outside.py"
    outside.write_bytes(new_bytes(20))
    (root / "src" / "m020.py").unlink()
    (root / "src" / "m020.py").symlink_to(outside)  # now leads outside the project
    result = cli(tmp_path, "undo", cwd=root)
    assert result.returncode == 1
    left = "src/m010.py, src/m020.py were changed by something else and are left as found"
    assert left in result.stderr
    assert (root / "src" / "m010.py").read_text() == "# the user's own change\n"
    assert outside.read_bytes() == new_bytes(20)  # never written through the link
    assert (root / "src" / "m030.py").read_bytes() == old_bytes(30)  # the rest restored
    assert (root / "src" / "m300.py").read_bytes() == old_bytes(300)
    assert not (root / "gen").exists()
    assert temp_files(root) == []
    listed = cli(tmp_path, "undo", "--list", cwd=root)
    assert "Big change" in listed.stdout and "(undone)" in listed.stdout


async def test_the_chat_screen_says_an_interrupted_apply_was_rolled_back(
    tmp_path: Path, place: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rung.engine.config import load_config
    from rung.tui.app import RungApp
    from tests.scripted import Script, local

    root = make_project(place)
    assert run_helper(tmp_path, root, "apply", stop_at="f62") == "killed"
    monkeypatch.chdir(root)
    tier = local(Script(pieces=["ok"]))
    config = load_config()
    config.set("ladder", "rungs", [tier.name])
    config.set("ladder", "mode", tier.name)
    app = RungApp(config, tiers={tier.name: tier})
    shown: list[str] = []
    async with app.run_test(size=(100, 30)):
        monkeypatch.setattr(app.chat, "notify", lambda message, **_: shown.append(message))
        app.chat.action_undo_edit()
        assert state(root) == "old"
        app.chat.action_undo_edit()  # now the apply before it
        assert (root / "base.txt").read_text() == "base\n"
    assert shown == [
        "An apply of 400 files (“Big change”) was interrupted; restored the original files.",
        "Undid “Earlier”: restored base.txt.",
    ]
