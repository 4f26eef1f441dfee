"""The compare screen: one question on two rungs, answers streaming side by side from real
scripted servers, live cost and speed per column, one kept in the conversation."""

from __future__ import annotations

from decimal import Decimal

from textual.widgets import Input, Markdown, Static

from rung.engine.config import load_config
from rung.engine.side_by_side import KEPT_REASON, NOT_KEPT_REASON, SideBySide, adopt
from rung.tui.app import RungApp
from rung.tui.compare_screen import CompareColumn, CompareScreen
from tests.conftest import confirm_hosts, wait_for
from tests.fakes import Sleep, Step, anthropic_stream, openai_stream

PIECES = ["Two ", "plus ", "two ", "is ", "four."]


def slow(steps: list[Step], head: int, pause: float = 0.15) -> list[Step]:
    """The stream with a pause before each piece of text, as a model streams."""
    out = steps[:head]
    for step in steps[head:]:
        out += [Sleep(pause), step]
    return out


def compare_app(servers, monkeypatch, pause: float = 0.15) -> RungApp:  # type: ignore[no-untyped-def]
    sonnet = servers(
        lambda r: slow(
            anthropic_stream(PIECES, input_tokens=25, output_tokens=8, model="claude-sonnet-4-6"),
            4,
            pause,
        )
    )
    flash = servers(
        lambda r: slow(
            openai_stream(
                [p.upper() for p in PIECES],
                model="deepseek-v4-flash",
                usage={"prompt_tokens": 30, "completion_tokens": 6},
            ),
            2,
            pause,
        )
    )
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-ds-test")
    config = load_config()
    config.set("ladder", "rungs", ["deepseek", "anthropic"])
    config.set("network", "max_retries", 0)
    config.providers["anthropic"] = {"base_url": sonnet.url}
    config.providers["deepseek"] = {"base_url": flash.url + "/v1"}
    confirm_hosts(anthropic=sonnet.url, deepseek=flash.url)
    # An override keeps DeepSeek's figure exact at any hour (its own price has peak hours).
    config.prices["deepseek-v4-flash"] = {"input": Decimal("1.00"), "output": Decimal("2.00")}
    return RungApp(config)


def meter(column: CompareColumn) -> str:
    return str(column.query_one(".meter", Static).render())


async def test_two_rungs_stream_side_by_side_and_one_is_kept(servers, monkeypatch) -> None:
    app = compare_app(servers, monkeypatch)
    results: list[SideBySide | None] = []
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        app.conversation.history.clear()
        screen = CompareScreen(app.conversation, ["deepseek", "anthropic"])
        await app.push_screen(screen, results.append)
        await pilot.pause()
        assert screen.query_one(Input).has_focus
        await pilot.press(*"What is 2+2?", "enter")
        flash, sonnet = screen.columns
        # Both answers arrive at once, each in its own column, before either has ended.
        await wait_for(lambda: flash.text.count(" ") >= 2 and sonnet.text.count(" ") >= 2)
        assert flash.streaming and sonnet.streaming
        assert sonnet.text.startswith("Two plus") and flash.text.startswith("TWO PLUS")
        # Each column shows its running cost (an estimate, marked ~) and its speed.
        await wait_for(lambda: meter(sonnet).startswith("~$") and "tok/s" in meter(sonnet))
        await wait_for(lambda: not flash.streaming and not sonnet.streaming)
        assert sonnet.text == "Two plus two is four." and flash.text == "TWO PLUS TWO IS FOUR."
        assert "Two plus two is four." in sonnet.query_one(Markdown).source
        # The exact figures once the provider's usage arrived: $0.000195, $0.000042.
        assert meter(sonnet).startswith("$0.0002 · 25 in / 8 out ·") and "done" in meter(sonnet)
        assert meter(flash).startswith("<$0.0001 · 30 in / 6 out ·")
        assert "first token" in meter(sonnet)
        await pilot.press("right")  # pick the second column
        assert sonnet.has_class("-selected") and not flash.has_class("-selected")
        await pilot.press("enter")  # keep it
        await wait_for(lambda: bool(results))
    result = results[0]
    assert result is not None and result.question == "What is 2+2?"
    assert [c.rung for c in result.columns] == ["deepseek", "anthropic"] and result.kept == 1
    kept = result.kept_column
    assert kept is not None and kept.reply.text == "Two plus two is four."
    assert kept.record.cost.usd == Decimal("0.000195") and kept.record.cost.exact


async def test_the_kept_answer_joins_the_conversation_and_every_answer_is_counted(
    servers, monkeypatch
) -> None:
    app = compare_app(servers, monkeypatch, pause=0.01)
    results: list[SideBySide | None] = []
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        conversation = app.conversation
        screen = CompareScreen(conversation, ["deepseek", "anthropic"], question="What is 2+2?")
        await app.push_screen(screen, results.append)
        await wait_for(
            lambda: bool(screen.question) and not any(c.streaming for c in screen.columns)
        )
        await pilot.press("enter")  # keeps the first column: deepseek
        await wait_for(lambda: bool(results))
        result = results[0]
        assert result is not None and result.kept == 0
        adopt(conversation, result)
        assert [(m.role, m.content) for m in conversation.history] == [
            ("user", "What is 2+2?"),
            ("assistant", "TWO PLUS TWO IS FOUR."),
        ]
        assert conversation.last_tier == "deepseek"
        # Both answers were paid for: both are in the meter and the history.
        totals = conversation.session.meter.totals()
        assert totals.spent == Decimal("0.000195") + Decimal("0.000042")
        session_id = conversation.session.session_id
        assert session_id is not None
        conversation.session.recorder.flush(2.0)  # type: ignore[union-attr]
        stored = conversation.session.store.transcript(session_id)  # type: ignore[union-attr]
        assert [(m.role, m.tier, m.reason) for m in stored] == [
            ("user", None, None),
            ("assistant", "anthropic", NOT_KEPT_REASON),
            ("assistant", "deepseek", KEPT_REASON),  # last: a resume continues from it
        ]


async def test_esc_stops_the_answers_and_a_closed_comparison_stays_out_of_the_conversation(
    servers, monkeypatch
) -> None:
    app = compare_app(servers, monkeypatch, pause=0.5)
    results: list[SideBySide | None] = []
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        conversation = app.conversation
        screen = CompareScreen(conversation, ["deepseek", "anthropic"], question="hi")
        await app.push_screen(screen, results.append)
        await wait_for(lambda: all(c.text for c in screen.columns))
        await pilot.press("escape")  # stop both: what arrived stays, priced
        await wait_for(lambda: not any(c.streaming for c in screen.columns))
        assert all(c.status == "cancelled" for c in screen.columns)
        assert all("stopped" in meter(c) for c in screen.columns)
        await pilot.press("escape")  # close without keeping
        await wait_for(lambda: bool(results))
        result = results[0]
        assert result is not None and result.kept is None and len(result.columns) == 2
        adopt(conversation, result)
        assert conversation.history == []  # nothing kept: the model never sees it
        assert len(conversation.session.meter.records) == 2  # but it was paid for
        conversation.session.recorder.flush(2.0)  # type: ignore[union-attr]
        stored = conversation.session.store.transcript(conversation.session.session_id)  # type: ignore[union-attr, arg-type]
        assert len(stored) == 3 and all(m.superseded for m in stored)


async def test_a_rung_that_cannot_be_asked_says_why(servers, monkeypatch) -> None:
    app = compare_app(servers, monkeypatch, pause=0.01)  # no Gemini key is set
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        screen = CompareScreen(app.conversation, ["deepseek", "gemini"])
        await app.push_screen(screen)
        await pilot.pause()
        assert meter(screen.columns[1]) == "not asked: no API key"


async def test_f12_in_the_chat_compares_and_keeps_an_answer_in_the_conversation() -> None:
    """Wired into the chat: the typed question goes to the compare screen, the kept
    answer continues the conversation, the other stays on screen, dimmed."""
    from rung.engine.config import load_config
    from rung.tui.app import RungApp
    from rung.tui.compare_screen import CompareScreen
    from tests.conftest import wait_for
    from tests.scripted import Script, anthropic, local

    config = load_config()
    config.set("ladder", "rungs", ["local", "anthropic"])
    tiers = {
        "local": local(Script(pieces=["Local says hi."])),
        "anthropic": anthropic(Script(pieces=["Claude says hi."])),
    }
    app = RungApp(config, tiers=tiers)  # type: ignore[arg-type]
    async with app.run_test(size=(120, 36)) as pilot:
        await pilot.press(*"Say hi")
        await pilot.press("f12")
        await wait_for(lambda: isinstance(app.screen, CompareScreen))
        screen = app.screen
        await wait_for(lambda: screen.columns and not any(c.streaming for c in screen.columns))
        await pilot.press("right", "enter")  # keep the second column's answer
        await wait_for(lambda: not isinstance(app.screen, CompareScreen))
        await pilot.pause()
        assert [m.content for m in app.conversation.history] == ["Say hi", "Claude says hi."]
        items = app.chat.query("MessageItem")
        assert [i.text for i in items] == ["Say hi", "Local says hi.", "Claude says hi."]
        assert items[1].has_class("replaced") and not items[2].has_class("replaced")
        assert app.session.meter.totals().spent > 0  # both answers were priced
