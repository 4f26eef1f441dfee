"""The approval dialog: the agent wants to run a call its permissions say to ask about.
It shows the call's one-line summary, why it is asked, and its full detail (the diff of
an edit, highlighted; the exact command), and answers Allow once / Always / Deny,
keyboard first: y / a / n, Esc denies. "Always" shows the rule it will save and is not
offered when the dispatcher offers no rule (sensitive calls).

Every text here came from the model or the project, sanitised by the dispatcher: it is
shown as plain text or through a syntax highlighter, never as markup.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from rung.engine.agent.dispatcher import Answer, AskCallback, PermissionRequest

if TYPE_CHECKING:
    from textual.app import App

# The tools whose detail is a unified diff; a command's detail is shell.
DIFF_TOOLS = {"edit", "write"}


class ApprovalScreen(ModalScreen[Answer]):
    DEFAULT_CSS = """
    ApprovalScreen { align: center middle; }
    ApprovalScreen > Vertical { width: 100; max-width: 98%; height: auto; max-height: 95%;
        border: round $warning; background: $surface; padding: 0 1; }
    ApprovalScreen #approval-detail { height: auto; max-height: 20; border: round $panel; }
    ApprovalScreen .muted { color: $text-muted; }
    ApprovalScreen Horizontal { height: auto; }
    ApprovalScreen Button { margin-right: 2; }
    """
    BINDINGS = [
        Binding("y", "answer('once')", "Allow once", id="approve-once"),
        Binding("a", "answer('always')", "Always", id="approve-always"),
        Binding("n,escape", "answer('deny')", "Deny", id="approve-deny"),
    ]

    def __init__(self, request: PermissionRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        request = self.request
        with Vertical():
            yield Static(f"The agent asks: {request.summary}", markup=False, id="approval-summary")
            yield Static(f"Asked because: {request.reason}", markup=False, classes="muted")
            with VerticalScroll(id="approval-detail"):
                yield Static(self._detail(), id="approval-detail-text")
            if request.always:
                rules = ", ".join(request.always)
                always = f"Always saves the rule {rules} for this project."
            else:
                always = "Always is not offered for this call: it is asked every time."
            yield Static(always, markup=False, classes="muted", id="approval-always")
            with Horizontal():
                yield Button("Allow once (y)", id="once", variant="success")
                if request.always:
                    yield Button("Always (a)", id="always")
                yield Button("Deny (n, Esc)", id="deny", variant="error")

    def _detail(self) -> Syntax:
        lexer = "diff" if self.request.tool in DIFF_TOOLS else "bash"
        text = self.request.detail or self.request.summary
        return Syntax(text, lexer, theme="ansi_dark", word_wrap=True, background_color="default")

    def on_mount(self) -> None:
        self.query_one("#deny", Button).focus()  # Enter on a surprise dialog denies

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.action_answer(event.button.id or "deny")

    def action_answer(self, answer: str) -> None:
        if answer == "always" and not self.request.always:
            self.notify("Always is not offered for this call.", severity="warning")
            return
        self.dismiss(Answer(answer))


def asker(app: App[object]) -> AskCallback:
    """The dispatcher's ``AskCallback``: show the dialog, wait for the answer. A dialog
    that goes away unanswered (the app closing) denies."""

    async def ask(request: PermissionRequest) -> Answer:
        answered: asyncio.Future[Answer] = asyncio.get_running_loop().create_future()

        def done(answer: Answer | None) -> None:
            if not answered.done():
                answered.set_result(answer if answer is not None else Answer.DENY)

        _show_asked(app, request)
        app.push_screen(ApprovalScreen(request), done)
        return await answered

    return ask


def _show_asked(app: App[object], request: PermissionRequest) -> None:
    """The call waiting for the answer says, on its line in the chat, what the dialog says
    (``run pytest -q``), not the model's raw arguments. Calls run one at a time: it is
    the last line still running."""
    from rung.tui.agent_view import ToolCallLine

    try:
        chat = app.chat  # type: ignore[attr-defined]
    except Exception:  # an app without the chat screen (an embedding): nothing to update
        return
    waiting = [line for line in chat.query(ToolCallLine)
               if line.output is None and line.tool == request.tool]  # fmt: skip
    if waiting:
        waiting[-1].asking(request.summary)
