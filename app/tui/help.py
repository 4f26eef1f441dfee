"""F1: the key bindings in effect (after the user's keymap), with what they do."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

PROMPT_KEYS = [
    ("enter", "Send the message", ""),
    ("ctrl+j / alt+enter", "New line in the message", ""),
    ("ctrl+p", "Command palette (all actions)", ""),
]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 90; max-width: 100%; height: auto; max-height: 95%;
        border: round $accent; background: $surface; padding: 1 2; }
    HelpScreen DataTable { height: auto; }
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
        with VerticalScroll():
            yield Static("[b]Keys[/b]  (remap any key with an id under \\[keymap] in the config)")
            for problem in self.problems:
                yield Static(problem, markup=False, classes="problem")
            table: DataTable[str] = DataTable(cursor_type="row", zebra_stripes=True)
            table.add_columns("key", "does", "id")
            for row in PROMPT_KEYS + self.rows:
                table.add_row(*row)
            yield table
            yield Static(
                "The prompt also has the usual editing keys (Ctrl+A/E line start/end, "
                "Ctrl+W delete word, Ctrl+Z undo, Ctrl+X/C/V). Esc closes this.",
                classes="muted",
            )


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
