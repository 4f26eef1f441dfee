"""Conversations are kept: list them, continue the newest or any one by id."""

from __future__ import annotations

from pathlib import Path

from rung.engine.build_tiers import RungOverrides
from rung.engine.config import data_dir, load_config
from rung.engine.store import open_store
from rung.tui.app import RungApp
from rung.tui.widgets.messages import MessageList
from tests.conftest import wait_for
from tests.fakes import anthropic_stream
from tests.test_cli import rung


def test_sessions_lists_conversations_newest_first(tmp_path: Path) -> None:
    assert rung(tmp_path, "sessions").stdout.strip() == "No conversations yet."
    for question in ("first question", "second question"):
        assert rung(tmp_path, "ask", "--max-tokens", "3", question).returncode == 0
    lines = rung(tmp_path, "sessions").stdout.splitlines()
    assert lines[0].startswith("#2") and "second question" in lines[0]
    assert lines[1].startswith("#1") and "first question" in lines[1]
    assert "2 msgs" in lines[0] and "$0" in lines[0]


def test_continue_without_history_says_so(tmp_path: Path) -> None:
    result = rung(tmp_path, "--continue")
    assert result.returncode == 1 and "no earlier conversation" in result.stderr


async def test_resume_shows_the_conversation_and_continues_it(
    servers, monkeypatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    api = servers(lambda r: anthropic_stream(["Second answer."]))
    # An earlier conversation, with a file attached to its question.
    (tmp_path / "notes.txt").write_text("remember the milk")
    monkeypatch.chdir(tmp_path)
    first = RungApp(load_config(), RungOverrides(tier="anthropic", base_url=api.url + "/v1"))
    async with first.run_test() as pilot:
        await pilot.press(*"Read @notes.txt", "enter")
        await wait_for(lambda: len(first.chat.replies) == 1 and not first.chat.busy)
    session_id = first.session.session_id
    assert session_id is not None

    app = RungApp(
        load_config(), RungOverrides(tier="anthropic", base_url=api.url + "/v1"), session_id
    )
    async with app.run_test(size=(120, 40)) as pilot:
        messages = app.chat.query_one(MessageList)
        await wait_for(lambda: len(messages.query("MessageItem")) == 2)
        user, reply = messages.query("MessageItem")
        assert user.text == "Read @notes.txt"  # the file is listed, not dumped on screen
        assert "attached notes.txt" in str(user.query_one(".meta").render())
        assert reply.text == "Second answer." and "$" in str(reply.query_one(".meta").render())
        await pilot.press(*"And then?", "enter")
        await wait_for(lambda: len(app.chat.replies) == 1 and not app.chat.busy)
    # The model saw the whole conversation, file included...
    sent = api.requests[-1].json()["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert "remember the milk" in sent[0]["content"][0]["text"]
    # ...and the new turn joined the same session.
    store = open_store(data_dir())
    try:
        assert len(store.transcript(session_id)) == 4
        assert len(store.sessions()) == 1
    finally:
        store.close()


def test_export_writes_markdown_and_masks_keys(tmp_path: Path) -> None:
    key = "sk-ant-EXPORTCANARY-1234567"
    # The user pasted their own key into a question by mistake.
    assert rung(tmp_path, "ask", "--max-tokens", "3", f"is {key} valid?").returncode == 0
    result = rung(tmp_path, "export", ANTHROPIC_API_KEY=key)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("# Rung conversation #1")
    assert "## You" in text and "## local · SmolLM2-135M-Instruct · $0" in text
    assert key not in text and "is sk-…4567 valid?" in text
    out = tmp_path / "conv.md"
    assert rung(tmp_path, "export", "1", "-o", str(out), ANTHROPIC_API_KEY=key).returncode == 0
    assert key not in out.read_text() and "Total: $0" in out.read_text()
    missing = rung(tmp_path, "export", "99")
    assert missing.returncode == 1 and "No session #99" in missing.stderr


async def test_export_from_the_chat_screen(servers, monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-000000")
    monkeypatch.chdir(tmp_path)
    api = servers(lambda r: anthropic_stream(["Exported answer."]))
    app = RungApp(load_config(), RungOverrides(tier="anthropic", base_url=api.url + "/v1"))
    async with app.run_test() as pilot:
        app.chat.action_export()  # nothing yet: a message, no file
        await pilot.press(*"hi", "enter")
        await wait_for(lambda: len(app.chat.replies) == 1 and not app.chat.busy)
        app.chat.action_export()
    exported = list(tmp_path.glob("rung-conversation-*.md"))
    assert len(exported) == 1 and "Exported answer." in exported[0].read_text()


def seed_long_session(exchanges: int) -> int:
    """A stored conversation of ``exchanges`` questions and Markdown answers; the first
    answer was cancelled."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from rung.tiers.base import Usage
    from rung.tiers.meter import MessageCost
    from rung.tiers.pricing import Cost

    store = open_store(data_dir())
    try:
        sid = store.start_session("tui")
        for i in range(exchanges):
            store.add_user_message(sid, f"Question number {i}")
            row = store.begin_reply(sid, "local", "local", "local", "SmolLM2", "quick")
            record = MessageCost(
                tier="local", kind="local", provider="local", model="SmolLM2",
                usage=Usage(input_tokens=10, output_tokens=20),
                cost=Cost(Decimal(0), True, "local"),
                reference=Cost(Decimal("0.001"), True, "genai-prices"),
                when=datetime.now(UTC),
                finish_reason="cancelled" if i == 0 else "stop",
            )  # fmt: skip
            text = f"Answer {i}.\n\n```python\nprint({i})\n```\n"
            store.update_reply(row, text, record, final=True)
        return sid
    finally:
        store.close()


async def test_a_long_conversation_opens_with_its_latest_messages_and_the_rest_on_scroll_up(
    tmp_path: Path,
) -> None:
    from rung.tui.widgets.messages import HISTORY_BATCH, MessageItem

    session_id = seed_long_session(100)  # 200 messages
    app = RungApp(load_config(), resume=session_id)
    async with app.run_test(size=(100, 30)) as pilot:
        messages = app.chat.query_one(MessageList)
        await wait_for(lambda: len(messages.query(MessageItem)) == HISTORY_BATCH)
        await pilot.pause()
        shown = list(messages.query(MessageItem))
        assert shown[-1].text.startswith("Answer 99.") and messages.is_vertical_scroll_end
        marker = str(messages.query_one("#earlier").render())
        assert f"{200 - HISTORY_BATCH} earlier messages" in marker
        # Scrolling to the top shows the batch before, and keeps the reader where they were.
        oldest_shown = shown[0]
        messages.scroll_home(animate=False)
        await wait_for(lambda: len(messages.query(MessageItem)) == 2 * HISTORY_BATCH)
        # The message that was at the top stays at the top: the batch went above it.
        await wait_for(lambda: messages.scroll_y > 0)
        assert messages.scroll_y == oldest_shown.virtual_region.y
        # Every message is reachable; the first reply still says it was cancelled.
        while messages.earlier_count:
            count = len(messages.query(MessageItem))
            messages.scroll_home(animate=False)
            await wait_for(lambda c=count: len(messages.query(MessageItem)) > c)
            await wait_for(lambda: messages.scroll_y > 0)  # back at the reader's place
        items = list(messages.query(MessageItem))
        assert len(items) == 200 and not messages.query("#earlier")
        assert items[0].text == "Question number 0"
        assert items[1].has_class("cancelled") and "Cancelled" in items[1].markdown.source
        # The conversation continues from its end.
        assert len(app.conversation.history) == 200


async def test_short_messages_in_a_tall_terminal_still_fill_the_view() -> None:
    """Nothing to scroll means no way to reach the earlier messages: more are shown."""
    from rung.tui.widgets.messages import HISTORY_BATCH, MessageItem

    store = open_store(data_dir())
    try:
        sid = store.start_session("tui")
        for i in range(60):
            store.add_user_message(sid, f"q{i}")
    finally:
        store.close()
    app = RungApp(load_config(), resume=sid)
    async with app.run_test(size=(100, 120)) as pilot:
        messages = app.chat.query_one(MessageList)
        # 60 one-line questions: a batch of them is shorter than 120 rows.
        await wait_for(lambda: len(messages.query(MessageItem)) > HISTORY_BATCH)
        await wait_for(lambda: messages.max_scroll_y > 0 or not messages.earlier_count)
        await pilot.pause()
        assert messages.query(MessageItem).last().text == "q59"
