"""The agent's tool calls in the chat: one compact line per call (``read app/x.py 1-120``,
``run pytest -q → exit 1, 3 failed``) that Enter or a click expands to the call's full
input and output.

Every text here came from the model or a tool, already sanitised and bounded by the
dispatcher (the input is sanitised here again: it is the model's raw arguments); it is
shown with markup off, so a ``[b]`` in a file is a ``[b]`` on screen.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Static

from rung.engine.safe_text import for_terminal, one_line

RUNNING = "…"

# The argument that says what a call is about, per tool, for its line while it waits
# (the finished line is the tool's own summary: ``run pytest -q → exit 1``).
MAIN_ARGUMENT = ("command", "path", "pattern", "query", "url", "name")


def pending_summary(asked: str) -> str:
    """``run {"command": "pytest -q"}`` (the model's raw call) read as ``run pytest -q``:
    the tool and its main argument; the raw call when its arguments are not a JSON object
    (cut, malformed), so nothing the model asked is hidden."""
    tool, _, raw = asked.partition(" ")
    try:
        arguments = json.loads(raw)
    except ValueError:
        return asked
    if not isinstance(arguments, dict):
        return asked
    for key in MAIN_ARGUMENT:
        value = arguments.get(key)
        if isinstance(value, str) and value.strip():
            shown = f'"{value}"' if key in ("pattern", "query") else value
            return f"{tool} {shown}"
    return asked


class ToolCallLine(Widget, can_focus=True):
    """One tool call: ``▸ summary`` while folded, the detail below it when expanded."""

    DEFAULT_CSS = """
    ToolCallLine { height: auto; margin: 0 0 0 2; }
    ToolCallLine > .call-line { color: $text-muted; }
    ToolCallLine.error > .call-line { color: $error; }
    ToolCallLine:focus > .call-line { background: $boost; color: $text; }
    ToolCallLine > .call-detail { display: none; border-left: thick $panel; padding: 0 1; }
    ToolCallLine.expanded > .call-detail { display: block; }
    """
    BINDINGS = [
        Binding("enter,space", "toggle", "Expand", id="expand-tool-call", show=False),
    ]

    def __init__(self, call_id: str, tool: str, asked: str) -> None:
        super().__init__()
        self.call_id = call_id
        self.tool = tool
        self.asked = for_terminal(asked)  # the model's raw call, one line
        self.summary = one_line(pending_summary(asked), 100)
        self.output: str | None = None
        self.is_error = False

    def compose(self) -> ComposeResult:
        yield Static(self._line(), markup=False, classes="call-line")
        yield Static("", markup=False, classes="call-detail")

    def _line(self) -> str:
        mark = "▾" if self.has_class("expanded") else "▸"
        if self.output is None:
            return f"{mark} {self.summary} {RUNNING}"
        return f"{mark} {self.summary}" + (" (failed)" if self.is_error else "")

    def asking(self, summary: str) -> None:
        """The approval dialog asks about this call: its line says it as the dialog does
        (the dispatcher's summary of the checked call)."""
        if self.output is None and summary:
            self.summary = one_line(summary, 100)
            self._refresh()

    def finish(self, summary: str, is_error: bool, text: str) -> None:
        self.summary = one_line(summary, 100) or self.summary
        self.is_error = is_error
        self.output = text
        self.set_class(is_error, "error")
        self._refresh()

    @property
    def detail(self) -> str:
        output = self.output if self.output is not None else "(running)"
        return f"call: {self.asked}\n\n{output}"

    @property
    def shelf_line(self) -> str:
        """This call as one line of text, for a shelved step (widgets/messages.py)."""
        return f"▸ {self.summary}" + (" (failed)" if self.is_error else "")

    @property
    def expanded(self) -> bool:
        return self.has_class("expanded")

    def action_toggle(self) -> None:
        self.toggle_class("expanded")
        self._refresh()

    def on_click(self) -> None:
        self.focus()
        self.action_toggle()

    def _refresh(self) -> None:
        if not self.is_mounted:
            return
        self.query_one(".call-line", Static).update(self._line())
        self.query_one(".call-detail", Static).update(self.detail if self.expanded else "")


def restored_line(call_id: str, tool: str, asked: str, summary: str, is_error: bool,
                  text: str) -> ToolCallLine:  # fmt: skip
    """A stored call's line (a resumed session), finished as it ended, folded."""
    line = ToolCallLine(call_id, tool, asked)
    line.finish(summary, is_error, for_terminal(text))
    return line


def stored_lines(raw: str) -> tuple[Callable[[], ToolCallLine], ...]:
    """Builders of a stored step's tool lines (``messages.agent`` JSON), in order: the
    message list makes them when it shows the step (a resumed session comes in batches)."""
    from rung.engine.agent.record import stored_calls

    return tuple(
        partial(restored_line, s.call.id, s.call.name,
                one_line(f"{s.call.name} {s.call.arguments}", 120), s.summary, s.is_error,
                s.text)
        for s in stored_calls(raw)
    )  # fmt: skip
