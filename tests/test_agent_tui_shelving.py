"""A long agent turn in the chat: past MOUNTED_MAX messages the oldest steps are shelved
as text, and their tool-call lines go with them (folded into the step's note) instead
of piling up at the top out of their place."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from rung.tui.agent_view import ToolCallLine
from rung.tui.widgets import messages as messages_module
from rung.tui.widgets.messages import MessageItem, MessageList
from tests.conftest import wait_for


class Chat(App[None]):
    def compose(self) -> ComposeResult:
        yield MessageList(id="messages")


async def test_tool_lines_are_shelved_with_their_step(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(messages_module, "MOUNTED_MAX", 8)
    monkeypatch.setattr(messages_module, "MOUNTED_KEEP", 6)
    app = Chat()
    async with app.run_test(size=(80, 24)) as pilot:
        messages = app.query_one(MessageList)
        messages.follow()
        for step in range(12):
            item = await messages.add(MessageItem("assistant", meta=f"openai · step {step}"))
            await item.append(f"Step {step}.")
            await item.finish("done")
            line = ToolCallLine(f"call-{step}", "read", f'read {{"path": "f{step}.py"}}')
            await messages.mount(line)
            line.finish(f"read f{step}.py 1-10", step == 1, "text")
            await pilot.pause()
        await wait_for(lambda: len(messages.query_children(MessageItem)) <= 8)
        children = [c for c in messages.children if c.id != "earlier"]
        # What stays on screen starts with a step, each step followed by its own line.
        assert isinstance(children[0], MessageItem)
        first_step = int(children[0].meta_text.rsplit(" ", 1)[1])
        lines = [c for c in children if isinstance(c, ToolCallLine)]
        assert lines[0].call_id == f"call-{first_step}"
        # Scrolling up brings the shelved steps back with their calls in the note.
        messages.scroll_home(animate=False)
        await wait_for(lambda: len(messages.query_children(MessageItem)) == 12)
        step1 = list(messages.query_children(MessageItem))[1]
        await wait_for(lambda: "▸ read f1.py 1-10 (failed)" in step1.shown_source)
