"""F1: the key bindings in effect (after the user's keymap), with what they do."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from rung.tui.slash import COMMANDS

PROMPT_KEYS = [
    ("enter", "Send the message", ""),
    ("ctrl+j / alt+enter", "New line in the message", ""),
    ("ctrl+p", "Command palette (all actions)", ""),
]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 100%; height: auto; max-height: 95%;
        border: round $accent; background: $surface; padding: 0 1; }
    HelpScreen .problem { color: $warning; }
    """
    BINDINGS = [
        Binding("escape,f1,q", "dismiss", "Close", id="close-help"),
    ]

    def __init__(self, rows: list[tuple[str, str, str]], problems: list[str] | None = None) -> None:
        super().__init__()
        self.rows = rows
        self.problems = problems or []

    def compose(self) -> ComposeResult:
        # One scrolling list, focused: ↑/↓/PgUp/PgDn reach every key (an inner table that
        # scrolled on its own hid all past F6 at 80x24 until Tab moved into it).
        with VerticalScroll(id="help-keys"):
            yield Static(
                "[b]Commands and keys[/b]  (commands: typed at the start of the prompt, "
                "Tab completes; remap any key with an id under \\[keymap] in the "
                "config)"
            )
            for problem in self.problems:
                yield Static(problem, markup=False, classes="problem")
            # The commands first: the keys' list ends the screen (PgDn reaches the last).
            yield Static(key_table(slash_rows(), "command"), id="help-commands")
            yield Static(key_table(PROMPT_KEYS + self.rows), id="help-table")
            yield Static(
                "The prompt also has the usual editing keys (Ctrl+A/E line start/end, "
                "Ctrl+W delete word, Ctrl+Z undo, Ctrl+X/C/V). Esc closes this.",
                classes="muted",
            )

    def on_mount(self) -> None:
        self.query_one("#help-keys", VerticalScroll).focus()


def slash_rows() -> list[tuple[str, str, str]]:
    """The slash commands as help rows; "//text" sends a literal slash."""
    rows = [(f"/{c.name} {c.argument}".rstrip(), c.does, "") for c in COMMANDS]
    return [*rows, ("//text", "Send text that starts with a slash", "")]


def key_table(rows: list[tuple[str, str, str]], first: str = "key") -> Table:
    """key · what it does · id: the description wraps, the key and the id never do (the
    id is what a [keymap] line needs, so it must be readable at 80 columns)."""
    table = Table(box=None, expand=True, show_edge=False, pad_edge=False, header_style="bold")
    table.add_column(first, no_wrap=True, style="bold")
    table.add_column("does", ratio=1)
    table.add_column("id", no_wrap=True, style="dim")
    for key, does, ident in rows:
        table.add_row(Text(key), Text(does), Text(ident))
    return table


def binding_rows(app: object) -> list[tuple[str, str, str]]:
    """Rung's own bindings in effect (after the user's keymap): one row per binding id,
    with every key that triggers it. Widgets' editing keys are summarised separately."""
    keys: dict[str, list[str]] = {}
    described: dict[str, str] = {}
    for active in app.active_bindings.values():  # type: ignore[attr-defined]
        binding = active.binding
        if not binding.description or not binding.id:
            continue
        ident = binding.id
        display = app.get_key_display(binding)  # type: ignore[attr-defined]
        if display not in keys.setdefault(ident, []):
            keys[ident].append(display)
        described[ident] = binding.tooltip or binding.description
        if ident.startswith("pin-rung-"):  # the footer says the rung; here say what it does
            described[ident] = f"Pin rung {ident.rsplit('-', 1)[1]}: {binding.description}"
    return [(" / ".join(k), described[i], i) for i, k in keys.items()]
