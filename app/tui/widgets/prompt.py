"""The multi-line prompt: Enter sends; Ctrl+J, Alt+Enter or Shift+Enter insert a newline."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from textual import events
from textual.message import Message
from textual.widgets import TextArea
from textual.widgets.text_area import EditResult

from rung.engine.attachments import mentions

# Ctrl+J is a line feed in every terminal, so it works where Shift+Enter does not.
NEWLINE_KEYS = {"ctrl+j", "shift+enter", "alt+enter", "ctrl+enter"}
# "@src/ca" right before the cursor, not part of an e-mail address.
MENTION_BEFORE_CURSOR = re.compile(r"(?<![\w@])@([\w./~+-]*)$")
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
        # The text is the last question, edited: it replaces the last exchange.
        replace_last: bool = False

    @dataclass
    class CompletionKey(Message):
        """A key meant for the @path suggestions shown above the prompt."""

        key: str

    @dataclass
    class PageKey(Message):
        """PageUp or PageDown while typing: meant for the messages above, not the prompt."""

        key: str

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
        # What was sent before, oldest first: Up and Down in an empty prompt walk it.
        self.sent: list[str] = []
        self._recalled: int | None = None
        self.editing_last = False
        # Set by the screen while @path suggestions are shown: Tab, Up, Down and Esc
        # go to them instead of the text.
        self.completing = False

    def mention_at_cursor(self) -> str | None:
        """The ``@partial/path`` being typed just before the cursor (without the @)."""
        row, column = self.cursor_location
        line = self.document.get_line(row)[:column]
        match = MENTION_BEFORE_CURSOR.search(line)
        return match.group(1) if match else None

    def complete_mention(self, path: str) -> None:
        """Replace the partial mention before the cursor with ``@path``."""
        partial = self.mention_at_cursor()
        if partial is None:
            return
        row, column = self.cursor_location
        after = self.document.get_line(row)[column : column + 1]
        # A directory goes on being typed (its files are offered next); after a file, a
        # space, as a shell adds one, unless one follows already.
        ending = "" if path.endswith("/") or after.isspace() else " "
        self.replace(path + ending, (row, column - len(partial)), (row, column))

    def remember(self, text: str) -> None:
        if not self.sent or self.sent[-1] != text:
            self.sent.append(text)
        self._recalled = None

    def edit_last(self, text: str) -> None:
        """Put the last question here to edit; Enter then replaces that exchange."""
        self.load_text(text)
        self.move_cursor(self.document.end)
        self.editing_last = True
        self.border_title = "editing your last question: Enter replaces it · Esc stops"

    def stop_editing(self) -> None:
        self.editing_last = False
        self.border_title = None
        self.clear()

    def _recall(self, step: int) -> bool:
        """Up (-1) / Down (+1) through what was sent, while the prompt is empty or shows
        a recalled message unchanged. Returns whether it moved."""
        showing = self._recalled is not None and self.text == self.sent[self._recalled]
        if not self.sent or (self.text and not showing):
            return False
        index = len(self.sent) if self._recalled is None or not showing else self._recalled
        index += step
        if index >= len(self.sent):
            self._recalled = None
            self.load_text("")
            return True
        if index < 0:
            return True  # already at the oldest
        self._recalled = index
        self.load_text(self.sent[index])
        self.move_cursor(self.document.end)
        return True

    async def _on_key(self, event: events.Key) -> None:
        if self.completing and event.key in ("tab", "up", "down", "escape"):
            event.stop()
            event.prevent_default()
            self.post_message(self.CompletionKey(event.key))
            return
        if event.key in ("pageup", "pagedown"):
            # The prompt is a few lines at most: the pages worth turning are the messages.
            event.stop()
            event.prevent_default()
            self.post_message(self.PageKey(event.key))
            return
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            text = self.text.strip()
            if text:
                self.post_message(
                    self.Submitted(text, Counter(self.pasted_mentions), self.editing_last)
                )
            return
        if event.key in ("up", "down") and self._recall(-1 if event.key == "up" else 1):
            event.stop()
            event.prevent_default()
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
        self._recalled = None
        if self.editing_last:
            self.editing_last = False
            self.border_title = None
        return super().clear()
