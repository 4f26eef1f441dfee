"""The conversation: user and assistant turns, the reply streaming into Markdown."""

from __future__ import annotations

import re

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Markdown, Static
from textual.widgets.markdown import MarkdownStream

from rung.engine.safe_text import for_terminal

CODE_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)


def last_code_block(text: str) -> str | None:
    blocks = CODE_BLOCK.findall(text)
    return blocks[-1].rstrip("\n") if blocks else None


class MessageItem(Widget):
    """One turn. An assistant turn streams: ``append`` feeds Markdown.get_stream, so each
    token costs the same however long the reply already is."""

    DEFAULT_CSS = """
    MessageItem { height: auto; padding: 0 1; margin: 0 0 1 0; }
    MessageItem > .meta { color: $text-muted; height: auto; }
    MessageItem.user { border-left: thick $accent; background: $boost; }
    MessageItem.assistant { border-left: thick $primary; }
    MessageItem.failed { border-left: thick $error; }
    MessageItem.cancelled { border-left: thick $warning; }
    MessageItem.notice { border-left: none; color: $text-warning; padding: 0 1; }
    MessageItem.replaced { opacity: 60%; }
    MessageItem Markdown { margin: 0; padding: 0; }
    """

    def __init__(self, role: str, text: str = "", meta: str = "") -> None:
        super().__init__(classes=role)
        self.role = role
        self.text = text  # as received (copied and stored as is)
        self._meta_text = for_terminal(meta)
        self._stream: MarkdownStream | None = None
        self.status = "streaming" if role == "assistant" and not text else "done"

    def compose(self):  # type: ignore[override]
        yield Static(self._meta_text, classes="meta", markup=False)
        # Only sanitized text is drawn: an escape sequence in a reply must not reach the
        # terminal through the Markdown view.
        if self.role in ("notice", "user"):
            # What the user typed is shown as typed: line breaks kept, and a pasted
            # traceback or unfenced code not reflowed or styled as Markdown.
            yield Static(for_terminal(self.text), markup=False, classes="body")
        else:
            yield Markdown(for_terminal(self.text))

    @property
    def markdown(self) -> Markdown:
        return self.query_one(Markdown)

    @property
    def meta_text(self) -> str:
        return self._meta_text

    def set_meta(self, text: str) -> None:
        self._meta_text = text = for_terminal(text)
        if self.is_mounted:
            self.query_one(".meta", Static).update(text)

    async def append(self, delta: str) -> None:
        self.text += delta
        if self._stream is None:
            self._stream = Markdown.get_stream(self.markdown)
        await self._stream.write(for_terminal(delta))

    async def finish(self, status: str, note: str = "") -> None:
        """End the stream and add the closing note, appended like the tokens were: a full
        re-render would collapse the content for a frame and yank a reader who scrolled
        up back to the bottom."""
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.status = status
        if status in ("failed", "cancelled"):
            self.add_class(status)
        if note:
            await self.markdown.append(f"\n\n*{note}*")


class MessageList(VerticalScroll):
    """Scrolls with the reply only while the reader is at the bottom (``anchor``)."""

    DEFAULT_CSS = """
    MessageList { height: 1fr; padding: 0 1; }
    """

    async def add(self, item: MessageItem) -> MessageItem:
        await self.mount(item)
        return item

    def follow(self) -> None:
        """Stick to the bottom until the reader scrolls up."""
        self.anchor()

    def assistant_items(self) -> list[MessageItem]:
        return [m for m in self.query(MessageItem) if m.role == "assistant"]
