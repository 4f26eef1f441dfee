"""The approval dialog as the dispatcher's ask callback, on the real app: a real
dispatcher over a real git project asks, the user answers with a key, and the file (or
the command) shows the answer."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Button, Static

from rung.engine.build_tiers import RungOverrides
from rung.engine.config import load_config
from rung.tui.app import RungApp
from rung.tui.approval import ApprovalScreen, asker
from tests.agent.helpers import dispatcher, git_project
from tests.conftest import wait_for

FIX = {"path": "src/calc.py", "old_string": "a - b", "new_string": "a + b"}


@pytest.fixture
def app(servers, monkeypatch) -> RungApp:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-approval")
    server = servers(lambda r: [])
    return RungApp(load_config(), RungOverrides(tier="openai", base_url=server.url + "/v1"))


def shown(screen: ApprovalScreen, ident: str) -> str:
    console = Console(width=100, record=True, file=io.StringIO())
    console.print(screen.query_one(ident, Static).content)
    return console.export_text()


async def asked(app: RungApp) -> ApprovalScreen:
    await wait_for(
        lambda: isinstance(app.screen, ApprovalScreen) and bool(app.screen.query("#deny"))
    )
    assert isinstance(app.screen, ApprovalScreen)
    return app.screen


async def test_allow_once_shows_the_diff_and_the_rule_then_edits(app, tmp_path: Path) -> None:
    root = git_project(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        tools = dispatcher(root, ask=asker(app))
        call = asyncio.create_task(tools.call("edit", FIX))
        screen = await asked(app)
        assert "edit src/calc.py" in shown(screen, "#approval-summary")
        detail = shown(screen, "#approval-detail-text")
        assert "-    return a - b" in detail and "+    return a + b" in detail
        assert "edit:src/calc.py" in shown(screen, "#approval-always")
        await pilot.press("y")
        result = await asyncio.wait_for(call, 10)
        assert not result.is_error
        assert "a + b" in (root / "src/calc.py").read_text()
        # Once is once: the next edit asks again.
        again = asyncio.create_task(
            tools.call("edit", {**FIX, "old_string": "a + b", "new_string": "b + a"})
        )
        await asked(app)
        await pilot.press("n")
        assert (await asyncio.wait_for(again, 10)).is_error
        assert "a + b" in (root / "src/calc.py").read_text()


async def test_escape_denies_and_nothing_changes(app, tmp_path: Path) -> None:
    root = git_project(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        tools = dispatcher(root, ask=asker(app))
        call = asyncio.create_task(tools.call("edit", FIX))
        await asked(app)
        await pilot.press("escape")
        result = await asyncio.wait_for(call, 10)
        assert result.is_error and "denied" in result.text.lower()
        assert "a - b" in (root / "src/calc.py").read_text()
        assert not isinstance(app.screen, ApprovalScreen)


async def test_always_saves_the_rule_and_stops_asking(app, tmp_path: Path) -> None:
    root = git_project(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        tools = dispatcher(root, ask=asker(app))
        call = asyncio.create_task(tools.call("edit", FIX))
        await asked(app)
        await pilot.press("a")
        assert not (await asyncio.wait_for(call, 10)).is_error
        second = await asyncio.wait_for(
            tools.call("edit", {**FIX, "old_string": "a + b", "new_string": "b + a"}), 10
        )
        assert not second.is_error and not isinstance(app.screen, ApprovalScreen)
        assert "b + a" in (root / "src/calc.py").read_text()


async def test_a_sensitive_call_offers_no_always(app, tmp_path: Path) -> None:
    """Commands without a sandbox are asked each time: no rule to save, no Always."""
    root = git_project(tmp_path)
    async with app.run_test(size=(100, 30)) as pilot:
        tools = dispatcher(root, ask=asker(app), sandboxed=False)
        call = asyncio.create_task(tools.call("run", {"command": "echo approved-$((6*7))"}))
        screen = await asked(app)
        assert "echo approved-$((6*7))" in shown(screen, "#approval-detail-text")
        assert "not offered" in shown(screen, "#approval-always")
        assert [b.id for b in screen.query(Button)] == ["once", "deny"]
        await pilot.press("a")  # not offered: the dialog stays
        await pilot.pause()
        assert app.screen is screen and not call.done()
        await pilot.press("y")
        result = await asyncio.wait_for(call, 30)
        assert not result.is_error and "approved-42" in result.text
