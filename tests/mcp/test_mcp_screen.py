"""Settings → MCP (app/tui/mcp_screen.py) driven by Pilot: the real stdio demo server
tested from the screen, a server that cannot start shown failed with its reason, a server
added, refused with a key in it (nothing lost), disabled; a project's .mcp.json trusted."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

from textual.app import App
from textual.widgets import Button, DataTable, Input, Static

from rung.engine.config import data_dir, load_config
from rung.engine.mcp.trust import TrustStore
from rung.tui.confirm import ConfirmScreen
from rung.tui.mcp_screen import McpScreen
from tests.conftest import wait_for
from tests.mcp.helpers import DEMO


class Host(App[None]):
    def __init__(self, root: Path) -> None:
        super().__init__()
        self.config = load_config()
        self.root = root
        self.dismissed: list[object] = []

    def on_mount(self) -> None:
        self.push_screen(McpScreen(self.config, self.root), self.dismissed.append)


def config_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config" / "rung" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def rows(screen: McpScreen) -> dict[str, list[str]]:
    table = screen.query_one("#mcp-servers", DataTable)
    return {str(r.key.value): [str(c) for c in table.get_row(r.key)] for r in table.rows.values()}


def detail(screen: McpScreen) -> str:
    return str(screen.query_one("#mcp-detail", Static).render())


async def test_the_screen_tests_servers_adds_refuses_a_key_and_disables(tmp_path: Path) -> None:
    path = config_file(
        tmp_path,
        f'[mcp.servers.demo]\ncommand = "{sys.executable}"\nargs = ["{DEMO}", "stdio"]\n\n'
        f'[mcp.servers.gone]\ncommand = "{tmp_path}/no-such-server"\n',
    )
    app = Host(tmp_path)
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, McpScreen)
        assert rows(screen)["demo"][1:4] == ["stdio", "enabled", "-"]
        table = screen.query_one("#mcp-servers", DataTable)
        table.move_cursor(row=0)
        screen.query_one("#mcp-test", Button).press()
        await wait_for(lambda: "9 tools" in detail(screen), timeout=60)
        assert rows(screen)["demo"][2:4] == ["ok", "9"]
        assert "demo__read_fixture (read-only)" in detail(screen)

        table.move_cursor(row=1)
        screen.query_one("#mcp-test", Button).press()
        await wait_for(lambda: "gone failed" in detail(screen), timeout=60)
        assert rows(screen)["gone"][2] == "failed" and "not found" in rows(screen)["gone"][4]

        # Add a server with a key typed into a header: refused, what was typed is kept.
        screen.query_one("#mcp-add", Button).press()
        await pilot.pause()
        screen.query_one("#mcp-f-name", Input).value = "web"
        screen.query_one("#mcp-f-url", Input).value = "https://mcp.example.com/mcp"
        headers = screen.query_one("#mcp-f-headers", Input)
        headers.value = "Authorization='Bearer ghp_abcdefghijklmnopqrstuvwxyz0123456789'"
        screen.query_one("#mcp-save", Button).press()
        await pilot.pause()
        assert "Not saved" in detail(screen) and "looks like a key" in detail(screen)
        assert "web" not in tomllib.loads(path.read_text())["mcp"]["servers"]
        assert screen.query_one("#mcp-f-name", Input).value == "web"
        headers.value = "Authorization='Bearer ${keyring:web}'"
        screen.config.set("ui", "max_tokens", 777)  # another screen's unsaved edit
        screen.query_one("#mcp-save", Button).press()
        await pilot.pause()
        saved = tomllib.loads(path.read_text())["mcp"]["servers"]
        assert saved["web"] == {
            "url": "https://mcp.example.com/mcp",
            "headers": {"Authorization": "Bearer ${keyring:web}"},
        }
        assert saved["demo"]["args"] == [str(DEMO), "stdio"]  # the others as they were
        assert "777" not in path.read_text()  # only [mcp] was written
        assert rows(screen)["web"][1:3] == ["http", "enabled"]

        # Disable demo.
        table.move_cursor(row=0)
        await pilot.pause()
        screen.query_one("#mcp-toggle", Button).press()
        await pilot.pause()
        assert tomllib.loads(path.read_text())["mcp"]["servers"]["demo"]["enabled"] is False
        assert rows(screen)["demo"][2] == "disabled"
        assert str(screen.query_one("#mcp-toggle", Button).label) == "Enable"
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, McpScreen)
        # Dismissed with the new [mcp] table, for the app's own config.
        assert app.dismissed == [tomllib.loads(path.read_text())["mcp"]]


async def test_a_projects_mcp_json_is_trusted_from_the_screen(tmp_path: Path) -> None:
    config_file(tmp_path, "")
    root = tmp_path / "project"
    root.mkdir()
    spec = {"command": sys.executable, "args": [str(DEMO), "stdio"]}
    (root / ".mcp.json").write_text(json.dumps({"mcpServers": {"proj": spec}}))
    app = Host(root)
    async with app.run_test(size=(140, 50)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, McpScreen)
        assert rows(screen)["untrusted:proj"][2] == "untrusted"
        trust = screen.query_one("#mcp-trust", Button)
        assert trust.display
        trust.press()
        await wait_for(lambda: isinstance(app.screen, ConfirmScreen))
        assert "demo_server.py" in str(app.screen.query_one(Static).render())
        await pilot.press("y")
        await pilot.pause()
        assert TrustStore(data_dir()).trusted(root, root / ".mcp.json")
        assert rows(screen)["proj"][1:3] == ["stdio", "enabled"]
        assert not trust.display
