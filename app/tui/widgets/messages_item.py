"""One message of the conversation: a user or assistant turn, the reply streaming into
Markdown views in batches (widgets/messages_pacing.py), and its shelved form (Shelved)
once its widgets are gone. The list that holds them is widgets/messages.py."""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual.widget import Widget
from textual.widgets import Static

from rung.engine.safe_text import StreamSanitizer, for_terminal
from rung.tui import gc_pause
from rung.tui.widgets.md_parts import PartCutter
from rung.tui.widgets.messages_pacing import TYPING_HOLD_S, TYPING_MAX_HOLD_S, FlushPacer

if TYPE_CHECKING:
    from collections.abc import Callable

    from textual.timer import Timer
    from textual.widgets import Markdown


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


class MessageItem(Widget):
    """One turn. An assistant reply streams in through ``append``, in batches, into
    Markdown views of about md_parts.PART_CHARS characters each: a write lays out only the
    last view, so a token costs the same however long the reply already is."""

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
    /* A parked view (far off screen) keeps its height with none of its blocks laid out. */
    MessageItem Markdown.parked > * { display: none; }
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
        self._cutter = PartCutter()
        # Across flushes: a key or an escape sequence split between two is still caught.
        self._sanitizer = StreamSanitizer()
        self._parked_width = 0
        self._holding_gc = False
        self._typed_at = 0.0
        self._writing = asyncio.Lock()
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
            # A long stored reply is shown in parts, like a streamed one (md_parts).
            parts = PartCutter().split(for_terminal(self.text + note)) or [""]
            for part in parts:
                yield markdown_widget()(part)

    @property
    def markdown(self) -> Markdown:
        """The Markdown view the reply is being written to (the last of its parts)."""
        return self.views()[-1]

    @property
    def shown_source(self) -> str:
        """The Markdown on screen, all parts together."""
        return "".join(view.source for view in self.views())

    def views(self) -> list[Markdown]:
        """The reply's Markdown views, in order (children only: no search of the blocks)."""
        kind = markdown_widget()
        return [child for child in self.children if isinstance(child, kind)]

    def park_views(self, top: float, bottom: float, width: int) -> int:
        """Park the views outside screen rows ``top``..``bottom`` and bring back those
        inside; ``width`` is the list's: a view parked at another width would come back
        with another height. Returns how many views are parked.

        Textual lays out every widget of every message on each layout change, off
        screen or not, so a frame cost more the longer the conversation (an 8,000-token
        reply is ~1,000 widgets). A parked view is one widget of fixed height.
        """
        parked = 0
        resized = self._parked_width != width  # parked heights are stale: all come back
        self._parked_width = width
        views = self.views()
        for number, view in enumerate(views):
            if self.status == "streaming" and number == len(views) - 1:
                continue  # being written to
            region = view.region
            near = region.bottom > top and region.y < bottom
            if view.has_class("parked"):
                if near or resized:
                    view.remove_class("parked")
                    view.styles.height = "auto"
                else:
                    parked += 1
            elif not near and region.height > 0 and not resized:
                view.styles.height = region.height
                view.add_class("parked")
                parked += 1
        return parked

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
        if not self._holding_gc:
            self._holding_gc = True
            gc_pause.hold()
        if self._flush_timer is not None:
            return
        wait = self._flush_due() - time.monotonic()
        if wait <= 0 and not self._writing.locked():
            await self._flush()
        else:
            self._flush_timer = self.set_timer(max(wait, 0.01), self._flush_when_due)

    def _flush_due(self) -> float:
        due = self._flushed_at + self._pacer.interval
        if self._typed_at:
            hold = min(self._typed_at + TYPING_HOLD_S, self._flushed_at + TYPING_MAX_HOLD_S)
            due = max(due, hold)
        return due

    async def _flush_when_due(self) -> None:
        self._flush_timer = None
        wait = self._flush_due() - time.monotonic()
        if wait > 0.005:  # a key was typed since the timer was set
            self._flush_timer = self.set_timer(wait, self._flush_when_due)
        else:
            await self._flush()

    def user_typed(self) -> None:
        """A key changed the prompt: the reply gives way (TYPING_HOLD_S)."""
        if self.status != "streaming":
            return
        now = time.monotonic()
        self._typed_at = now
        if self._pending and now - self._flushed_at >= TYPING_MAX_HOLD_S:
            # Overdue: drawn right after this key's echo, the longest gap before the next.
            self._stop_flush_timer()
            self.call_after_refresh(self._flush)

    def _stop_flush_timer(self) -> None:
        if self._flush_timer is not None:
            self._flush_timer.stop()
            self._flush_timer = None

    async def _flush(self, last: bool = False) -> None:
        # One write at a time: Markdown.append reads the view's source before it takes
        # its own lock, so two in flight would parse overlapping text.
        async with self._writing:
            if not self._pending and not last:
                return
            text = self._sanitizer.feed("".join(self._pending))
            if last:
                text += self._sanitizer.end()
            self._pending.clear()
            if not text:
                return
            self._flushed_at = time.monotonic()
            self._pacer.flushed()
            first, *parts = self._cutter.feed(text)
            if first:
                await self.markdown.append(first)
            for part in parts:
                view = markdown_widget()()
                await self.mount(view)
                await view.append(part)

    async def finish(self, status: str, note: str = "") -> None:
        """End the stream and add the closing note, appended like the tokens were: a full
        re-render would collapse the content for a frame and yank a reader who scrolled
        up back to the bottom."""
        self._stop_flush_timer()
        await self._flush(last=True)
        # The start of a last line, if it was held back (md_parts), then the note.
        tail = self._cutter.end() + (f"\n\n*{for_terminal(note)}*" if note else "")
        if tail:
            async with self._writing:
                await self.markdown.append(tail)
        self.status = status
        self._note = for_terminal(note)
        if status in ("failed", "cancelled"):
            self.add_class(status)
        if self._holding_gc:
            self._holding_gc = False
            gc_pause.release()

    def shelved(self) -> Shelved:
        """What it takes to show this message again once its widgets are gone."""
        return Shelved(
            self.role,
            self.text,
            self._meta_text,
            status=self.status,
            note=self._note,
            replaced=self.has_class("replaced"),
        )

    def on_unmount(self) -> None:
        if self._holding_gc:  # removed mid-reply (a new chat, the app quitting)
            self._holding_gc = False
            gc_pause.release(freeze=False)


@dataclass(frozen=True, slots=True)
class Shelved:
    """A message kept as text, off screen: a stored one not shown yet (--resume), or an
    old one whose widgets were removed (messages.MOUNTED_MAX). ``item`` builds it again."""

    role: str
    text: str
    meta: str = ""
    status: str = ""
    note: str = ""
    replaced: bool = False
    # Builders of the widgets shown right after it (a resumed agent step's tool lines).
    after: tuple[Callable[[], Widget], ...] = ()

    def item(self) -> MessageItem:
        item = MessageItem(self.role, self.text, self.meta, status=self.status, note=self.note)
        if self.replaced:
            item.add_class("replaced")
        return item

    def widgets(self) -> list[Widget]:
        return [self.item(), *(make() for make in self.after)]
