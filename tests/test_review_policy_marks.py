"""The F10 review screen and what an edit may touch (security review issue 23): a file
the user did not attach is marked, a file that runs code by itself is marked and is
written only after its own yes (accepting its hunks is not enough), refused files are
listed and never written, and nearby edits are separate hunks. The real chat screen
driven by Pilot, real files in a temporary project."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Static

from rung.tui.confirm import ConfirmScreen
from rung.tui.review_screen import ReviewScreen
from tests.conftest import wait_for
from tests.scripted import Script, anthropic, local
from tests.test_coding_assistant import app_with, ask

F = "```"
CALC = "".join(f"x{i} = {i}\n" for i in range(1, 11))


def block(path: str, search: str, replace: str) -> str:
    return f"{path}\n{F}\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n{F}\n\n"


REPLY = (
    block("calc.py", "x3 = 3\n", "x3 = 30\n")
    + block("calc.py", "x7 = 7\n", "x7 = 70\n")
    + block("conftest.py", "", "import os\nos.system('id')\n")
    + block("notes.md", "", "# Notes\n")
    + block(".ssh/authorized_keys", "", "ssh-ed25519 AAAA attacker\n")
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    (work / "calc.py").write_text(CALC)
    monkeypatch.chdir(work)
    return work


def side(screen: ReviewScreen) -> str:
    return str(screen.query_one("#review-files", Static).render())


async def open_review(app, pilot) -> ReviewScreen:  # type: ignore[no-untyped-def]
    await ask(app, pilot, "Fix @calc.py please", 1)
    await pilot.press("f10")
    await wait_for(lambda: isinstance(app.screen, ReviewScreen))
    return app.screen


async def test_marks_and_a_separate_yes_for_a_file_that_runs_code(project: Path) -> None:
    app = app_with(local(), anthropic(Script(pieces=[REPLY])))
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_review(app, pilot)
        listed = side(screen)
        assert "calc.py  2/2" in listed and "calc.py  2/2 ·" not in listed  # attached
        assert "conftest.py  1/1 · not attached · runs code" in listed
        assert "notes.md  1/1 · not attached" in listed
        assert ".ssh/authorized_keys: refused" in listed
        # Nearby edits are two hunks: keep the first, reject the second.
        assert len(screen.proposal.file("calc.py").hunks) == 2
        await pilot.press("down", "r")
        await pilot.press("enter")  # accepting conftest.py's change is not its yes
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        question = str(app.screen.query_one(Static).render())
        assert "conftest.py runs code by itself" in question and "did not attach" in question
        await pilot.press("n")
        await wait_for(lambda: not isinstance(app.screen, (ReviewScreen, ConfirmScreen)))
        assert (project / "calc.py").read_text() == CALC.replace("x3 = 3\n", "x3 = 30\n")
        assert (project / "notes.md").read_text() == "# Notes\n"
        assert not (project / "conftest.py").exists()
        assert not (project / ".ssh").exists()


async def test_yes_writes_the_file_that_runs_code(project: Path) -> None:
    app = app_with(local(), anthropic(Script(pieces=[REPLY])))
    async with app.run_test(size=(160, 45)) as pilot:
        screen = await open_review(app, pilot)
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(lambda: not isinstance(app.screen, (ReviewScreen, ConfirmScreen)))
        assert (project / "conftest.py").read_text() == "import os\nos.system('id')\n"
        assert screen.proposal.file("conftest.py").confirmed
        assert not (project / ".ssh").exists()
