"""The conversation: user and assistant turns, the reply streaming into Markdown."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from rung.engine.safe_text import for_terminal

if TYPE_CHECKING:
    from textual.timer import Timer
    from textual.widgets import Markdown
    from textual.widgets.markdown import MarkdownStream


def markdown_widget() -> type[Markdown]:
    """Textual's Markdown widget, imported with the first reply shown (or by the app's
    warm-up after the first frame): with markdown-it it is ~60 ms that the empty chat
    screen does not need before it can take input (bench/startup.py)."""
    from textual.widgets import Markdown

    return Markdown


CODE_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)


def last_code_block(text: str) -> str | None:
    blocks = CODE_BLOCK.findall(text)
    return blocks[-1].rstrip("\n") if blocks else None


# A streaming reply reaches the Markdown view in batches. Each write re-lays out and
# redraws the conversation: written token by token, a reply at 100 tokens/s took 7.5 ms
# of CPU per token against 1.2 ms unthrottled (bench/stream_render.py). Batches go out
# every 50 ms (20 a second reads as a smooth stream); when drawing keeps the event loop
# busy more than half the time (long replies, slow machines), the interval grows, up to
# 200 ms, so that typing and the rest of the app stay responsive. The last piece is
# drawn at once when the reply ends.
FLUSH_MIN_S = 0.05
FLUSH_MAX_S = 0.2
BUSY_HIGH, BUSY_LOW = 0.5, 0.25


class FlushPacer:
    """How long to wait before the next batch, from the event loop thread's CPU use."""

    def __init__(self) -> None:
        self.interval = FLUSH_MIN_S
        self._wall = time.monotonic()
        self._cpu = time.thread_time()  # this thread only: llama.cpp's threads do not count

    def flushed(self) -> None:
        wall, cpu = time.monotonic(), time.thread_time()
        if wall - self._wall >= FLUSH_MIN_S:
            busy = (cpu - self._cpu) / (wall - self._wall)
            if busy > BUSY_HIGH:
                self.interval = min(FLUSH_MAX_S, self.interval * 1.5)
            elif busy < BUSY_LOW:
                self.interval = max(FLUSH_MIN_S, self.interval / 1.5)
            self._wall, self._cpu = wall, cpu


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

    def __init__(
        self, role: str, text: str = "", meta: str = "", *, status: str = "", note: str = ""
    ) -> None:
        """``status`` and ``note``: how a stored reply ended ("failed"/"cancelled" and the
        line under it), drawn with it at once instead of appended after mounting."""
        super().__init__(classes=role)
        self.role = role
        self.text = text  # as received (copied and stored as is)
        self._meta_text = for_terminal(meta)
        self._note = note
        self._stream: MarkdownStream | None = None
        self._pending: list[str] = []  # pieces not yet in the view
        self._flush_timer: Timer | None = None
        self._flushed_at = 0.0
        self._pacer = FlushPacer()
        self.status = status or ("streaming" if role == "assistant" and not text else "done")
        if self.status in ("failed", "cancelled"):
            self.add_class(self.status)

    def compose(self):  # type: ignore[override]
        yield Static(self._meta_text, classes="meta", markup=False)
        # Only sanitized text is drawn: an escape sequence in a reply must not reach the
        # terminal through the Markdown view.
        if self.role in ("notice", "user"):
            # What the user typed is shown as typed: line breaks kept, and a pasted
            # traceback or unfenced code not reflowed or styled as Markdown.
            yield Static(for_terminal(self.text), markup=False, classes="body")
        else:
            note = f"\n\n*{self._note}*" if self._note else ""
            yield markdown_widget()(for_terminal(self.text + note))

    @property
    def markdown(self) -> Markdown:
        return self.query_one(markdown_widget())

    @property
    def meta_text(self) -> str:
        return self._meta_text

    def set_meta(self, text: str) -> None:
        self._meta_text = text = for_terminal(text)
        if self.is_mounted:
            self.query_one(".meta", Static).update(text)

    async def append(self, delta: str) -> None:
        """Add a piece of the reply; the view gets the pieces in batches (the first at
        once), paced by FlushPacer."""
        self.text += delta
        self._pending.append(delta)
        if self._flush_timer is not None:
            return
        wait = self._flushed_at + self._pacer.interval - time.monotonic()
        if wait <= 0:
            await self._flush()
        else:
            self._flush_timer = self.set_timer(wait, self._flush)

    async def _flush(self) -> None:
        self._flush_timer = None
        if not self._pending:
            return
        # Sanitized as one piece: an escape sequence split across tokens is still caught.
        text = for_terminal("".join(self._pending))
        self._pending.clear()
        self._flushed_at = time.monotonic()
        self._pacer.flushed()
        if self._stream is None:
            self._stream = markdown_widget().get_stream(self.markdown)
        await self._stream.write(text)

    async def finish(self, status: str, note: str = "") -> None:
        """End the stream and add the closing note, appended like the tokens were: a full
        re-render would collapse the content for a frame and yank a reader who scrolled
        up back to the bottom."""
        if self._flush_timer is not None:
            self._flush_timer.stop()
        await self._flush()
        if self._stream is not None:
            await self._stream.stop()
            self._stream = None
        self.status = status
        if status in ("failed", "cancelled"):
            self.add_class(status)
        if note:
            await self.markdown.append(f"\n\n*{note}*")


# A resumed conversation shows its last HISTORY_BATCH messages (more if they do not fill
# the view); each scroll to the top shows the batch before. Mounting all of a 200-message
# session (a Markdown widget per reply) took 15 s before its last answer was on screen;
# with batches of 20, 1.15 s; of 10, 0.83 s (bench/startup.py).
HISTORY_BATCH = 10


class MessageList(VerticalScroll):
    """Scrolls with the reply only while the reader is at the bottom (``anchor``)."""

    DEFAULT_CSS = """
    MessageList { height: 1fr; padding: 0 1; }
    MessageList > #earlier { color: $text-muted; text-align: center; width: 1fr;
        margin: 0 0 1 0; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._earlier: list[MessageItem] = []  # stored messages not mounted yet, oldest first
        self._showing_earlier = False

    async def show_history(self, items: list[MessageItem]) -> None:
        """A stored conversation: the latest messages now, the earlier ones on scrolling up."""
        cut = max(0, len(items) - HISTORY_BATCH)
        self._earlier = items[:cut]
        widgets: list[Widget] = [Static(self._earlier_text(), id="earlier")] if cut else []
        await self.mount_all([*widgets, *items[cut:]])
        self.call_after_refresh(self._fill_view)

    def _fill_view(self) -> None:
        """Short messages may not fill a tall terminal: with nothing to scroll, the reader
        could never reach the earlier ones, so show batches until the view overflows."""
        if self.max_scroll_y <= 0:
            self._request_earlier()

    def _request_earlier(self) -> None:
        if self._earlier and not self._showing_earlier:
            self._showing_earlier = True
            self.call_later(self.show_earlier)

    def _earlier_text(self) -> str:
        return f"↑ {len(self._earlier)} earlier messages: scroll up to show them"

    @property
    def earlier_count(self) -> int:
        return len(self._earlier)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= 0:
            self._request_earlier()

    async def show_earlier(self) -> None:
        """Mount the batch before the oldest message shown, keeping the reader's place."""
        try:
            batch = self._earlier[-HISTORY_BATCH:]
            del self._earlier[-HISTORY_BATCH:]
            first = next(iter(self.query_children(MessageItem)), None)
            await self.mount_all(batch, before=first)
            marker = self.query_one("#earlier", Static)
            if self._earlier:
                marker.update(self._earlier_text())
            else:
                await marker.remove()
            if first is not None:
                self.call_after_refresh(self.scroll_to_widget, first, top=True, animate=False)
        finally:
            self._showing_earlier = False
        self.call_after_refresh(self._fill_view)

    async def add(self, item: MessageItem) -> MessageItem:
        await self.mount(item)
        return item

    def follow(self) -> None:
        """Stick to the bottom until the reader scrolls up."""
        self.anchor()

    def assistant_items(self) -> list[MessageItem]:
        return [m for m in self.query(MessageItem) if m.role == "assistant"]
