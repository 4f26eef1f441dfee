"""[agent] commit = "turn" in the chat screen: the agent's finished turn is committed
(only the file it changed) with the message a cheap rung wrote, and the chat says so.

Real parts: the app driven by Pilot, a real git repository in a tmp dir, a scripted
OpenAI-compatible model server on 127.0.0.1 (the agent's steps and the message)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from rung.engine.build_tiers import RungOverrides
from rung.engine.config import load_config
from rung.tui.app import RungApp
from tests.agent.helpers import git_project
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.conftest import wait_for
from tests.fakes import openai_stream

FIX = {"path": "src/calc.py", "old_string": "a - b", "new_string": "a + b"}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                          timeout=30, check=True).stdout  # fmt: skip


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    root = git_project(tmp_path)
    git(root, "config", "user.name", "Ada")
    git(root, "config", "user.email", "ada@example.com")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "start")
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-agent-commit")
    return root


async def test_the_chat_commits_a_finished_turn_and_says_so(servers, project: Path) -> None:
    agent = ScriptedModel([Turn(calls=[("edit", FIX)]), Turn(text="Fixed.", expect=("a + b",))])

    def model(request):  # type: ignore[no-untyped-def]
        return agent(request) if request.json().get("tools") else openai_stream(["Fix add"])

    server = servers(model)
    config = load_config()
    config.set("agent", "in_chat", "on")
    config.set("agent", "commit", "turn")
    config.set("permissions", "mode", "accept-edits")
    app = RungApp(config, RungOverrides(tier="openai", base_url=server.url + "/v1"))
    notes: list[str] = []
    original = app.notify

    def notify(message, *args, **kwargs):  # type: ignore[no-untyped-def]
        notes.append(str(message))
        return original(message, *args, **kwargs)

    app.notify = notify  # type: ignore[method-assign]
    start = git(project, "rev-parse", "HEAD").strip()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"fix add", "enter")
        await wait_for(lambda: any(n.startswith("Committed") for n in notes), timeout=30)
        await wait_for(lambda: not app.chat.busy)
    assert git(project, "rev-parse", "HEAD~1").strip() == start
    assert git(project, "log", "-1", "--format=%s").strip() == "Fix add"
    assert git(project, "show", "--stat", "--format=", "HEAD").split("|")[0].strip() == (
        "src/calc.py"
    )
    assert agent.problems == []
