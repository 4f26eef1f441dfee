"""The chat screen driven by Pilot, with the real embedded model."""

from __future__ import annotations

from textual.widgets import Markdown

from rung.engine.config import load_config
from rung.tui.app import RungApp
from rung.tui.help import HelpScreen
from rung.tui.widgets.messages import MessageItem, MessageList
from rung.tui.widgets.prompt import PromptInput
from rung.tui.widgets.status import StatusBar
from tests.conftest import wait_for


def make_app(max_tokens: int = 24) -> RungApp:
    config = load_config()
    config.set("ui", "max_tokens", max_tokens)
    return RungApp(config)


def replies(app: RungApp) -> list[MessageItem]:
    return app.chat.query_one(MessageList).assistant_items()


async def test_type_send_and_see_the_reply_stream_in() -> None:
    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        status = app.chat.query_one(StatusBar)
        await wait_for(lambda: status.state == "ready")
        await pilot.press(*"Say hello", "enter")
        await wait_for(lambda: bool(replies(app)) and replies(app)[0].status == "done")
        item = replies(app)[0]
        assert item.text.strip()
        # The reply is on screen, in a Markdown view.
        rendered = item.query_one(Markdown)
        assert item.text.split()[0] in rendered.source
        assert "in /" in str(item.query_one(".meta").render())
        assert app.chat.query_one(PromptInput).text == ""
        assert status.tokens_per_s is not None and status.ttft_s is not None
        assert "tok/s" in str(status.render())


async def test_reply_streams_without_rerendering_the_whole_message(monkeypatch) -> None:
    """Per token, the Markdown widget is appended to, never fully re-rendered."""
    full_renders: list[int] = []
    original = Markdown.update

    def counting_update(self, markdown: str):  # type: ignore[no-untyped-def]
        if markdown:
            full_renders.append(len(markdown))
        return original(self, markdown)

    monkeypatch.setattr(Markdown, "update", counting_update)
    app = make_app(60)
    async with app.run_test() as pilot:
        await pilot.press(*"Write a short poem about the sea", "enter")
        await wait_for(lambda: bool(replies(app)) and replies(app)[0].status == "done")
        reply = app.chat.replies[-1]
        assert reply.usage.output_tokens > 20
        # The reply only ever appends, however many tokens streamed in (the user's
        # message is plain text, not Markdown).
        assert full_renders == []


async def test_escape_cancels_and_keeps_what_arrived() -> None:
    app = make_app(500)
    async with app.run_test() as pilot:
        await pilot.press(*"Write a very long story about the sea", "enter")
        await wait_for(lambda: bool(replies(app)) and len(replies(app)[0].text) > 10)
        await pilot.press("escape")
        await wait_for(lambda: replies(app)[0].status == "cancelled")
        item = replies(app)[0]
        assert item.has_class("cancelled")
        assert "Cancelled" in item.query_one(Markdown).source
        # The partial reply is part of the conversation.
        assert app.chat.history[-1].role == "assistant"
        assert app.chat.history[-1].content == item.text
        # And the app carries on: the next question is answered.
        await pilot.press(*"hi", "enter")
        await wait_for(lambda: len(replies(app)) == 2 and replies(app)[1].status == "done")


async def test_ctrl_j_inserts_a_newline_and_enter_sends() -> None:
    app = make_app(8)
    async with app.run_test() as pilot:
        await pilot.press("a", "ctrl+j", "b")
        assert app.chat.query_one(PromptInput).text == "a\nb"
        await pilot.press("enter")
        await wait_for(lambda: bool(replies(app)))
        assert app.chat.history[0].content == "a\nb"


async def test_f1_lists_every_binding_with_its_id() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        ids = {row[2] for row in app.screen.rows}
        assert {"cancel-reply", "help", "copy-reply", "copy-code", "new-chat", "quit"} <= ids
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_copy_reply_and_code_block() -> None:
    app = make_app()
    async with app.run_test() as pilot:
        await pilot.press("ctrl+o")  # nothing yet: a warning, no crash
        item = await app.chat.query_one(MessageList).add(
            MessageItem("assistant", "Use this:\n```python\nprint('hi')\n```\nDone.")
        )
        assert item.text
        await pilot.press("ctrl+t")
        assert app.clipboard == "print('hi')"
        await pilot.press("ctrl+o")
        assert app.clipboard.startswith("Use this:")


async def test_missing_model_is_reported_and_the_app_lives_on(tmp_path) -> None:
    config = load_config()
    config.set("local", "model_path", str(tmp_path / "gone.gguf"))
    app = RungApp(config)
    async with app.run_test() as pilot:
        status = app.chat.query_one(StatusBar)
        await wait_for(lambda: status.state == "model failed to load")
        await pilot.press(*"hi", "enter")
        await wait_for(lambda: bool(replies(app)) and replies(app)[0].status == "failed")
        assert "gone.gguf" in replies(app)[0].query_one(Markdown).source


async def test_a_huge_paste_is_refused_with_a_message_and_the_prompt_kept() -> None:
    from textual import events

    from rung.tui.widgets.prompt import MAX_PROMPT_CHARS

    app = make_app()
    async with app.run_test() as pilot:
        prompt = app.chat.query_one(PromptInput)
        await pilot.press(*"keep me")
        prompt.post_message(events.Paste("x" * (MAX_PROMPT_CHARS + 1)))
        await pilot.pause()
        assert prompt.text == "keep me"
        assert any("paste is" in n.message for n in app._notifications)
        prompt.post_message(events.Paste(" and this"))
        await pilot.pause()
        assert prompt.text.endswith("and this")


async def test_scrolling_up_stops_following_the_reply(servers, monkeypatch) -> None:
    from rung.engine.build_tiers import RungOverrides
    from tests.fakes import Send, Sleep, anthropic_stream

    def slow_lines(request):  # type: ignore[no-untyped-def]
        steps = anthropic_stream([f"line {i}\n\n" for i in range(200)])
        return [x for step in steps for x in ((step, Sleep(0.02)) if isinstance(step, Send)
                                              else (step,))]  # fmt: skip

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    api = servers(slow_lines)
    app = RungApp(load_config(), RungOverrides(tier="anthropic", base_url=api.url + "/v1"))
    async with app.run_test(size=(80, 20)) as pilot:
        messages = app.chat.query_one(MessageList)
        await pilot.press(*"stream", "enter")
        await wait_for(lambda: messages.max_scroll_y > 5)
        await pilot.pause()
        assert messages.scroll_y == messages.max_scroll_y  # following the reply
        # The reader scrolls up (any scroll by the user releases the anchor)...
        messages.scroll_to(y=0, animate=False)
        await pilot.pause()
        grown_from = messages.max_scroll_y
        await wait_for(lambda: messages.max_scroll_y > grown_from + 3)
        # ...and stays where they are while the reply keeps growing below.
        assert messages.scroll_y == 0 < messages.max_scroll_y
        # Ending the reply (here by Esc) must not yank the reader to the bottom either.
        await pilot.press("escape")
        await wait_for(lambda: messages.assistant_items()[0].status == "cancelled")
        await pilot.pause()
        assert messages.scroll_y == 0


async def test_the_key_bar_shows_each_action_once_and_a_click_presses_the_key() -> None:
    from rung.tui.widgets.keybar import KeyBar

    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        bar = app.chat.query_one(KeyBar)
        line = str(bar.render())
        # F9 and Ctrl+R both escalate: the bar names the action once, with F9.
        assert line.count("Escalate") == 1 and "f9 Escalate" in line
        assert "f1 Keys" in line and line.splitlines()[0].rstrip().endswith("palette")
        start = line.index("f1 Keys")
        await pilot.click(KeyBar, offset=(start + 1, 0))
        await wait_for(lambda: isinstance(app.screen, HelpScreen))


async def test_the_key_bar_cuts_the_least_useful_keys_at_80_columns() -> None:
    from rung.tui.widgets.keybar import KeyBar

    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        line = str(app.chat.query_one(KeyBar).render())
        # Two lines at 80 columns, most useful first: nothing of the chat's is cut.
        assert all(len(row) <= 80 for row in line.splitlines()) and len(line.splitlines()) == 2
        assert "f1 Keys" in line.splitlines()[0] and "f2 local" in line.splitlines()[0]
        assert "palette" in line and "Quit" in line
