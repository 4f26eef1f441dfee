"""Slash commands in the chat prompt: each one does what it says on the real app, and
nothing typed as a command ever reaches a model (the fake server sees no request)."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console
from textual.widgets import OptionList, Static

from rung.engine.build_tiers import RungOverrides
from rung.engine.config import load_config
from rung.tui import slash
from rung.tui.app import RungApp
from rung.tui.chat_summary import SUMMARY_ASK
from rung.tui.cost_screen import CostScreen
from rung.tui.help import HelpScreen
from rung.tui.widgets.messages import MessageList
from rung.tui.widgets.prompt import PromptInput
from tests.conftest import wait_for
from tests.fakes import openai_stream


@pytest.fixture
def remote(servers, monkeypatch):  # type: ignore[no-untyped-def]
    """An app whose active rung is a real (scripted) OpenAI-compatible server."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-slash")
    server = servers(lambda r: openai_stream(["An ", "answer."]))
    app = RungApp(load_config(), RungOverrides(tier="openai", base_url=server.url + "/v1"))
    notes: list[str] = []
    original = app.notify

    def notify(message: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        notes.append(str(message))
        return original(message, *args, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    return app, server, notes


def completions(app: RungApp) -> list[str]:
    options = app.chat.query_one("#completions", OptionList)
    if not options.has_class("shown"):
        return []
    return [options.get_option_at_index(i).id or "" for i in range(options.option_count)]


def test_a_line_is_read_as_a_command_text_or_an_unknown_command() -> None:
    assert slash.parse("/help") == slash.Parsed("command", name="help")
    assert slash.parse("/model  deepseek ") == slash.Parsed(
        "command", name="model", argument="deepseek"
    )
    assert slash.parse("//help me") == slash.Parsed("text", "/help me")
    assert slash.parse("/etc/hosts: what is it?").kind == "text"  # a path, not a command
    assert slash.parse("what does /help do?").kind == "text"
    assert slash.parse("/frobnicate now") == slash.Parsed(
        "unknown", name="frobnicate", argument="now"
    )


async def test_help_opens_the_keys_and_commands_and_is_never_sent(remote) -> None:
    app, server, _ = remote
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"/help", "enter")
        await wait_for(lambda: isinstance(app.screen, HelpScreen))
        console = Console(width=100, record=True, file=io.StringIO())
        console.print(app.screen.query_one("#help-commands", Static).content)
        shown = console.export_text()
        assert "/model" in shown and "/compact" in shown and "//text" in shown
        await pilot.press("escape")
        assert app.chat.query_one(PromptInput).text == ""
        assert app.chat.query_one(MessageList).assistant_items() == []
    assert server.requests == []


async def test_unknown_command_is_said_not_sent_and_the_text_kept(remote) -> None:
    app, server, notes = remote
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"/frobnicate the code", "enter")
        await wait_for(lambda: any("unknown command /frobnicate" in n for n in notes))
        assert "/help lists them" in notes[-1]
        assert app.chat.query_one(PromptInput).text == "/frobnicate the code"
        assert app.chat.history == []
    assert server.requests == []


async def test_a_double_slash_sends_a_literal_slash(remote) -> None:
    app, server, _ = remote
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"//help is a command?", "enter")
        items = app.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: bool(items()) and items()[0].status == "done")
    sent = json.loads(server.requests[0].body)["messages"]
    assert sent[-1]["content"] == "/help is a command?"


async def test_tab_completes_the_command_then_the_rung_and_pins_it(remote) -> None:
    app, server, notes = remote
    async with app.run_test(size=(100, 30)) as pilot:
        names = app.names
        await pilot.press(*"/mo")
        await wait_for(lambda: completions(app) == ["/model ", "/mode "])
        await pilot.press("tab")
        prompt = app.chat.query_one(PromptInput)
        assert prompt.text == "/model "
        await wait_for(lambda: completions(app) == [f"/model {n}" for n in [*names, "auto"]])
        target = names[-1]
        for _ in names[:-1]:
            await pilot.press("down")
        await pilot.press("tab")
        assert prompt.text == f"/model {target}"
        await pilot.press("enter")
        await wait_for(lambda: any(n.startswith(f"Pinned to {target}") for n in notes))
        assert app.active_name == target and app.mode_label == "Pinned"
        await pilot.press(*"/model nosuchrung", "enter")
        await wait_for(lambda: any("No rung named 'nosuchrung'" in n for n in notes))
        await pilot.press(*"/model auto", "enter")
        await wait_for(lambda: app.mode_label == "Auto")
    assert server.requests == []


async def test_mode_cost_clear_and_undo(remote, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    app, server, notes = remote
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"/mode plan", "enter")
        await wait_for(lambda: app.chat.agent_mode == "plan")
        await pilot.press(*"/mode reckless", "enter")
        await wait_for(lambda: any("No mode 'reckless'" in n for n in notes))
        assert app.chat.agent_mode == "plan"
        await pilot.press(*"/cost", "enter")
        await wait_for(lambda: isinstance(app.screen, CostScreen))
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, CostScreen))
        await pilot.press(*"/undo", "enter")
        await wait_for(lambda: any("ndo" in n for n in notes[-1:]))  # nothing to undo: said
        await pilot.press(*"hello", "enter")
        messages = app.chat.query_one(MessageList)
        await wait_for(
            lambda: (
                bool(messages.assistant_items()) and messages.assistant_items()[0].status == "done"
            )
        )
        await pilot.press(*"/clear", "enter")
        await wait_for(lambda: app.chat.history == [] and not messages.assistant_items())
    assert len(server.requests) == 1  # only "hello" went out


async def test_compact_summarises_on_the_cheapest_rung_and_starts_from_it(
    servers, monkeypatch
) -> None:
    """The summary goes to the rung Auto picks for it (here openai: the router says the
    local model is not good enough for it); the conversation starts anew with the
    summary in its system prompt, and the next question carries it."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-compact")
    server = servers(lambda r: openai_stream(["The capital ", "is Paris."]))
    config = load_config()
    config.set("ui", "max_tokens", 24)
    app = RungApp(config, RungOverrides(tier="openai", base_url=server.url + "/v1"))
    async with app.run_test(size=(100, 30)) as pilot:
        items = app.chat.query_one(MessageList).assistant_items
        await pilot.press(*"What is the capital of France?", "enter")
        await wait_for(lambda: bool(items()) and items()[0].status == "done")
        await pilot.press(*"/compact", "enter")
        await wait_for(lambda: len(items()) == 2 and items()[1].status == "done", timeout=120)
        summary = items()[1]
        assert "/compact: summary on the cheapest rung that fits (chose" in summary.meta_text
        await wait_for(lambda: app.chat.history == [])
        system = app.chat.conversation.options.system or ""
        assert summary.text.strip() and summary.text.strip() in system
        assert "$" in summary.meta_text  # priced (and recorded in the compacted session)
        await pilot.press(*"And of Spain?", "enter")
        await wait_for(lambda: len(items()) == 3 and items()[2].status == "done")
    assert json.loads(server.requests[1].body)["messages"][-1]["content"] == SUMMARY_ASK
    sent = json.loads(server.requests[2].body)["messages"]
    assert [m["role"] for m in sent] == ["system", "user"]
    assert summary.text.strip() in sent[0]["content"]


async def test_compact_with_nothing_to_compact_sends_nothing(remote) -> None:
    app, server, notes = remote
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"/compact", "enter")
        await wait_for(lambda: any("Nothing to compact yet" in n for n in notes))
    assert server.requests == []


AGENTS_REPLY = "Here is a first one.\n\n```markdown\n# demo\n\nRun the tests with pytest.\n```\n"


async def test_init_runs_a_read_only_agent_and_reviews_before_writing(
    servers, monkeypatch, tmp_path
) -> None:
    """On a rung that can call tools, /init is an agent turn with the read-only tools:
    it reads what it needs, and its answer opens in the review screen; nothing is
    written until applied, and an existing AGENTS.md is never replaced."""
    from rung.tui.review_screen import ReviewScreen
    from tests.agent.helpers import git_project
    from tests.agent.scripted_model import ScriptedModel, Turn

    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-init")
    model = ScriptedModel([
        Turn(calls=[("read", {"path": "src/calc.py"})]),
        Turn(text=AGENTS_REPLY, expect=("def add",)),
    ])  # fmt: skip
    server = servers(model)
    app = RungApp(load_config(), RungOverrides(tier="openai", base_url=server.url + "/v1"))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"/init", "enter")
        await wait_for(lambda: isinstance(app.screen, ReviewScreen), timeout=30)
        assert not (root / "AGENTS.md").exists()  # nothing written before the review
        await pilot.press("enter")  # apply
        await wait_for(lambda: (root / "AGENTS.md").exists())
        assert (root / "AGENTS.md").read_text() == "# demo\n\nRun the tests with pytest.\n"
        await pilot.press(*"/init", "enter")  # never replaces it
        await pilot.pause()
        assert not isinstance(app.screen, ReviewScreen)
    assert model.problems == [] and len(server.requests) == 2
    first = json.loads(server.requests[0].body)
    assert "src/calc.py" in first["messages"][-1]["content"]  # the file list
    assert "# demo" in first["messages"][-1]["content"]  # and the README
    offered = {t["function"]["name"] for t in first["tools"]}
    assert offered and not offered & {"edit", "write", "run"}  # read-only


async def test_init_without_tools_is_one_request_then_the_review(
    servers, monkeypatch, tmp_path
) -> None:
    from rung.tui.review_screen import ReviewScreen
    from tests.agent.helpers import git_project

    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-init")
    server = servers(lambda r: openai_stream([AGENTS_REPLY]))
    app = RungApp(load_config(), RungOverrides(tier="openai", base_url=server.url + "/v1"))
    app.ladder.tier("openai").can_call_tools = False  # type: ignore[misc]
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press(*"/init", "enter")
        await wait_for(lambda: isinstance(app.screen, ReviewScreen), timeout=30)
        await pilot.press("escape")  # closed unapplied: nothing written
        await pilot.pause()
        assert not (root / "AGENTS.md").exists()
    body = json.loads(server.requests[0].body)
    assert "tools" not in body and "src/calc.py" in body["messages"][-1]["content"]
    assert len(server.requests) == 1
