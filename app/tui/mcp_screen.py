"""Settings → MCP: the MCP servers, their state (running, failed and why, how many
tools), add / edit / disable, Test (starts the server, lists its tools, stops it), and
trusting the project's ``.mcp.json``.

Opened with ``self.app.push_screen(McpScreen(config, Path.cwd()))``; pass the chat
agent's ``McpManager`` as ``live`` to show the running servers' states. Changes are
written to config.toml at once (only ``[mcp]``) and into ``config``; the screen dismisses
with the new ``[mcp]`` table when something changed (None otherwise), for the app to put
in its own config when ``config`` was a copy. They take effect in the next agent session.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Static

from rung.engine.config import Config, data_dir
from rung.engine.mcp.config import ServerConfig, ServerConfigError
from rung.engine.mcp.edit import ServerForm, form_of, save_server, servers_table, set_enabled
from rung.engine.mcp.manager import ProjectFile, configured_servers, key_lookup, project_file
from rung.engine.safe_text import for_terminal, one_line

FIELDS = (
    ("name", "Name (letters, digits, _ and -)"),
    ("command", "Command and arguments (stdio): npx -y @modelcontextprotocol/server-memory"),
    ("url", "or URL (streamable HTTP), e.g. https://mcp.example.com/mcp"),
    ("env", "Environment: KEY=VALUE … (secrets as KEY='${keyring:ENTRY}')"),
    ("headers", "Headers: KEY=VALUE … e.g. Authorization='Bearer ${keyring:ENTRY}'"),
    ("timeout", "Call timeout, seconds (default 60)"),
)


class McpScreen(ModalScreen["dict[str, Any] | None"]):
    DEFAULT_CSS = """
    McpScreen { align: center middle; }
    McpScreen > Vertical { width: 120; max-width: 98%; height: auto; max-height: 95%;
        border: round $accent; background: $surface; padding: 1 2; }
    McpScreen DataTable { height: auto; max-height: 12; margin: 1 0; }
    McpScreen #mcp-detail { height: auto; max-height: 12; }
    McpScreen Horizontal { height: auto; margin-top: 1; }
    McpScreen Button { margin-right: 1; min-width: 0; }
    McpScreen #mcp-form { height: auto; display: none; }
    McpScreen #mcp-form.editing { display: block; }
    """
    BINDINGS = [Binding("escape", "close", "Close", id="mcp-close")]

    def __init__(self, config: Config, root: Path, live: Any = None) -> None:
        super().__init__()
        self.config = config
        self.root = Path(root)
        self.live = live  # the running agent session's McpManager, if any
        self.servers: list[ServerConfig] = []
        self.project: ProjectFile | None = None
        self.tested: dict[str, tuple[str, int | None, str]] = {}  # name: (state, tools, why)
        self.editing: str | None = None  # the server the form edits ("" for a new one)
        self.changed = False  # config.toml's [mcp] was written

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "MCP servers: their tools join the agent's next session, under the "
                "permission rules (mcp:SERVER/TOOL).",
                markup=False,
            )
            table: DataTable[str] = DataTable(cursor_type="row", id="mcp-servers")
            table.add_columns("Name", "Type", "State", "Tools", "Detail")
            yield table
            yield Static("", id="mcp-detail", markup=False)
            with Horizontal():
                yield Button("Test", id="mcp-test", variant="primary", compact=True)
                yield Button("Add", id="mcp-add", compact=True)
                yield Button("Edit", id="mcp-edit", compact=True)
                yield Button("Disable", id="mcp-toggle", compact=True)
                yield Button("Trust .mcp.json", id="mcp-trust", variant="warning", compact=True)
                yield Button("Close  Esc", id="mcp-close", compact=True)
            with Vertical(id="mcp-form"):
                for key, label in FIELDS:
                    yield Static(label, markup=False)
                    yield Input(id=f"mcp-f-{key}", compact=True)
                with Horizontal():
                    yield Button("Save", id="mcp-save", variant="success", compact=True)
                    yield Button("Cancel", id="mcp-cancel", compact=True)

    def on_mount(self) -> None:
        self.reload()
        self.query_one("#mcp-servers", DataTable).focus()

    # -- the list ---------------------------------------------------------------------
    def reload(self) -> None:
        self.servers, problems = configured_servers(self.config.raw, self.root, data_dir())
        self.project = project_file(self.root, data_dir())
        table = self.query_one("#mcp-servers", DataTable)
        keep = self.selected()
        table.clear()
        for server in self.servers:
            state, tools, why = self._state(server)
            count = "-" if tools is None else str(tools)
            detail = one_line(for_terminal(why or server.describe()), 70)
            table.add_row(server.name, server.transport, state, count, detail, key=server.name)
        if self.project is not None and not self.project.trusted:
            for server in self.project.servers:
                if server.name not in {s.name for s in self.servers}:
                    detail = f"from {self.project.path.name}: trust it to use it"
                    table.add_row(server.name, server.transport, "untrusted", "-", detail,
                                  key=f"untrusted:{server.name}")  # fmt: skip
        self.query_one("#mcp-trust", Button).display = bool(
            self.project is not None and not self.project.trusted
        )
        names = [s.name for s in self.servers]
        if keep in names:
            table.move_cursor(row=names.index(keep))
        server = self.current()
        toggle = self.query_one("#mcp-toggle", Button)
        toggle.label = "Enable" if server is not None and not server.enabled else "Disable"
        if problems and not self.detail_text():
            self.say("\n".join(problems))

    def _state(self, server: ServerConfig) -> tuple[str, int | None, str]:
        live = self.live.servers.get(server.name) if self.live is not None else None
        if live is not None and live.state in ("running", "failed"):
            return live.state, len(live.tools) if live.state == "running" else None, live.reason
        if server.name in self.tested:
            return self.tested[server.name]
        return ("enabled" if server.enabled else "disabled"), None, ""

    def selected(self) -> str | None:
        table = self.query_one("#mcp-servers", DataTable)
        if table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return str(key) if key is not None else None

    def current(self) -> ServerConfig | None:
        name = self.selected()
        return next((s for s in self.servers if s.name == name), None)

    def say(self, text: str) -> None:
        self.query_one("#mcp-detail", Static).update(for_terminal(text))

    def detail_text(self) -> str:
        return str(self.query_one("#mcp-detail", Static).render())

    @on(DataTable.RowHighlighted)
    def _highlighted(self) -> None:
        server = self.current()
        toggle = self.query_one("#mcp-toggle", Button)
        toggle.label = "Enable" if server is not None and not server.enabled else "Disable"

    # -- Test -------------------------------------------------------------------------
    @on(Button.Pressed, "#mcp-test")
    def test_selected(self) -> None:
        server = self.current()
        if server is None:
            self.say("Choose a server to test (an untrusted one: trust the file first).")
            return
        self.say(f"Starting {server.name} …")
        self.query_one("#mcp-test", Button).disabled = True
        self._test(server)

    @work(exclusive=True, group="mcp-test", exit_on_error=False)
    async def _test(self, server: ServerConfig) -> None:
        from rung.engine.mcp.manager import McpManager

        manager = McpManager([replace(server, enabled=True)], data_dir() / "mcp",
                             key_lookup(self.config), cwd=self.root)  # fmt: skip
        try:
            tools, _ = await manager.start()
        finally:
            await manager.aclose()
            self.query_one("#mcp-test", Button).disabled = False
        running = manager.servers[server.name]
        if running.reason:
            self.tested[server.name] = ("failed", None, running.reason)
            self.reload()
            self.say(f"{server.name} failed: {running.reason}")
            return
        self.tested[server.name] = ("ok", len(tools), "")
        self.reload()
        lines = [f"{server.name}: started, {len(tools)} tools (stopped again):"]
        for tool in tools:
            mark = " (read-only)" if tool.read_only else ""
            about = tool.description.removeprefix(f"[MCP server {server.name}] ")
            lines.append(f"  {tool.name}{mark}: {one_line(about, 80)}")
        self.say("\n".join(lines))

    # -- add / edit / disable -----------------------------------------------------------
    @on(Button.Pressed, "#mcp-add")
    def add(self) -> None:
        self._open_form("", ServerForm())

    @on(Button.Pressed, "#mcp-edit")
    def edit(self) -> None:
        server = self.current()
        if server is None or server.source != "config":
            self.say(
                "Only servers of config.toml are edited here (a project's are in its .mcp.json)."
            )
            return
        table = servers_table(self.config).get(server.name, {})
        self._open_form(server.name, form_of(table, server.name))

    def _open_form(self, name: str, form: ServerForm) -> None:
        self.editing = name
        for key, _ in FIELDS:
            self.query_one(f"#mcp-f-{key}", Input).value = getattr(form, key)
        self.query_one("#mcp-form").add_class("editing")
        self.query_one("#mcp-f-name", Input).focus()

    def _close_form(self) -> None:
        self.editing = None
        self.query_one("#mcp-form").remove_class("editing")
        self.query_one("#mcp-servers", DataTable).focus()

    @on(Button.Pressed, "#mcp-cancel")
    def cancel_form(self) -> None:
        self._close_form()

    @on(Button.Pressed, "#mcp-save")
    def save(self) -> None:
        if self.editing is None:
            return
        form = ServerForm(**{k: self.query_one(f"#mcp-f-{k}", Input).value for k, _ in FIELDS})
        try:
            name = save_server(self.config, self.editing or None, form)
        except ServerConfigError as exc:
            self.say(f"Not saved: {exc}")  # the form keeps what was typed
            return
        except OSError as exc:
            self.say(f"Not saved: {self.config.path} cannot be written ({exc.strerror or exc})")
            return
        self.changed = True
        self._close_form()
        self.tested.pop(name, None)
        self.reload()
        self.say(
            f"Saved {name} in {self.config.path}; Test it, or use it in the next agent session."
        )

    @on(Button.Pressed, "#mcp-toggle")
    def toggle(self) -> None:
        server = self.current()
        if server is None or server.source != "config":
            self.say("Only servers of config.toml can be disabled here.")
            return
        try:
            set_enabled(self.config, server.name, not server.enabled)
        except OSError as exc:
            self.say(f"Not saved: {self.config.path} cannot be written ({exc.strerror or exc})")
            return
        self.changed = True
        self.tested.pop(server.name, None)
        self.reload()
        self.say(f"{server.name} {'enabled' if not server.enabled else 'disabled'}.")

    # -- trusting a project's .mcp.json -------------------------------------------------
    @on(Button.Pressed, "#mcp-trust")
    def trust(self) -> None:
        found = self.project
        if found is None or found.trusted:
            return
        from rung.tui.confirm import ConfirmScreen

        listing = "\n".join(f"  {s.name}: {s.describe()}" for s in found.servers) or "  (none)"
        question = (
            f"{found.path} asks Rung to run these MCP servers (programs the repository "
            f"chose, with your permissions):\n{for_terminal(listing)}\n\nTrust this file as "
            "it is now? A change to it is asked about again."
        )

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            from rung.engine.mcp.trust import TrustStore

            try:
                TrustStore(data_dir()).trust(self.root, found.path)
            except OSError as exc:
                self.say(f"Not trusted: {exc}")
                return
            self.reload()
            self.say(f"Trusted {found.path.name}: its servers start in the next agent session.")

        self.app.push_screen(ConfirmScreen(question, yes="Trust"), answered)

    @on(Button.Pressed, "#mcp-close")
    def action_close(self) -> None:
        if self.editing is not None:
            self._close_form()
            return
        self.dismiss(self.config.raw.get("mcp") if self.changed else None)
