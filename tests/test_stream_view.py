"""How a long reply stays cheap to draw: parked views, typing first, no full GC mid-reply;
and how a long conversation stays small: old messages shelved as text."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest
from textual.app import App, ComposeResult
from textual.widgets import Static

from rung.tui import gc_pause
from rung.tui.widgets import messages as messages_module
from rung.tui.widgets import messages_pacing
from rung.tui.widgets.messages import MessageItem, MessageList
from tests.conftest import wait_for
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
        # Narrower, the view wraps to more lines: its parked height was remeasured.
        await wait_for(lambda: first.outer_size.height > wide_height, timeout=10)
        messages.scroll_home(animate=False)
        await wait_for(lambda: not first.has_class("parked"), timeout=10)
        assert first.outer_size.height > wide_height


async def test_typing_holds_the_reply_back_until_typing_pauses() -> None:
    item = MessageItem("assistant")
    app = Conversation(item)
    async with app.run_test(size=(100, 30)) as pilot:
        await item.append("First paragraph.\n\n")
        assert "First paragraph." in item.shown_source  # the first piece at once
        await asyncio.sleep(messages_pacing.FLUSH_MIN_S * 2)
        item.user_typed()
        await item.append("Second paragraph.\n\n")
        await pilot.pause(messages_pacing.TYPING_HOLD_S / 3)
        item.user_typed()
        await pilot.pause(messages_pacing.TYPING_HOLD_S / 2)
        assert "Second" not in item.shown_source  # still typing: the reply waits
        await pilot.pause(messages_pacing.TYPING_HOLD_S * 2)
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
            # The old conversation can be collected (after a refresh: see gc_pause.forget).
            await wait_for(lambda: gc.get_freeze_count() == 0, timeout=5)
    finally:
        gc.unfreeze()
        gc.set_threshold(*normal)


async def test_the_collection_of_removed_widgets_waits_for_a_pause_in_typing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(gc_pause, "COLLECT_QUIET_S", 0.3)
    try:
        gc_pause.forget()  # widgets were removed: a full collection is due
        for _ in range(10):  # a second of typing
            gc_pause.activity()
            await asyncio.sleep(0.1)
            assert gc.get_freeze_count() == 0  # not collected (and re-frozen) yet
        # Typing paused: the collection runs, and what it kept is frozen again.
        await wait_for(lambda: gc.get_freeze_count() > 0, timeout=3)
        # Someone who sends their next question without a pause: it runs as they send,
        # even if a fast server's first tokens are already streaming.
        gc_pause.forget()
        gc_pause.activity()
        gc_pause.sending()
        gc_pause.hold()
        try:
            await wait_for(lambda: gc.get_freeze_count() > 0, timeout=gc_pause.COLLECT_QUIET_S)
        finally:
            gc_pause.release(freeze=False)
    finally:
        gc.unfreeze()


async def one_turn(messages: MessageList, i: int, status: str = "done") -> MessageItem:
    """A question and its streamed reply, sent as the chat screen sends them."""
    messages.follow()
    await messages.add(MessageItem("user", f"question {i}", meta="you"))
    reply = await messages.add(MessageItem("assistant", meta=f"openai · turn {i}"))
    await reply.append(f"Answer **{i}**.\n\n```python\nprint({i})\n```\n")
    await reply.finish(status, "Cancelled — the text above is what arrived." if i == 0 else "")
    return reply


async def test_old_messages_are_shelved_as_text_and_come_back_on_scroll_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(messages_module, "MOUNTED_MAX", 8)
    monkeypatch.setattr(messages_module, "MOUNTED_KEEP", 6)
    app = Conversation()
    async with app.run_test(size=(80, 24)) as pilot:
        messages = app.query_one(MessageList)
        first = weakref.ref(await one_turn(messages, 0, "cancelled"))
        await one_turn(messages, 1)
        first_widgets = weakref.ref(first().views()[0])  # type: ignore[union-attr]
        for i in range(2, 6):
            await one_turn(messages, i)
            await pilot.pause()
        # 12 messages: past 8, the oldest were shelved down to 6 (then more may have come).
        await wait_for(lambda: len(messages.query_children(MessageItem)) <= 8)
        shown = list(messages.query_children(MessageItem))
        earlier = messages.earlier_count
        assert earlier >= 4 and earlier + len(shown) == 12
        assert shown[0].text == f"question {earlier // 2}"
        assert shown[-1].text.startswith("Answer **5**")
        marker = str(messages.query_one("#earlier", Static).render())
        assert f"{earlier} earlier messages" in marker
        assert messages.is_vertical_scroll_end  # the reader stays at the bottom
        # The shelved widgets are freed as the next reply ends, although the replies
        # froze them (gc_pause).
        await one_turn(messages, 6)
        await wait_for(lambda: first() is None and first_widgets() is None)
        # Scrolling to the top brings them back as they were.
        await wait_for(lambda: len(messages.query_children(MessageItem)) <= 8)
        messages.scroll_home(animate=False)
        await wait_for(lambda: len(messages.query_children(MessageItem)) == 14)
        items = list(messages.query_children(MessageItem))
        assert [item.text for item in items[:3:2]] == ["question 0", "question 1"]
        reply = items[1]
        assert reply.has_class("cancelled") and reply.meta_text == "openai · turn 0"
        await wait_for(lambda: "Answer **0**" in reply.shown_source)  # parsed as it mounts
        assert "Cancelled" in reply.shown_source
        await wait_for(lambda: not messages.query("#earlier"))
        # A reader who has scrolled up keeps their place: nothing is shelved under them.
        await pilot.pause(messages_module.PARK_EVERY_S)
        reading = messages.scroll_y
        assert reading < messages.max_scroll_y
        await messages.add(MessageItem("notice", "Escalating."))
        await pilot.pause(messages_module.PARK_EVERY_S * 2)
        assert len(messages.query_children(MessageItem)) == 15
        assert messages.scroll_y == reading
        # Back at the bottom, the next message shelves the oldest again.
        await one_turn(messages, 7)
        await wait_for(lambda: len(messages.query_children(MessageItem)) <= 8)
        assert messages.earlier_count == 17 - len(messages.query_children(MessageItem))


async def test_a_key_split_between_two_flushes_is_masked_on_screen() -> None:
    """Each flush used to be sanitised alone: a key whose halves arrived in two flushes
    matched no key pattern in either and reached the screen whole."""
    key = "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z" * 2
    item = MessageItem("assistant")
    app = Conversation(item)
    async with app.run_test(size=(120, 30)) as pilot:
        await item.append(f"Your key is {key[:20]}")
        await pilot.pause(messages_pacing.FLUSH_MIN_S * 3)
        await item.append(f"{key[20:]} and then\x1b]0;")
        await pilot.pause(messages_pacing.FLUSH_MIN_S * 3)
        await item.append("pwned\x07 the end.")
        await item.finish("done")
        await pilot.pause()
        shown = item.shown_source + visible_text(app)
        assert key[:12] not in shown and key[-12:] not in shown
        assert "\x1b" not in item.shown_source and "the end." in item.shown_source
        assert item.text.startswith(f"Your key is {key}")  # stored as received
