"""The multi-line prompt: Enter sends; Ctrl+J, Alt+Enter or Shift+Enter insert a newline."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from textual import events
from textual.message import Message
from textual.widgets import TextArea
from textual.widgets.text_area import EditResult

from rung.engine.attachments import mentions

# Ctrl+J is a line feed in every terminal, so it works where Shift+Enter does not.
NEWLINE_KEYS = {"ctrl+j", "shift+enter", "alt+enter", "ctrl+enter"}
# A paste bigger than this is refused with a message rather than freezing the screen.
MAX_PROMPT_CHARS = 400_000


class PromptInput(TextArea):
    DEFAULT_CSS = """
    PromptInput { height: auto; min-height: 3; max-height: 12; border: round $primary; }
    PromptInput:focus { border: round $accent; }
    """

    @dataclass
    class Submitted(Message):
        text: str
        # How often each @mention arrived by paste: those are not the user's typing.
        pasted_mentions: Counter[str] = field(default_factory=Counter)

    def __init__(self, **kwargs: object) -> None:
        super().__init__(
            "",
            language=None,
            soft_wrap=True,
            show_line_numbers=False,
            **kwargs,  # type: ignore[arg-type]
        )
        self.placeholder = "Ask anything…  Enter sends · Ctrl+J newline · F1 keys"
        self.pasted_mentions: Counter[str] = Counter()

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text.strip()
            if text:
                self.post_message(self.Submitted(text, Counter(self.pasted_mentions)))
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            self.insert("\n")
            return
        await super()._on_key(event)

    async def _on_paste(self, event: events.Paste) -> None:
        if len(self.text) + len(event.text) > MAX_PROMPT_CHARS:
            event.stop()
            event.prevent_default()
            self.notify(
                f"That paste is {len(event.text):,} characters; the prompt holds "
                f"{MAX_PROMPT_CHARS:,}. Attach the file instead, or paste a part.",
                severity="warning",
            )
            return
        self.pasted_mentions.update(mentions(event.text))
        await super()._on_paste(event)

    def clear(self) -> EditResult:
        self.pasted_mentions.clear()
        return super().clear()
