"""The coding assistant end to end (issue 13): attach a file, get proposed edits from a
rung, review them hunk by hunk, apply only what was accepted, undo and redo; the same
headless (`--diff` through real `git apply`, `--apply`, `rung undo`); the sessions
screen; @path completion and the cost of attachments. Real files in temporary
directories, the chat screen driven by Pilot, real `rung` processes."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from rung.engine.config import load_config
from rung.tui.app import RungApp
from rung.tui.confirm import AskScreen, ConfirmScreen
from rung.tui.review_screen import ReviewScreen
from rung.tui.sessions_screen import SessionsScreen
from rung.tui.widgets.messages import MessageList
from rung.tui.widgets.prompt import PromptInput
from tests.conftest import wait_for
from tests.fakes import openai_stream
from tests.scripted import Script, anthropic, local
from tests.test_cli import rung

FILLER = "".join(f"# line {i}\n" for i in range(12))
CALC = f"def add(a, b):\n    return a - b\n\n{FILLER}\ndef neg(a):\n    return a\n"
REPLY = """Two fixes:

calc.py
```python
<<<<<<< SEARCH
def add(a, b):
    return a - b
=======
def add(a, b):
    return a + b
>>>>>>> REPLACE
```

calc.py
```python
<<<<<<< SEARCH
def neg(a):
    return a
=======
def neg(a):
    return -a
>>>>>>> REPLACE
```
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    work = tmp_path / "project"
    work.mkdir()
    (work / "calc.py").write_text(CALC)
    monkeypatch.chdir(work)
    return work


def app_with(*tiers) -> RungApp:  # type: ignore[no-untyped-def]
    config = load_config()
    config.set("ladder", "rungs", [t.name for t in tiers])
    config.set("ladder", "mode", tiers[-1].name)
    return RungApp(config, tiers={t.name: t for t in tiers})


async def ask(app: RungApp, pilot, text: str, replies: int) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*text, "enter")
    await wait_for(lambda: len(app.chat.replies) >= replies and not app.chat.busy)


async def test_review_reject_one_hunk_apply_undo_redo(project: Path) -> None:
    coder = anthropic(Script(pieces=[REPLY]))
    app = app_with(local(), coder)
    async with app.run_test(size=(120, 40)) as pilot:
        await ask(app, pilot, "Fix @calc.py please", 1)
        # The model was told how to propose edits, and the reply is marked.
        assert "SEARCH/REPLACE" in (coder.requests[0].system or "")
        meta = str(app.chat.query_one(MessageList).assistant_items()[0].query_one(".meta").render())
        assert "2 edits to 1 file — F10 to review" in meta
        await pilot.press("f10")
        await wait_for(lambda: isinstance(app.screen, ReviewScreen))
        screen = app.screen
        assert [len(f.hunks) for f in screen.files] == [2]
        await pilot.press("down", "r")  # reject the second hunk (neg)
        assert [h.accepted for h in screen.files[0].hunks] == [True, False]
        await pilot.press("enter")
        await wait_for(lambda: not isinstance(app.screen, ReviewScreen))
        assert (project / "calc.py").read_text() == CALC.replace("a - b", "a + b")
        app.chat.action_undo_edit()
        assert (project / "calc.py").read_text() == CALC  # exactly as it was
        app.chat.action_redo_edit()
        assert (project / "calc.py").read_text() == CALC.replace("a - b", "a + b")


async def test_a_file_changed_since_the_proposal_is_not_written(project: Path) -> None:
    app = app_with(local(), anthropic(Script(pieces=[REPLY])))
    async with app.run_test(size=(120, 40)) as pilot:
        await ask(app, pilot, "Fix @calc.py please", 1)
        await pilot.press("f10")
        await wait_for(lambda: isinstance(app.screen, ReviewScreen))
        changed = CALC + "# edited by hand meanwhile\n"
        (project / "calc.py").write_text(changed)
        await pilot.press("enter")  # refused: the screen stays, nothing written
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen)
        assert (project / "calc.py").read_text() == changed
        await pilot.press("right")  # redraw: the file is shown as it is now
        await pilot.pause()
        shown = " ".join(str(w.render()) for w in app.screen.query(".changed"))
        assert "changed on disk since the proposal" in shown and "edited by hand" in shown


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_headless_diff_goes_through_git_apply(tmp_path: Path, servers) -> None:
    work = tmp_path / "project"
    work.mkdir()
    (work / "calc.py").write_text(CALC)
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "start"],
    ):
        _git(work, *args)  # fmt: skip
    api = servers(lambda r: openai_stream([REPLY]))
    base = ["ask", "--tier", "custom", "--base-url", api.url + "/v1", "--model", "m"]
    result = rung(tmp_path, *base, "--diff", "Fix @calc.py", cwd=work)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("diff --git a/calc.py b/calc.py")
    assert "Two fixes" in result.stderr and "Two fixes" not in result.stdout
    (tmp_path / "change.diff").write_text(result.stdout)
    checked = _git(work, "apply", "--check", str(tmp_path / "change.diff"))
    assert checked.returncode == 0, checked.stderr
    assert _git(work, "apply", str(tmp_path / "change.diff")).returncode == 0
    assert (work / "calc.py").read_text() == CALC.replace("a - b", "a + b").replace(
        "return a\n", "return -a\n"
    )


def test_headless_apply_then_undo_and_redo(tmp_path: Path, servers) -> None:
    work = tmp_path / "project"
    work.mkdir()
    (work / "calc.py").write_text(CALC)
    api = servers(lambda r: openai_stream([REPLY]))
    base = ["ask", "--tier", "custom", "--base-url", api.url + "/v1", "--model", "m"]
    applied = rung(tmp_path, *base, "--apply", "Fix @calc.py", cwd=work)
    assert applied.returncode == 0, applied.stderr
    assert "calc.py" in applied.stdout and "rung undo" in applied.stdout
    fixed = (work / "calc.py").read_text()
    assert "a + b" in fixed and "-a" in fixed
    listed = rung(tmp_path, "undo", "--list", cwd=work)
    assert "calc.py" in listed.stdout
    assert rung(tmp_path, "undo", cwd=work).returncode == 0
    assert (work / "calc.py").read_text() == CALC
    assert rung(tmp_path, "undo", "--redo", cwd=work).returncode == 0
    assert (work / "calc.py").read_text() == fixed
    nothing = rung(tmp_path, "undo", "--redo", cwd=work)
    assert nothing.returncode == 1 and "Traceback" not in nothing.stderr


def test_a_block_that_does_not_match_is_named_and_nothing_is_applied(
    tmp_path: Path, servers
) -> None:
    work = tmp_path / "project"
    work.mkdir()
    (work / "calc.py").write_text(CALC)
    wrong = REPLY.replace("    return a - b\n=======", "    return a * b\n=======")
    api = servers(lambda r: openai_stream([wrong]))
    base = ["ask", "--tier", "custom", "--base-url", api.url + "/v1", "--model", "m"]
    result = rung(tmp_path, *base, "--apply", "Fix @calc.py", cwd=work)
    assert result.returncode == 1
    assert "calc.py" in result.stderr and "nothing was applied" in result.stderr
    assert (work / "calc.py").read_text() == CALC  # the matching block was not applied either
    no_files = rung(tmp_path, *base, "--diff", "Fix it", cwd=work)
    assert no_files.returncode == 2 and "@path" in no_files.stderr


async def test_sessions_screen_search_rename_open_delete_export(project: Path) -> None:
    app = app_with(local(Script(pieces=["about cats"]), Script(pieces=["about dogs"])))
    async with app.run_test(size=(120, 36)) as pilot:
        await ask(app, pilot, "tell me about cats", 1)
        cats = app.session.session_id
        await pilot.press("ctrl+n")
        await ask(app, pilot, "tell me about dogs", 1)
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, SessionsScreen))
        screen = app.screen
        assert [r.id for r in screen.rows][:2] == [app.session.session_id, cats]
        await pilot.press(*"cats")
        await pilot.pause()
        assert [r.id for r in screen.rows] == [cats]
        await pilot.press("tab")  # from the search box to the list (Enter would open it)
        await pilot.press("ctrl+r")
        await wait_for(lambda: isinstance(app.screen, AskScreen))
        await pilot.press("ctrl+a", "ctrl+k", *"Feline notes", "enter")
        await wait_for(lambda: app.screen is screen)
        assert screen.rows[0].title == "Feline notes"
        await pilot.press("ctrl+e")  # export
        await pilot.pause()
        assert list(project.glob(f"rung-conversation-{cats}*.md"))
        await pilot.press("enter")  # open and continue it
        await wait_for(lambda: app.session.session_id == cats)
        items = app.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: len(items()) == 1)
        assert items()[0].text == "about cats"
        assert [m.content for m in app.conversation.history] == ["tell me about cats", "about cats"]
        # Delete the dogs conversation, after a yes.
        await pilot.press("ctrl+s")
        await wait_for(lambda: isinstance(app.screen, SessionsScreen))
        dogs = next(r.id for r in app.screen.rows if r.id != cats)
        app.screen.query_one("DataTable").move_cursor(
            row=[r.id for r in app.screen.rows].index(dogs)
        )
        app.screen.query_one("DataTable").focus()
        await pilot.press("delete")
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await pilot.pause()
        assert dogs not in [r.id for r in app.screen.rows]


def test_sessions_json_for_scripts(tmp_path: Path) -> None:
    assert rung(tmp_path, "ask", "--max-tokens", "3", "first question").returncode == 0
    assert rung(tmp_path, "ask", "--no-save", "--max-tokens", "3", "not kept").returncode == 0
    data = json.loads(rung(tmp_path, "sessions", "--json").stdout)
    assert len(data) == 1
    session = data[0]
    assert set(session) >= {"id", "title", "created", "cost_usd", "saved_usd", "messages"}
    assert session["title"] == "first question" and session["cost_usd"] == "0"
    roles = [(m["role"], m["status"], m["rung"]) for m in session["messages"]]
    assert roles[0] == ("user", "sent", None) and roles[1][1:] in (("stop", "local"),
                                                                   ("length", "local"))  # fmt: skip


async def test_at_completes_paths_and_shows_what_attachments_cost(project: Path) -> None:
    (project / "notes.md").write_text("x" * 4000)
    app = app_with(local(), anthropic())
    async with app.run_test(size=(120, 30)) as pilot:
        prompt = app.chat.query_one(PromptInput)
        await pilot.press(*"look at @ca")
        await pilot.pause()
        assert prompt.completing
        await pilot.press("tab")
        assert prompt.text == "look at @calc.py "
        await pilot.press(*"and @notes.md")
        await wait_for(lambda: bool(prompt.border_subtitle))
        subtitle = str(prompt.border_subtitle)
        assert "tokens attached" in subtitle and "on anthropic" in subtitle and "$" in subtitle


async def test_save_a_code_block_into_the_project_and_undo_it(project: Path) -> None:
    reply = "Here it is:\n\n```python\nprint('hello')\n```\n"
    app = app_with(local(Script(pieces=[reply])))
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(app, pilot, "hello program", 1)
        app.chat.action_save_code()
        await wait_for(lambda: isinstance(app.screen, AskScreen))
        await pilot.press("ctrl+a", "ctrl+k", *"tools/hello.py", "enter")
        await pilot.pause()
        assert (project / "tools" / "hello.py").read_text() == "print('hello')\n"
        app.chat.action_undo_edit()
        assert not (project / "tools" / "hello.py").exists()
        app.chat.action_save_code()
        await wait_for(lambda: isinstance(app.screen, AskScreen))
        await pilot.press("ctrl+a", "ctrl+k", *"../escape.py", "enter")
        await pilot.pause()
        assert not (project.parent / "escape.py").exists()
