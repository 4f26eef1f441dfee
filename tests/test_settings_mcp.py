"""Settings (F6) → MCP opens the MCP servers screen on the real app, with the servers
the config names; what it changes reaches the app's own config."""

from __future__ import annotations

import sys
from pathlib import Path

from textual.widgets import Button, DataTable, TabbedContent

from rung.engine.config import load_config
from rung.tui.app import RungApp
from rung.tui.mcp_screen import McpScreen
from rung.tui.settings import SettingsScreen
from tests.conftest import wait_for
from tests.mcp.helpers import DEMO


async def test_settings_opens_the_mcp_screen_with_the_configured_servers(
    tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "config" / "rung" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    server = f'command = "{sys.executable}"\nargs = ["{DEMO}", "stdio"]\n'
    path.write_text(f"[mcp.servers.demo]\n{server}")
    config = load_config()
    config.set("ladder", "rungs", ["local"])
    app = RungApp(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f6")
        await wait_for(lambda: isinstance(app.screen, SettingsScreen))
        app.screen.query_one(TabbedContent).active = "tab-mcp"
        await pilot.pause()
        app.screen.query_one("#open-mcp", Button).press()
        await wait_for(lambda: isinstance(app.screen, McpScreen))
        await pilot.pause()
        table = app.screen.query_one("#mcp-servers", DataTable)
        assert [str(r.key.value) for r in table.rows.values()] == ["demo"]
