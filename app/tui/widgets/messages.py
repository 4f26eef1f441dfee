"""The conversation: the scrolling list of its messages (widgets/messages_item.py), shown
in batches from a stored history, with far-off views parked and the oldest messages
shelved as text to keep a long conversation cheap to lay out and to hold."""

from __future__ import annotations

import dataclasses
from itertools import takewhile

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from rung.tui import gc_pause

# A message and its shelved form live in messages_item.py; the chat screens and the
# tests import them from here, with the list that holds them.
from rung.tui.widgets.messages_item import MessageItem as MessageItem
from rung.tui.widgets.messages_item import Shelved as Shelved

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
