"""Issue 27's tester, in the chat screen (tui-A): a compaction mid-run leaves its own
line and the step before keeps its header; /compact in an agent chat leaves a line; a
budget stop names the budget, sits below the step's tool lines, and the next message
is refused before it is sent, the prompt keeping it; a call waiting for approval reads
as it will once done; a resumed session's steps keep their number and kind; the status
line names the rung of the step in flight; a step's header keeps the router's reason
whole and does not call a step that called tools an answer.

Real parts: the real app driven by Pilot, scripted model servers on 127.0.0.1 speaking
streamed tool calls, a real git project, a real SQLite history."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from rung.engine.agent.events import StepPriced
from rung.engine.config import load_config
from rung.engine.trusted_hosts import trust_configured
from rung.tiers.base import Usage
from rung.tui.agent_view import ToolCallLine
from rung.tui.app import RungApp
from rung.tui.approval import ApprovalScreen
from rung.tui.chat_agent import step_header
from rung.tui.widgets.messages import MessageItem, MessageList
from rung.tui.widgets.prompt import PromptInput
from tests.agent.helpers import git_project
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_compaction import WithDigest
from tests.conftest import wait_for
from tests.test_agent_tui_steps import three_rung_app


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:  # type: ignore[no-untyped-def]
    root = git_project(tmp_path)
    monkeypatch.chdir(root)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-agent-ux27-tui")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deepseek-test-1234567890")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-1234567890")
    return root


def openai_app(tmp_path: Path, url: str, extra: str = "", resume: int | None = None) -> RungApp:
    """The chat app on a one-rung ladder (openai, gpt-5-nano: no local rung), agent on."""
    config_file = tmp_path / "config" / "rung" / "config.toml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(
        '[ladder]\nrungs = ["openai"]\n'
        f'[providers.openai]\nbase_url = "{url}/v1"\nmodel = "gpt-5-nano"\n'
        '[agent]\nin_chat = "on"\n' + extra
    )
    config = load_config()
    trust_configured(config, "openai")
    return RungApp(config, resume=resume)


def notices(app: RungApp) -> list[MessageItem]:
    return [m for m in app.chat.query(MessageItem) if m.role == "notice"]


def shown(item: MessageItem) -> str:
    return item.text or item.meta_text


async def test_a_compaction_mid_run_keeps_the_step_before_and_leaves_its_own_line(
    tmp_path: Path, servers, project: Path
) -> None:
    for i in range(1, 9):  # ~1,500 tokens each: the 7,000-token window fills
        (project / f"f{i}.txt").write_text(f"MARKER-{i}\n" + "lorem ipsum dolor sit amet\n" * 220)
    script = [Turn(calls=[("read", {"path": f"f{i}.txt"})]) for i in range(1, 9)]
    script.append(Turn(text="All eight files start with a marker line."))
    model = WithDigest(script)
    app = openai_app(tmp_path, servers(model).url, "context_window = 7000\nkeep_last = 2\n")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"Read every file f1..f8", "enter")
        await wait_for(lambda: not app.chat.busy and app.chat.agent_running is False, timeout=90)
        await wait_for(lambda: len(model.bodies) >= 9, timeout=90)
        await pilot.pause()
        steps = app.chat.query_one(MessageList).assistant_items()
        assert model.digests and model.problems == []
        headers = [s.meta_text for s in steps]
        # Every step keeps its own header: its tokens, its kind; no header turned digest.
        assert all(" in / " in h and "digest" not in h for h in headers), headers
        numbers = [int(re.search(r"agent step (\d+)", h).group(1)) for h in headers]  # type: ignore[union-attr]
        assert numbers == list(range(1, len(steps) + 1)), numbers  # none numbered twice
        # The digest has a line of its own, with what it condensed and what it cost.
        lines = [shown(n) for n in notices(app)]
        compacted = [t for t in lines if t.startswith("Compacted before step")]
        assert len(compacted) == len(model.digests), lines
        assert all("→" in t and "summary by openai" in t and " in / " in t and "$" in t
                   for t in compacted), compacted  # fmt: skip
        # /compact in the agent chat leaves a line too (not only a passing toast).
        before = len(notices(app))
        await pilot.press(*"/compact", "enter")
        await wait_for(lambda: len(notices(app)) > before, timeout=60)
        said = shown(notices(app)[-1])
        assert said.startswith(("Compacted (/compact)", "/compact: nothing to condense")), said


async def test_a_budget_stop_names_the_budget_below_the_calls_and_refuses_the_next_message(
    tmp_path: Path, servers, project: Path
) -> None:
    model = ScriptedModel([
        Turn(calls=[("search", {"pattern": "def add"})]),
        Turn(text="never asked: the budget stops the run first"),
    ], usage={"prompt_tokens": 200_000, "completion_tokens": 50})  # ~$0.01  # fmt: skip
    app = openai_app(tmp_path, servers(model).url, '[budget]\nsession_usd = "0.005"\n')
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"where is add?", "enter")
        await wait_for(lambda: len(model.bodies) == 1, timeout=60)
        await wait_for(lambda: not app.chat.agent_running, timeout=60)
        await wait_for(lambda: bool(notices(app)), timeout=30)
        messages = app.chat.query_one(MessageList)
        order = [w for w in messages.children if isinstance(w, MessageItem | ToolCallLine)]
        stop = notices(app)[-1]
        # Below the step's tool line, not between the step and its calls.
        assert isinstance(order[-2], ToolCallLine) and order[-1] is stop, order
        text = shown(stop)
        assert "Stopped: the session budget of $" in text and "spent" in text, text
        assert "Settings (F6)" in text and "local rung" not in text, text  # no local rung here
        # The next message is refused before it is sent: it stays in the prompt.
        users = len([m for m in app.chat.query(MessageItem) if m.role == "user"])
        await pilot.press(*"go on", "enter")
        await wait_for(lambda: any(n.title == "Budget reached" for n in app._notifications))
        await pilot.pause()
        assert app.chat.query_one(PromptInput).text == "go on"
        assert len([m for m in app.chat.query(MessageItem) if m.role == "user"]) == users
        assert len(model.bodies) == 1
        said = [n.message for n in app._notifications]
        assert not any("0 steps" in m or "local rung" in m for m in said), said


async def test_a_call_waiting_for_approval_reads_as_it_will_when_done(
    tmp_path: Path, servers, project: Path
) -> None:
    model = ScriptedModel([
        Turn(calls=[("run", {"command": "python3 -c 'print(1)'"})]),
        Turn(text="Not run."),
    ])  # fmt: skip
    app = openai_app(tmp_path, servers(model).url, 'mode = "ask"\n')
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"run it", "enter")
        await wait_for(lambda: isinstance(app.screen, ApprovalScreen), timeout=60)
        await pilot.pause()
        line = app.chat.query_one(ToolCallLine)
        assert line.summary.startswith("run python3 -c"), line.summary
        assert "{" not in line.summary and '"command"' not in line.summary
        await pilot.press("n")
        await wait_for(lambda: not app.chat.agent_running, timeout=60)


async def test_a_resumed_agent_session_keeps_each_steps_number_and_kind(
    tmp_path: Path, servers, project: Path
) -> None:
    model = ScriptedModel([
        Turn(calls=[("read", {"path": "src/calc.py"})]),
        Turn(text="add subtracts.", expect=("return a - b",)),
    ])  # fmt: skip
    url = servers(model).url
    first = openai_app(tmp_path, url)
    async with first.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"what is wrong with add?", "enter")
        items = first.chat.query_one(MessageList).assistant_items
        await wait_for(lambda: len(items()) == 2 and items()[1].status == "done", timeout=60)
        headers = [s.meta_text for s in items()]
        live = [re.search(r"agent step \d+ · \w+", h).group(0) for h in headers]  # type: ignore[union-attr]
        session_id = first.session.session_id
    again = openai_app(tmp_path, url, resume=session_id)
    async with again.run_test(size=(120, 40)) as pilot:
        messages = again.chat.query_one(MessageList)
        await wait_for(lambda: len(messages.assistant_items()) == 2, timeout=30)
        await pilot.pause()
        resumed = [s.meta_text for s in messages.assistant_items()]
    assert live[0] == "agent step 1 · plan", live
    assert all(k in r for k, r in zip(live, resumed, strict=True)), (live, resumed)
    assert resumed == headers  # word for word as they were live


async def test_the_status_line_names_the_rung_of_the_step_in_flight(
    tmp_path: Path, servers, project: Path
) -> None:
    premium = ScriptedModel([Turn(calls=[("read", {"path": "src/calc.py"})])],
                            dialect="anthropic")  # fmt: skip
    cheap = ScriptedModel([Turn(text="It subtracts.")])
    app = three_rung_app(tmp_path, servers, premium, cheap)
    seen: list[tuple[str, str]] = []
    show_status = app.show_status

    def recorded(state: str | None = None, **changes: object) -> None:
        show_status(state, **changes)
        seen.append((app.status.state, app.status.tier))

    app.show_status = recorded  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press(*"What does add do?", "enter")
        await wait_for(lambda: bool(cheap.bodies), timeout=60)
        await wait_for(lambda: not app.chat.agent_running, timeout=60)
    during = {state.split(" · ")[0]: tier for state, tier in seen if state.startswith(
        ("agent step", "running"))}  # fmt: skip
    assert during.get("agent step 1") == "anthropic", seen
    assert during.get("running read") == "anthropic", seen
    assert during.get("agent step 2") == "deepseek", seen


def test_a_steps_header_keeps_the_whole_reason_and_says_when_an_answer_called_tools() -> None:
    reason = ("follows the plan: the cheapest that clears the 94% bar (openai gets design "
              "questions right 71% of the time, deepseek 95%, so deepseek takes it)")  # fmt: skip
    priced = StepPriced(14, "deepseek", "deepseek-chat", Decimal("0.0004"), Usage(1200, 40),
                        False, "tool_calls", "answer")  # fmt: skip
    header = step_header(priced, "1,200 in / 40 out · $0.0004", reason, called_tools=True)
    assert header.endswith(reason), header  # cut at 100 it lost "deepseek 95%…"
    assert "agent step 14 · routed as answer, called tools —" in header
    assert "· answer —" in step_header(priced, "", reason)  # an answer that answered
