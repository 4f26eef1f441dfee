"""Options for this conversation only: system prompt, temperature, output limit, and the
model the active rung uses (picked from what its endpoint lists). Dismisses with the
new options, or None when cancelled; the config file is not touched."""

from __future__ import annotations

from dataclasses import dataclass

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from rung.engine.conversation import ChatOptions
from rung.engine.safe_text import one_line
from rung.tiers.base import Tier


@dataclass(frozen=True)
class ChatChoice:
    options: ChatOptions
    model: str  # for the active rung ("" leaves it as it is)


class ChatOptionsScreen(ModalScreen[ChatChoice | None]):
    DEFAULT_CSS = """
    ChatOptionsScreen { align: center middle; }
    ChatOptionsScreen > Vertical { width: 84; max-width: 100%; height: auto; max-height: 100%;
        border: round $accent; background: $surface; padding: 0 1; }
    ChatOptionsScreen .row { height: auto; }
    ChatOptionsScreen .row Label { width: 18; padding: 1 1 0 0; }
    ChatOptionsScreen .row Input, ChatOptionsScreen .row Select { width: 1fr; }
    ChatOptionsScreen TextArea { height: 5; }
    ChatOptionsScreen .hint { color: $text-muted; }
    ChatOptionsScreen #problem { color: $error; }
    ChatOptionsScreen #buttons { height: auto; }
    """
    BINDINGS = [
        Binding("ctrl+s", "apply", "Apply", id="chat-options-apply", priority=True),
        Binding("escape", "cancel", "Cancel", id="chat-options-cancel"),
    ]

    def __init__(self, options: ChatOptions, tier: Tier) -> None:
        super().__init__()
        self.options = options
        self.tier = tier

    def compose(self) -> ComposeResult:
        o = self.options
        with Vertical():
            yield Static(
                f"This conversation only (the config is unchanged). Rung: {self.tier.name}",
                classes="hint",
            )
            yield Label("System prompt")
            yield TextArea(o.system or "", id="system", soft_wrap=True)
            with Horizontal(classes="row"):
                yield Label("Temperature")
                yield Input(str(o.temperature), id="temperature")
            with Horizontal(classes="row"):
                yield Label("Max output tokens")
                yield Input(str(o.max_tokens), id="max-tokens")
            with Horizontal(classes="row"):
                yield Label(f"Model ({self.tier.name})")
                current = self.tier.model or ""
                choices = [(one_line(current, 60) or "(from the server)", current)]
                yield Select(choices, value=current, allow_blank=False, id="model")
            yield Static("", classes="hint", id="models-state")
            yield Static("", id="problem")
            with Horizontal(id="buttons"):
                yield Button("Apply (Ctrl+S)", id="apply", variant="success")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#system", TextArea).focus()
        self.fetch_models()

    @work(group="models")
    async def fetch_models(self) -> None:
        """Fill the model picker from the endpoint's own list (a real, cheap call)."""
        state = self.query_one("#models-state", Static)
        state.update("asking the endpoint which models it serves…")
        listed = await self.tier.list_models()
        if not listed.ok or not listed.ids:
            state.update(one_line(listed.message, 120) if not listed.ok else "no models listed")
            return
        current = self.tier.model or ""
        ids = sorted(set(listed.ids) | ({current} if current else set()))
        picker = self.query_one("#model", Select)
        picker.set_options([(one_line(i, 60), i) for i in ids])
        if current:
            picker.value = current
        state.update(f"{len(listed.ids)} models listed by {self.tier.name}")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "apply":
            self.action_apply()
        else:
            self.action_cancel()

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_apply(self) -> None:
        problem = self.query_one("#problem", Static)
        try:
            temperature = float(self.query_one("#temperature", Input).value)
            if not 0 <= temperature <= 2:
                raise ValueError
        except ValueError:
            problem.update("Temperature: a number from 0 to 2.")
            return
        try:
            max_tokens = int(self.query_one("#max-tokens", Input).value)
            if not 1 <= max_tokens <= 1_000_000:
                raise ValueError
        except ValueError:
            problem.update("Max output tokens: a whole number from 1 to 1,000,000.")
            return
        system = self.query_one("#system", TextArea).text.strip()
        model = self.query_one("#model", Select).value
        options = ChatOptions(system or None, max_tokens, temperature, self.options.fallback)
        chosen = model if isinstance(model, str) and model != (self.tier.model or "") else ""
        self.dismiss(ChatChoice(options, chosen))
