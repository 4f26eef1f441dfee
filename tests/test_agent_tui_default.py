"""The agent is the default for remote rungs that can call tools (issue 26, item 6):
[agent] in_chat = "auto" (the default) sends a message to the agent when the rung that
will answer is remote and declares tool calling, and keeps the local model a chat; F11
toggles for the session; the status line says which. The first form of the setting
(true/false) still works.

Real parts: the chat screen driven by Pilot, a scripted OpenAI-compatible model server
on 127.0.0.1 speaking streamed tool calls, the real embedded SmolLM2 model on the local
rung, a real git project, real config files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rung.engine.config import SCHEMA, load_config
from rung.tui.app import RungApp
from rung.tui.widgets.messages import MessageList
from rung.tui.widgets.status import StatusBar
from tests.agent.helpers import git_project
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.conftest import confirm_hosts, wait_for


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-agent-default")
    return root


def ladder_app(url: str, mode: str) -> RungApp:
    """local + openai, as a user configures them; ``in_chat`` at its shipped default
    (tests/conftest.py makes the other tests' users chat-only)."""
    config = load_config()
    config.set("agent", "in_chat", "auto")
    config.set("ladder", "rungs", ["local", "openai"])
    config.set("ladder", "mode", mode)
    config.set("ui", "max_tokens", 12)
    config.set("network", "max_retries", 0)
    config.providers["openai"] = {"base_url": url}
    confirm_hosts(openai=url)
    return RungApp(config)


def status_text(app: RungApp) -> str:
    return str(app.chat.query_one(StatusBar).render())


async def test_the_agent_answers_by_default_on_a_remote_tool_rung_and_local_stays_a_chat(
    servers, project: Path
) -> None:
    model = ScriptedModel([
        Turn(calls=[("read", {"path": "src/calc.py"})]),
        Turn(text="add subtracts; it should add.", expect=("return a - b",)),
    ])  # fmt: skip
    server = servers(model)
    app = ladder_app(server.url + "/v1", "openai")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(lambda: "agent ask" in status_text(app))
        await pilot.press(*"what is wrong with add?", "enter")
        items = app.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: len(items()) == 2 and items()[1].status == "done", timeout=30)
        # No key pressed: the question went to the agent, which read the file.
        assert "agent step 1" in items()[0].meta_text
        assert items()[1].text == "add subtracts; it should add."
        assert all(body.get("tools") for body in model.bodies)
        assert model.problems == []
        # Pin the local rung (F2): the 135M model stays a chat, and the line says so.
        await pilot.press("f2")
        await wait_for(lambda: "chat only" in status_text(app))
        assert "agent ask" not in status_text(app)
        await wait_for(lambda: app.ladder.tier("local").ready, 120)
        await pilot.press(*"hello", "enter")
        await wait_for(lambda: len(items()) == 3 and items()[2].status == "done", timeout=60)
        assert items()[2].meta_text.startswith("local")
        assert "agent step" not in items()[2].meta_text
        assert len(server.requests) == 2  # type: ignore[attr-defined]


async def test_f11_turns_the_default_agent_off_for_the_session(servers, project: Path) -> None:
    def plain(request):  # type: ignore[no-untyped-def]
        from tests.fakes import openai_stream

        return openai_stream(["Just ", "chat."])

    server = servers(plain)
    app = ladder_app(server.url + "/v1", "openai")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(lambda: "agent ask" in status_text(app))
        await pilot.press("f11")
        await wait_for(lambda: "chat only" in status_text(app))
        await pilot.press(*"hello", "enter")
        items = app.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: bool(items()) and items()[0].status == "done", timeout=30)
        assert "tools" not in json.loads(server.requests[0].body)  # type: ignore[attr-defined]
        assert "agent step" not in items()[0].meta_text
        await pilot.press("f11")  # and back on
        await wait_for(lambda: "agent ask" in status_text(app))


@pytest.mark.parametrize(
    ("written", "read", "problem"),
    [
        ('"auto"', "auto", False),
        ('"on"', "on", False),
        ('"off"', "off", False),
        ("true", "on", False),  # the first form of the setting keeps working
        ("false", "off", False),
        ('"sometimes"', None, True),  # said, and the default applies
    ],
)
def test_in_chat_reads_auto_on_off_and_the_old_true_false(
    tmp_path: Path, written: str, read: str | None, problem: bool
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f"[agent]\nin_chat = {written}\n")
    config = load_config(path)
    default = SCHEMA["agent"]["in_chat"][1]
    assert config.get("agent", "in_chat") == (read or default)
    assert bool([p for p in config.problems if "in_chat" in p]) == problem


def test_the_shipped_default_is_auto(tmp_path: Path) -> None:
    """Read in a fresh process: tests/conftest.py sets the tests' own default."""
    import subprocess
    import sys

    (tmp_path / "empty.toml").write_text("")
    code = (
        "import sys; from rung.engine.config import load_config;"
        "print(load_config(__import__('pathlib').Path(sys.argv[1])).get('agent', 'in_chat'))"
    )
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "empty.toml")],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.stdout.strip() == "auto", result.stderr


async def test_the_sandbox_probe_does_not_hold_the_first_keys(
    servers, project: Path, monkeypatch
) -> None:
    """With the agent on by default, the status line's "commands not sandboxed" needs
    the sandbox probe (the agent's modules, a bwrap run): it runs on a thread, and what
    is typed meanwhile shows at once."""
    import threading

    from rung.engine.agent import sandbox
    from rung.tui.widgets.prompt import PromptInput

    release = threading.Event()
    real = sandbox.probe

    def slow_probe():  # type: ignore[no-untyped-def]
        release.wait(10)
        return real()

    monkeypatch.setattr(sandbox, "probe", slow_probe)
    server = servers(ScriptedModel([]))
    app = ladder_app(server.url + "/v1", "openai")
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(lambda: "agent ask" in status_text(app), timeout=5)
        await pilot.press(*"hello")
        await wait_for(lambda: app.chat.query_one(PromptInput).text == "hello", timeout=2)
        assert not release.is_set()
        release.set()
        await pilot.pause(0.2)


async def test_f11_twice_in_auto_brings_back_auto_not_every_rung(servers, project: Path) -> None:
    """On an Auto ladder, F11 off and on again restores "auto" (the agent on remote
    rungs, the local model a chat), not the agent on every rung."""
    server = servers(ScriptedModel([]))
    app = ladder_app(server.url + "/v1", "auto")
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(lambda: "agent ask on remote rungs" in status_text(app))
        await pilot.press("f11")
        await wait_for(lambda: "chat only" in status_text(app))
        await pilot.press("f11")
        await wait_for(lambda: "agent ask on remote rungs" in status_text(app))
        assert app.chat.agent_setting == "auto"
