"""Every conversation in one screen: what it was about, when, on which rungs, what it
cost and saved; search, open and continue, rename, delete (after a yes), export.

The screen reads the history and asks the app to do the rest: it dismisses with what
the user chose (open a session), and renames, deletes and exports through the store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from rung.engine.attachments import typed_part
from rung.engine.config import Config
from rung.engine.export import export_session
from rung.engine.safe_text import for_terminal, one_line
from rung.engine.store import SessionSummary, Store
from rung.tiers.pricing import format_usd
from rung.tui.confirm import AskScreen, ConfirmScreen

LIMIT = 500  # a screen, not an archive: the newest 500
COLUMNS = ("#", "when", "title", "rungs", "msgs", "cost", "saved")
TITLE = COLUMNS.index("title")
WIDE = 120  # columns from which the full date and time and longer rung lists are shown
FRAME = 6  # the border, the padding and the table's scrollbar
CELL_PADDING = 2  # a DataTable cell's padding, both sides
MIN_TITLE, MAX_TITLE = 12, 48


@dataclass(frozen=True)
class OpenSession:
    session_id: int


class SessionsScreen(ModalScreen["OpenSession | None"]):
    DEFAULT_CSS = """
    SessionsScreen { align: center middle; }
    SessionsScreen > Vertical { width: 100%; height: 100%; border: round $accent;
        background: $surface; padding: 0 1; }
    SessionsScreen DataTable { height: 1fr; }
    SessionsScreen .hint { color: $text-muted; height: auto; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close", id="sessions-close"),
        Binding("enter", "open", "Open", id="sessions-open", priority=True),
        Binding("ctrl+r", "rename", "Rename", id="sessions-rename", priority=True),
        Binding("delete,ctrl+d", "delete", "Delete", id="sessions-delete", priority=True),
        Binding("ctrl+e", "export", "Export", id="sessions-export", priority=True),
    ]

    def __init__(self, store: Store, config: Config, current: int | None) -> None:
        super().__init__()
        self.store = store
        self.config = config
        self.current = current
        self.rows: list[SessionSummary] = []

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(
                "Sessions · type to search · Enter open and continue · Ctrl+R rename · "
                "Del delete · Ctrl+E export · Esc close",
                classes="hint",
                markup=False,
            )
            yield Input(placeholder="search titles and questions", id="search")
            yield DataTable(cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        self.reload()
        self.query_one("#search", Input).focus()

    def reload(self, query: str = "") -> None:
        try:
            # Searched by the store: the title and every question, not just the first.
            rows = self.store.sessions(limit=LIMIT, search=query)
        except Exception as exc:  # a damaged file: say so, show nothing
            self.notify(f"Cannot read the history: {for_terminal(str(exc))}",
                        severity="error", markup=False)  # fmt: skip
            rows = []
        self.rows = rows
        table = self.query_one(DataTable)
        table.clear(columns=True)
        wide = self.app.size.width >= WIDE
        cells = [self._cells(r, wide) for r in rows]
        # The title takes what the other columns leave: at 80 columns the rung, cost and
        # saved columns stay in view (the title used to push them off the right).
        others = [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(COLUMNS)]
        room = self.app.size.width - FRAME - CELL_PADDING * len(COLUMNS) - sum(others)
        room += others[TITLE]
        title_width = max(MIN_TITLE, min(MAX_TITLE, room))
        for i, header in enumerate(COLUMNS):
            table.add_column(header, width=title_width if i == TITLE else None)
        for r, row in zip(rows, cells, strict=True):
            title = one_line(r.title or typed_part(r.first_question), title_width)
            table.add_row(*row[:TITLE], title or "(no question)", *row[TITLE + 1 :])

    def _cells(self, r: SessionSummary, wide: bool) -> list[str]:
        if r.unknown and not r.spent:
            cost = "unknown"
        else:
            cost = format_usd(r.spent) + ("+?" if r.unknown else "")
        saved = ("-" if r.saved < 0 else "") + format_usd(abs(r.saved))
        marker = "●" if r.id == self.current else ""
        when = r.started_at[:16].replace("T", " ") if wide else r.started_at[5:10]
        rungs = one_line(", ".join(r.tiers), 24 if wide else 12)
        return [f"{r.id}{marker}", when, "", rungs, str(r.messages), cost, saved]

    def on_input_changed(self, event: Input.Changed) -> None:
        self.reload(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one(DataTable).focus()

    def selected(self) -> SessionSummary | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def on_data_table_row_selected(self) -> None:
        self.action_open()

    def action_open(self) -> None:
        # Enter in the search opens the highlighted match at once (it used to only move
        # to the table, so the first Enter after filtering did nothing).
        row = self.selected()
        if row is not None:
            self.dismiss(OpenSession(row.id))

    def action_close(self) -> None:
        self.dismiss(None)

    def action_rename(self) -> None:
        row = self.selected()
        if row is None:
            return

        def rename(title: str | None) -> None:
            if title:
                self.store.rename_session(row.id, title)
                self.reload(self.query_one("#search", Input).value)

        self.app.push_screen(
            AskScreen(
                f"New title for #{row.id}:",
                row.title or one_line(typed_part(row.first_question), 60),
            ),
            rename,
        )

    def action_delete(self) -> None:
        row = self.selected()
        if row is None:
            return
        if row.id == self.current:
            self.notify("That is the conversation on screen: start a new one (Ctrl+N) first.",
                        severity="warning")  # fmt: skip
            return

        def delete(yes: bool | None) -> None:
            if yes:
                self.store.delete_session(row.id)
                self.notify(f"Deleted conversation #{row.id}.")
                self.reload(self.query_one("#search", Input).value)

        title = one_line(row.title or typed_part(row.first_question), 50)
        self.app.push_screen(
            ConfirmScreen(f"Delete conversation #{row.id} ({title})? Its text and its costs "
                          "leave the history for good.", yes="Delete", no="Keep"),
            delete,
        )  # fmt: skip

    def action_export(self) -> None:
        row = self.selected()
        if row is None:
            return
        try:
            path = export_session(self.store, row.id, self.config, Path.cwd())
        except (OSError, LookupError) as exc:
            self.notify(f"Could not export: {for_terminal(str(exc))}", severity="error",
                        markup=False)  # fmt: skip
            return
        self.notify(f"Exported #{row.id} to {path} (API keys masked).", markup=False)
