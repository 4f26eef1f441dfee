"""What a new user hit in the first hour (issue 12), each as a regression test: the chat
screen driven by Pilot with scripted tiers or real local servers, and real `rung`
processes."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from rung.engine.config import load_config
from rung.engine.store import open_store
from rung.tiers.meter import Totals
from rung.tui.app import RungApp
from rung.tui.help import HelpScreen
from rung.tui.widgets.messages import MessageList
from rung.tui.widgets.meter import CostBar, cost_parts, fit_line
from rung.tui.widgets.status import StatusBar, StatusView
from tests.competence_helpers import trust_local_model
from tests.conftest import confirm_hosts, wait_for
from tests.fakes import anthropic_stream, gemini_stream, json_reply, openai_stream
from tests.scripted import Script, anthropic, local
from tests.test_cli import rung


def app_with(*tiers, mode: str = "auto", keymap: dict[str, str] | None = None) -> RungApp:  # type: ignore[no-untyped-def]
    config = load_config()
    config.set("ladder", "rungs", [t.name for t in tiers])
    config.set("ladder", "mode", mode)
    config.keymap.update(keymap or {})
    return RungApp(config, tiers={t.name: t for t in tiers})


def recorded_notes(app: RungApp) -> list[str]:
    shown: list[str] = []
    notify = app.notify

    def record(message: str, **kwargs: object) -> None:
        shown.append(message)
        notify(message, **kwargs)  # type: ignore[arg-type]

    app.notify = record  # type: ignore[method-assign]
    return shown


async def ask(app: RungApp, pilot, text: str, replies: int) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*text, "enter")
    await wait_for(lambda: len(app.chat.replies) >= replies and not app.chat.busy)


# -- 2. Ctrl+N starts a new conversation -------------------------------------------------
async def test_ctrl_n_is_a_new_conversation_everywhere(tmp_path: Path) -> None:
    app = app_with(local(Script(pieces=["First answer."])), anthropic())
    shown = recorded_notes(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await ask(app, pilot, "first question", 1)
        first_id = app.session.session_id
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert not app.chat.query_one(MessageList).query("MessageItem")
        await pilot.press("f9")  # nothing asked in this conversation yet
        await pilot.pause()
        assert any("Nothing to escalate yet" in m for m in shown)
        app.chat.action_export()  # the new conversation has nothing to export
        await pilot.pause()
        assert any("Nothing to export yet" in m for m in shown)
        await ask(app, pilot, "second question", 1)
        second_id = app.session.session_id
    assert first_id and second_id and first_id != second_id
    store = open_store(tmp_path / "data" / "rung")
    try:
        assert [m.content for m in store.transcript(first_id) if m.role == "user"] == [
            "first question"
        ]
        assert [m.content for m in store.transcript(second_id) if m.role == "user"] == [
            "second question"
        ]
    finally:
        store.close()


# -- 3. a rung dearer than the reference is not a saving ---------------------------------
async def test_a_rung_costing_more_than_the_reference_says_so(servers, monkeypatch) -> None:
    usage = {"prompt_tokens": 10, "completion_tokens": 2}
    api = servers(lambda r: openai_stream(["ok"], model="qwen", usage=usage))
    config = load_config()
    config.set("ladder", "rungs", ["selfhosted"])
    config.set("selfhosted", "base_url", api.url + "/v1")
    config.set("selfhosted", "model", "qwen")
    config.set("selfhosted", "gpu_usd_per_hour", "36000")  # $10 a second of GPU
    app = RungApp(config)
    async with app.run_test(size=(160, 30)) as pilot:
        await ask(app, pilot, "hi", 1)
        await pilot.pause()
        line = str(app.chat.query_one(CostBar).render())
        assert "more than claude-opus-4-7" in line and "saved" not in line


# -- 4. what the user typed is shown as typed ---------------------------------------------
async def test_multi_line_messages_keep_their_lines() -> None:
    app = app_with(local(Script(pieces=["ok"])))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"line one", "ctrl+j", *"line two", "ctrl+j", *"  *not* # a heading")
        await pilot.press("enter")
        await wait_for(lambda: len(app.chat.replies) == 1)
        user = app.chat.query_one(MessageList).query("MessageItem").first()
        shown = str(user.query_one(".body").render())
        assert shown.splitlines() == ["line one", "line two", "  *not* # a heading"]


# -- 5. Anthropic's and Gemini's base URLs, both spellings --------------------------------
@pytest.mark.parametrize("suffix", ["", "/v1", "/v1/"])
def test_anthropic_base_url_with_or_without_v1(tmp_path: Path, servers, suffix: str) -> None:
    api = servers(lambda r: anthropic_stream(["ok"]))
    result = rung(tmp_path, "ask", "--tier", "anthropic", "--base-url", api.url + suffix, "hi",
                  ANTHROPIC_API_KEY="sk-ant-test-1234567")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert api.requests[0].path == "/v1/messages"


@pytest.mark.parametrize("suffix", ["", "/v1beta", "/v1"])
def test_gemini_base_url_with_or_without_version(tmp_path: Path, servers, suffix: str) -> None:
    api = servers(lambda r: gemini_stream(["ok"]))
    result = rung(tmp_path, "ask", "--tier", "gemini", "--base-url", api.url + suffix, "hi",
                  GEMINI_API_KEY="g-test-1234567")  # fmt: skip
    assert result.returncode == 0, result.stderr
    expected = suffix or "/v1beta"
    assert api.requests[0].path.startswith(f"{expected}/models/")


# -- 6. the status and cost lines are there from the start --------------------------------
async def test_status_and_cost_lines_show_at_start_when_pinned_remote(servers) -> None:
    api = servers(lambda r: json_reply(200, {"data": [{"id": "m"}]}))
    config = load_config()
    from rung.engine.build_tiers import RungOverrides

    app = RungApp(config, RungOverrides("selfhosted", "m", api.url + "/v1"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        status = str(app.chat.query_one(StatusBar).render())
        assert status.startswith("Pinned · selfhosted · m")
        await wait_for(lambda: "healthy" in str(app.chat.query_one(StatusBar).render()))
        assert str(app.chat.query_one(CostBar).render()).startswith("spent $0")


# -- 7. a typo in the ladder is reported like any config error -------------------------
async def test_a_ladder_typo_is_reported_with_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "config" / "rung" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text('[ui]\ntheme = "rung-dark"\n\n[ladder]\nrungs = ["local", "nosuch"]\n')
    config = load_config()
    assert config.get("ladder", "rungs") == ["local"]
    assert any(f"{path}, line 5: [ladder] rungs" in p and "'nosuch'" in p for p in config.problems)
    app = RungApp(config)
    shown = recorded_notes(app)
    async with app.run_test() as pilot:
        await pilot.pause()
    assert any("nosuch" in m for m in shown)
    for command in (["route", "hi"], ["ask", "--max-tokens", "2", "hi"]):
        result = rung(tmp_path, *command)
        assert result.returncode == 0 and "line 5: [ladder] rungs" in result.stderr


# -- 8. lines that fit -------------------------------------------------------------------
def test_the_cost_line_drops_whole_items_to_fit() -> None:
    totals = Totals(Decimal("0.0195"), Decimal("0.013"), 0, False, 8000, 500, 5000,
                    {"anthropic": Decimal("0.0195"), "local": Decimal(0),
                     "selfhosted": Decimal("0.004")})  # fmt: skip
    parts = cost_parts(totals, "claude-opus-4-7", None)
    full = fit_line(parts, 300)
    assert full.endswith("selfhosted $0.004")
    for width in (120, 100, 80, 60, 40):
        line = fit_line(parts, width)
        assert len(line) <= width, (width, line)
        items = line.split("  │  ")
        assert items[0].startswith("spent $0.0195")  # the most important stays whole
        for item in items:  # every item shown whole, as in the full line or shortened
            assert any(item in (p[1], p[2]) for p in parts), item


async def test_a_long_model_path_leaves_room_for_the_state() -> None:
    app = app_with(local())
    async with app.run_test(size=(80, 24)) as pilot:
        model = "/home/me/.cache/huggingface/hub/models--x/snapshots/abc/qwen2.5-coder-7b-q4.gguf"
        app.status = StatusView("Pinned", "selfhosted", model, "● healthy: 42 ms", 31.5, 0.2)
        await pilot.pause()
        line = str(app.chat.query_one(StatusBar).render())
        assert len(line) <= 78
        assert "● healthy: 42 ms" in line and "qwen2.5" in line and "/home" not in line


# -- 9. unknown prices are unknown, not $0 -------------------------------------------------
def test_unknown_prices_are_said_in_sessions_and_cost(tmp_path: Path, servers) -> None:
    api = servers(
        lambda r: openai_stream(["ok"], usage={"prompt_tokens": 5, "completion_tokens": 1})
    )
    assert rung(tmp_path, "ask", "--tier", "custom", "--base-url", api.url + "/v1",
                "--model", "team-finetune", "hi").returncode == 0  # fmt: skip
    sessions = rung(tmp_path, "sessions").stdout
    assert "price unknown" in sessions.splitlines()[0] and "$0 " not in sessions
    cost = rung(tmp_path, "cost").stdout
    row = next(line for line in cost.splitlines() if "team-finetune" in line)
    assert "price unknown" in row


# -- 10. text with brackets is not eaten as markup ------------------------------------------
async def test_brackets_in_messages_are_shown() -> None:
    app = app_with(local(), anthropic())
    shown = recorded_notes(app)
    async with app.run_test() as pilot:
        await pilot.press("f5")  # a two-rung ladder has no fourth rung
        await pilot.pause()
    assert any("[ladder] rungs" in m for m in shown)


# -- 11. resume brings back costs, token counts and reasons ------------------------------
async def test_resume_restores_costs_tokens_and_reasons(tmp_path: Path) -> None:
    first = app_with(local(), anthropic(Script(pieces=["Stored answer."])), mode="anthropic")
    async with first.run_test() as pilot:
        await ask(first, pilot, "question", 1)
        spent = first.session.meter.totals().spent
        session_id = first.session.session_id
    assert spent > 0
    again = RungApp(first.config, resume=session_id,
                    tiers={"local": local(), "anthropic": anthropic()})  # fmt: skip
    async with again.run_test(size=(120, 30)) as pilot:
        items = again.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: len(items()) == 1)
        await pilot.pause()
        meta = str(items()[0].query_one(".meta").render())
        assert "20 in / 3 out" in meta and "pinned: anthropic" in meta
        assert again.session.meter.totals().spent == spent
        assert f"spent {_usd(spent)}" in str(again.chat.query_one(CostBar).render())


def _usd(amount: Decimal) -> str:
    from rung.tiers.pricing import format_usd

    return format_usd(amount)


def test_continue_prefers_the_chat_screen_over_one_shot_asks(tmp_path: Path) -> None:
    from rung.cli.history import find_session
    from rung.engine.store import Store

    store = Store(tmp_path / "data" / "rung" / "rung.db")
    chat = store.start_session("tui")
    store.add_user_message(chat, "in the chat")
    one_shot = store.start_session("ask")
    store.add_user_message(one_shot, "a one-shot ask")
    store.close()
    assert find_session(None) == (chat, None)


# -- 13. keymap conflicts are said ----------------------------------------------------------
async def test_keymap_conflicts_and_unknown_ids_are_reported() -> None:
    app = app_with(local(), keymap={"new-chat": "ctrl+q", "no-such-action": "f12"})
    shown = recorded_notes(app)
    async with app.run_test() as pilot:
        await pilot.pause()
        assert any("ctrl+q is bound to both" in m and "new-chat" in m for m in shown)
        assert any("no-such-action: no such action" in m for m in shown)
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        problems = [str(w.render()) for w in app.screen.query(".problem")]
        assert any("ctrl+q is bound to both" in p for p in problems)


# -- 14. cancelled and failed replies are marked ------------------------------------------------
async def test_cost_detail_marks_how_each_reply_ended() -> None:
    from textual.widgets import DataTable

    app = app_with(
        local(Script(pieces=["fine"]), Script(pieces=["half"], fail="boom", usage=None)),
        mode="local",
    )
    app.conversation.options = type(app.conversation.options)(fallback=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await ask(app, pilot, "one", 1)
        await ask(app, pilot, "two", 2)
        await pilot.press("f7")
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        ended = [table.get_row_at(i)[-1] for i in range(table.row_count)]
        assert ended == ["done", "failed"]


def test_export_marks_endings_and_will_not_overwrite(tmp_path: Path, servers) -> None:
    api = servers(lambda r: json_reply(500, {"error": {"message": "down"}}))
    config = tmp_path / "config" / "rung"
    config.mkdir(parents=True)
    (config / "config.toml").write_text("[network]\nmax_retries = 0\n")
    rung(tmp_path, "ask", "--tier", "custom", "--base-url", api.url + "/v1", "--model", "m", "hi")
    out = tmp_path / "conv.md"
    out.write_text("my notes")
    refused = rung(tmp_path, "export", "-o", str(out))
    assert refused.returncode == 1 and "--force" in refused.stderr
    assert out.read_text() == "my notes"
    assert rung(tmp_path, "export", "-o", str(out), "--force").returncode == 0
    assert "*Failed:" in out.read_text() and oct(out.stat().st_mode & 0o777) == "0o600"


# -- 16. the footer names the rungs, and only the ones there are ------------------------
async def test_footer_pin_keys_name_the_rungs() -> None:
    app = app_with(local(), anthropic())
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        pins = {
            active.binding.key: active.binding.description
            for active in app.screen.active_bindings.values()
            if active.binding.action.startswith("pin(")
        }
        assert pins == {"f2": "local", "f3": "anthropic"}


async def test_pinning_a_rung_without_a_model_name_says_it_cleanly(servers) -> None:
    api = servers(lambda r: json_reply(200, {"data": []}))
    config = load_config()
    config.set("ladder", "rungs", ["local", "selfhosted"])
    config.set("selfhosted", "base_url", api.url + "/v1")
    app = RungApp(config)
    shown = recorded_notes(app)
    async with app.run_test() as pilot:
        await pilot.press("f3")
        await pilot.pause()
    assert "Pinned to selfhosted." in shown and not any("()" in m for m in shown)


def test_rung_ask_json_lists_every_attempt(tmp_path: Path, servers) -> None:
    """After a fallback: which rungs were tried, what each cost, and the total."""
    broken = servers(lambda r: json_reply(503, {"error": {"message": "overloaded"}}))
    backup = servers(
        lambda r: openai_stream(["ok"], usage={"prompt_tokens": 9, "completion_tokens": 1})
    )
    path = tmp_path / "config" / "rung" / "config.toml"
    path.parent.mkdir(parents=True)
    path.write_text(
        '[ladder]\nrungs = ["anthropic", "deepseek"]\nmode = "anthropic"\n'
        "[network]\nmax_retries = 0\n"
        f'[providers.anthropic]\nbase_url = "{broken.url}"\n'
        f'[providers.deepseek]\nbase_url = "{backup.url}/v1"\n'
    )
    result = rung(tmp_path, "ask", "--json", "hi", ANTHROPIC_API_KEY="sk-ant-x-123456",
                  DEEPSEEK_API_KEY="sk-ds-x-123456")  # fmt: skip
    data = json.loads(result.stdout)
    assert [a["tier"] for a in data["attempts"]] == ["anthropic", "deepseek"]
    assert data["route"] == "pinned: anthropic" and data["tier"] == "deepseek"
    assert Decimal(data["total_cost_usd"]) == sum(Decimal(a["cost_usd"]) for a in data["attempts"])


# -- conveniences ---------------------------------------------------------------------------
async def test_up_and_down_recall_earlier_prompts() -> None:
    from rung.tui.widgets.prompt import PromptInput

    app = app_with(local(Script(pieces=["a"]), Script(pieces=["b"])))
    async with app.run_test() as pilot:
        await ask(app, pilot, "first", 1)
        await ask(app, pilot, "second", 2)
        prompt = app.chat.query_one(PromptInput)
        await pilot.press("up")
        assert prompt.text == "second"
        await pilot.press("up")
        assert prompt.text == "first"
        await pilot.press("down")
        assert prompt.text == "second"
        await pilot.press("down")
        assert prompt.text == ""
        await pilot.press(*"typing", "up")  # with text of your own, Up moves the cursor
        assert prompt.text == "typing"


async def test_regenerate_on_the_same_rung_with_ctrl_g() -> None:
    trust_local_model()  # see tests/competence_helpers.py
    cheap = local(Script(pieces=["Meh."]), Script(pieces=["Better."]))
    app = app_with(cheap, anthropic())
    async with app.run_test() as pilot:
        await ask(app, pilot, "Name a colour.", 1)
        await pilot.press("ctrl+g")
        await wait_for(lambda: len(app.chat.replies) == 2 and not app.chat.busy)
        second = app.chat.query_one(MessageList).assistant_items()[1]
        assert second.text == "Better." and "regenerated on local" in str(
            second.query_one(".meta").render()
        )
        assert [m.content for m in app.chat.history] == ["Name a colour.", "Better."]


async def test_edit_the_last_question_and_send_it_again() -> None:
    from rung.tui.widgets.prompt import PromptInput

    cheap = local(Script(pieces=["Paris."]), Script(pieces=["Lyon."]), Script(pieces=["Rome."]))
    app = app_with(cheap)
    async with app.run_test(size=(100, 36)) as pilot:
        await ask(app, pilot, "Capital of France?", 1)
        await ask(app, pilot, "Biggest city after Paris?", 2)
        await pilot.press("ctrl+l")
        prompt = app.chat.query_one(PromptInput)
        assert prompt.text == "Biggest city after Paris?" and prompt.editing_last
        await pilot.press("ctrl+a", "ctrl+k", *"Second city of France?", "enter")
        await wait_for(lambda: len(app.chat.replies) == 3 and not app.chat.busy)
        assert [m.content for m in cheap.requests[2].messages] == [
            "Capital of France?", "Paris.", "Second city of France?",
        ]  # fmt: skip
        replaced = app.chat.query(".replaced")
        assert len(replaced) == 2  # the old question and its answer, dimmed, still there


async def test_chat_options_change_the_next_request_and_pick_a_model(servers) -> None:
    from textual.widgets import Input, Select, TextArea

    from rung.tui.chat_options import ChatOptionsScreen

    def handler(request):  # type: ignore[no-untyped-def]
        if request.path.endswith("/models"):
            return json_reply(200, {"data": [{"id": "gpt-5.4-mini"}, {"id": "gpt-5.5"}]})
        return openai_stream(["ok"])

    api = servers(handler)
    config = load_config()
    config.set("ladder", "rungs", ["openai"])
    config.providers["openai"] = {"base_url": api.url + "/v1"}
    confirm_hosts(openai=api.url)
    import os

    os.environ["OPENAI_API_KEY"] = "sk-test-options-123456"
    try:
        app = RungApp(config)
        async with app.run_test(size=(100, 36)) as pilot:
            await pilot.press("ctrl+b")
            await wait_for(lambda: isinstance(app.screen, ChatOptionsScreen))
            screen = app.screen
            picker = screen.query_one("#model", Select)
            state = screen.query_one("#models-state")
            await wait_for(lambda: "2 models listed" in str(state.render()))
            screen.query_one("#system", TextArea).load_text("Answer in French.")
            screen.query_one("#temperature", Input).value = "0.7"
            screen.query_one("#max-tokens", Input).value = "99"
            picker.value = "gpt-5.5"
            await pilot.press("ctrl+s")
            await pilot.pause()
            await ask(app, pilot, "hi", 1)
        body = api.requests[-1].json()
        assert body["model"] == "gpt-5.5"
        assert body["messages"][0] == {"role": "system", "content": "Answer in French."}
        assert body["max_completion_tokens"] == 99
        assert config.provider("openai").get("model") is None  # the config is unchanged
    finally:
        del os.environ["OPENAI_API_KEY"]
