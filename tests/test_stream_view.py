"""How a long reply stays cheap to draw: parked views, typing first, no full GC mid-reply."""

from __future__ import annotations

import asyncio
import gc

from textual.app import App, ComposeResult

from rung.tui import gc_pause
from rung.tui.widgets import messages as messages_module
from rung.tui.widgets.messages import MessageItem, MessageList
from tests.test_md_parts import reply_text


class Conversation(App[None]):
    def __init__(self, *items: MessageItem) -> None:
        super().__init__()
        self.items = items

    def compose(self) -> ComposeResult:
        yield MessageList(id="messages")

    async def on_mount(self) -> None:
        await self.query_one(MessageList).mount_all(self.items)


def visible_text(app: App[None]) -> str:
    return app.export_screenshot()


async def test_views_far_off_screen_are_parked_and_come_back_unchanged() -> None:
    text = reply_text(60)  # ~20,000 characters: 9 views
    app = Conversation(MessageItem("user", "explain"), MessageItem("assistant", text))
    async with app.run_test(size=(100, 30)) as pilot:
        messages = app.query_one(MessageList)
        item = messages.query_one(".assistant", MessageItem)
        views = item.views()
        assert len(views) >= 8
        await pilot.pause()
        top = visible_text(app)
        messages.scroll_end(animate=False)
        await pilot.pause(messages_module.PARK_EVERY_S * 2)
        # At the bottom, the views at the top are parked: kept with their height, none
        # of their blocks laid out.
        parked = [view for view in views if view.has_class("parked")]
        assert len(parked) >= len(views) - 3
        assert views[0] in parked and views[-1] not in parked
        assert all(not block.display for block in views[0].children)
        assert messages.parked == len(parked)
        height = messages.virtual_size.height
        messages.scroll_home(animate=False)
        await pilot.pause(messages_module.PARK_EVERY_S * 2)
        # Back at the top: the first view is live again, and nothing moved.
        assert not views[0].has_class("parked")
        assert messages.virtual_size.height == height
        assert visible_text(app) == top


async def test_a_parked_view_comes_back_at_a_new_width() -> None:
    app = Conversation(MessageItem("assistant", reply_text(60)))
    async with app.run_test(size=(100, 30)) as pilot:
        messages = app.query_one(MessageList)
        item = messages.query_one(MessageItem)
        messages.scroll_end(animate=False)
        await pilot.pause(messages_module.PARK_EVERY_S * 2)
        first = item.views()[0]
        assert first.has_class("parked")
        wide_height = first.outer_size.height
        await pilot.resize_terminal(60, 30)
        await pilot.pause(messages_module.PARK_EVERY_S * 3)
        # Narrower, the view wraps to more lines: its parked height was remeasured.
        assert first.outer_size.height > wide_height
        messages.scroll_home(animate=False)
        await pilot.pause(messages_module.PARK_EVERY_S * 2)
        assert not first.has_class("parked")
        assert first.outer_size.height > wide_height


async def test_typing_holds_the_reply_back_until_typing_pauses() -> None:
    item = MessageItem("assistant")
    app = Conversation(item)
    async with app.run_test(size=(100, 30)) as pilot:
        await item.append("First paragraph.\n\n")
        assert "First paragraph." in item.shown_source  # the first piece at once
        await asyncio.sleep(messages_module.FLUSH_MIN_S * 2)
        item.user_typed()
        await item.append("Second paragraph.\n\n")
        await pilot.pause(messages_module.TYPING_HOLD_S / 3)
        item.user_typed()
        await pilot.pause(messages_module.TYPING_HOLD_S / 2)
        assert "Second" not in item.shown_source  # still typing: the reply waits
        await pilot.pause(messages_module.TYPING_HOLD_S * 2)
        assert "Second paragraph." in item.shown_source  # typing paused: drawn
        assert item.text == "First paragraph.\n\nSecond paragraph.\n\n"
        await item.finish("done")


async def test_no_full_collection_while_a_reply_streams() -> None:
    normal = gc.get_threshold()
    item = MessageItem("assistant")
    app = Conversation(item)
    try:
        async with app.run_test() as pilot:
            await item.append("Hello")
            assert gc_pause.paused()
            assert gc.get_threshold()[2] >= gc_pause.PAUSED_THRESHOLD
            frozen = gc.get_freeze_count()
            await item.finish("done")
            await pilot.pause()
            # After the reply: collections as before, and what lived is frozen.
            assert not gc_pause.paused()
            assert gc.get_threshold() == normal
            assert gc.get_freeze_count() > frozen
            # A reply removed mid-stream (a new chat) does not leave collections paused.
            second = MessageItem("assistant")
            await app.query_one(MessageList).mount(second)
            await second.append("Hi")
            assert gc_pause.paused()
            await app.query_one(MessageList).clear()
            await pilot.pause()
            assert not gc_pause.paused()
            assert gc.get_freeze_count() == 0  # the old conversation can be collected
    finally:
        gc.unfreeze()
        gc.set_threshold(*normal)
