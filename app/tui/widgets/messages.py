"""The conversation: user and assistant turns, the reply streaming into Markdown."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import time
from dataclasses import dataclass
from itertools import takewhile
from typing import TYPE_CHECKING

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from rung.engine.safe_text import StreamSanitizer, for_terminal
from rung.tui import gc_pause
from rung.tui.widgets.md_parts import PartCutter

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


# Typing comes first: each batch re-lays out the screen (20-60 ms on a 2-core VM with a
# long reply), and a key pressed meanwhile waits for it. While the user types, the reply
# is drawn when typing pauses for TYPING_HOLD_S, or at the latest every TYPING_MAX_HOLD_S,
# right after a key's echo (bench/stream_render.py --typing).
TYPING_HOLD_S = 0.15
TYPING_MAX_HOLD_S = 5.0


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
    old one whose widgets were removed (MOUNTED_MAX). ``item`` builds it again."""

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


# A resumed conversation shows its last HISTORY_BATCH messages (more if they do not fill
# the view); each scroll to the top shows the batch before. Mounting all of a 200-message
# session (a Markdown widget per reply) took 15 s before its last answer was on screen;
# with batches of 20, 1.15 s; of 10, 0.83 s (bench/startup.py).
HISTORY_BATCH = 10

# Views more than PARK_MARGIN_SCREENS screen heights above or below the visible part of
# the conversation are parked (MessageItem.park_views); checked every PARK_EVERY_S and
# after each scroll. A screen of margin is more than a mouse wheel or Page Up moves.
PARK_MARGIN_SCREENS = 1.0
PARK_EVERY_S = 0.3

# At most MOUNTED_MAX messages have widgets; past that, the oldest are shelved (kept as
# text, shown again on scrolling to the top) until MOUNTED_KEEP are left. Every mounted
# reply keeps its blocks (~1,000 Python objects per 300 tokens): 50 turns grew the app
# by 2.8 MB a turn, 2.4 KB per character of text (bench/memory.py). Shelving in batches
# keeps the full garbage collection that frees them to one every few turns.
MOUNTED_MAX = 50
MOUNTED_KEEP = 40


class MessageList(VerticalScroll):
    """Scrolls with the reply only while the reader is at the bottom (``anchor``)."""

    DEFAULT_CSS = """
    MessageList { height: 1fr; padding: 0 1; }
    MessageList > #earlier { color: $text-muted; text-align: center; width: 1fr;
        margin: 0 0 1 0; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._earlier: list[Shelved] = []  # messages without widgets, oldest first
        self._showing_earlier = False
        self._park_pending = False
        self._shelving = False
        self.parked = 0  # how many views the last pass left parked

    async def show_history(self, stored: list[Shelved]) -> None:
        """A stored conversation: the latest messages now, the earlier ones on scrolling up."""
        cut = max(0, len(stored) - HISTORY_BATCH)
        self._earlier = stored[:cut]
        await self.mount_all([w for message in stored[cut:] for w in message.widgets()])
        await self._show_marker()
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

    async def _show_marker(self) -> None:
        """The "↑ N earlier messages" line at the top: there while some messages have no
        widgets (stored or shelved), with their number."""
        markers = self.query_children("#earlier")
        text = f"↑ {len(self._earlier)} earlier messages: scroll up to show them"
        if not self._earlier:
            await markers.remove()
        elif markers:
            markers.first(Static).update(text)
        else:
            await self.mount(Static(text, id="earlier"), before=0)

    @property
    def earlier_count(self) -> int:
        return len(self._earlier)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if new_value <= 0:
            self._request_earlier()
        self._park_soon()

    async def show_earlier(self) -> None:
        """Mount the batch before the oldest message shown, keeping the reader's place."""
        try:
            batch = [w for message in self._earlier[-HISTORY_BATCH:] for w in message.widgets()]
            del self._earlier[-HISTORY_BATCH:]
            first = next(iter(self.query_children(MessageItem)), None)
            await self.mount_all(batch, before=first)
            await self._show_marker()
            if first is not None:
                self.call_after_refresh(self.scroll_to_widget, first, top=True, animate=False)
        finally:
            self._showing_earlier = False
        self.call_after_refresh(self._fill_view)

    def on_mount(self) -> None:
        # Also after each scroll; the interval catches what streaming pushes off screen.
        self.set_interval(PARK_EVERY_S, self._park)

    def _park(self) -> None:
        self._park_pending = False
        viewport = self.region
        if not viewport:
            return
        margin = viewport.height * PARK_MARGIN_SCREENS
        top, bottom = viewport.y - margin, viewport.bottom + margin
        width = self.scrollable_content_region.width
        self.parked = sum(
            item.park_views(top, bottom, width) for item in self.query_children(MessageItem)
        )
        self._shelve_soon()

    def _park_soon(self) -> None:
        if not self._park_pending:
            self._park_pending = True
            self.call_after_refresh(self._park)

    async def clear(self) -> None:
        """Remove every message (a new chat)."""
        await self.remove_children()
        self._earlier.clear()
        # What was frozen with the old conversation is garbage now (after a refresh,
        # once Textual lets go of the removed widgets).
        self.call_after_refresh(gc_pause.forget)

    def on_unmount(self) -> None:
        gc_pause.forget()

    async def add(self, item: MessageItem) -> MessageItem:
        await self.mount(item)
        return item

    def _shelve_soon(self) -> None:
        """Checked with each park pass: only while the reader is at the bottom, so that
        nothing moves under someone reading further up (the next pass tries again)."""
        if (
            not self._shelving
            and len(self.query_children(MessageItem)) > MOUNTED_MAX
            and self.scroll_y >= self.max_scroll_y
        ):
            self._shelving = True
            self.call_later(self._shelve_oldest)

    async def _shelve_oldest(self) -> None:
        """Past MOUNTED_MAX messages, the oldest become text (Shelved) until MOUNTED_KEEP
        are left; scrolling to the top shows them again."""
        try:
            items = list(self.query_children(MessageItem))
            old = list(takewhile(lambda item: item.status != "streaming", items[:-MOUNTED_KEEP]))
            if not old:
                return
            shelved, strays = self._shelve(old)
            self._earlier.extend(shelved)
            await self._show_marker()
            await self.remove_children([*old, *strays])
            self.scroll_end(animate=False, immediate=True)
            # Their widgets were frozen with the replies that made them. After a refresh:
            # until then Textual still holds them, and a collection would not free them.
            self.call_after_refresh(gc_pause.forget)
        finally:
            self._shelving = False

    def _shelve(self, old: list[MessageItem]) -> tuple[list[Shelved], list[Widget]]:
        """The old messages as text, and the other widgets among them (the agent's tool
        lines, which say ``shelf_line``): each line goes into the note of the message it
        followed, so nothing is left on screen out of its place."""
        last = old[-1]
        shelved: list[Shelved] = []
        strays: list[Widget] = []
        folded: dict[int, list[str]] = {}
        done = False
        for child in self.children:
            if isinstance(child, MessageItem):
                if done:
                    break  # the lines right after the last old message were its own
                shelved.append(child.shelved())
                done = child is last
            elif child.id != "earlier":
                strays.append(child)
                line = getattr(child, "shelf_line", "")
                if line and shelved:
                    folded.setdefault(len(shelved) - 1, []).append(line)
        for index, lines in folded.items():
            note = " · ".join([shelved[index].note, *lines] if shelved[index].note else lines)
            shelved[index] = dataclasses.replace(shelved[index], note=note)
        return shelved, strays

    def follow(self) -> None:
        """Stick to the bottom until the reader scrolls up."""
        self.anchor()

    def assistant_items(self) -> list[MessageItem]:
        return [m for m in self.query(MessageItem) if m.role == "assistant"]
