"""Issue 27: a run that outgrows a small context window completes through compaction.
The real loop and tools against a scripted OpenAI-dialect server that also answers the
digest (summary) requests; plus the condensing rules on their own."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rung.engine.agent.compaction import MARK, compact, cut_point
from rung.engine.agent.events import Compacted, StepStarted
from rung.engine.agent.loop import Agent
from rung.engine.agent.setup import agent_session
from rung.engine.build_tiers import RungOverrides
from rung.engine.config import data_dir, load_config
from rung.engine.ladder import Ladder
from rung.engine.session import Session
from rung.engine.store import open_store
from rung.tiers.base import ChatRequest, Message, ToolCall
from tests.agent.scripted_model import ToolsOrPlain, Turn

SUMMARY = "Read f1 to f3; each holds one marker line. Nothing changed yet."


def call(n: int, path: str) -> ToolCall:
    return ToolCall(f"c{n}", "read", json.dumps({"path": path}), "openai")


def steps(n: int) -> list[Message]:
    out = [Message("user", "Look at every file.")]
    for i in range(1, n + 1):
        out.append(Message("assistant", f"step {i}", (call(i, f"f{i}.txt"),)))
        out.append(Message("tool", f"contents {i}", tool_call_id=f"c{i}", name="read"))
    return out


async def test_compaction_keeps_the_task_the_files_and_the_last_steps_whole() -> None:
    transcript = steps(6)
    asked: list[ChatRequest] = []

    async def summarise(request: ChatRequest) -> str:
        asked.append(request)
        return SUMMARY

    done = await compact(transcript, summarise, keep_last=2)
    assert done is not None and not done.mechanical
    head, *kept = done.messages
    assert head.role == "user" and MARK in head.content and SUMMARY in head.content
    assert "Look at every file." in head.content  # the task, verbatim
    assert "f1.txt" in head.content and "f4.txt" in head.content  # files touched
    assert kept == transcript[-4:]  # the last two steps, each call with its result
    # The summariser saw the old steps (as data, no tools), not the kept ones.
    text = asked[0].messages[0].content
    assert "contents 1" in text and "contents 6" not in text and not asked[0].tools


async def test_a_failed_summary_falls_back_to_the_calls_and_the_run_goes_on() -> None:
    async def broken(request: ChatRequest) -> str:
        raise RuntimeError("the rung went away")

    done = await compact(steps(5), broken, keep_last=2)
    assert done is not None and done.mechanical
    assert "read" in done.messages[0].content and "f2.txt" in done.messages[0].content


@pytest.mark.parametrize("summary", [SUMMARY, None], ids=["summarised", "mechanical"])
async def test_compaction_keeps_the_plan_verbatim(summary: str | None) -> None:
    plan = "Plan: read f1..f6, compare their first lines, then report the odd one out."
    transcript = steps(6)
    transcript[1] = Message("assistant", plan, transcript[1].tool_calls)

    async def summarise(request: ChatRequest) -> str | None:
        return summary  # a summary that does not repeat the plan, or none at all

    done = await compact(transcript, summarise, keep_last=2)
    assert done is not None and done.mechanical is (summary is None)
    assert f"The plan, as the agent wrote it:\n{plan}" in done.messages[0].content
    # Words that come only in a kept step stay there, whole, and are not repeated.
    quiet = [m if m.role != "assistant" else Message("assistant", "", m.tool_calls)
             for m in steps(4)]  # fmt: skip
    quiet[-2] = Message("assistant", plan, quiet[-2].tool_calls)
    later = await compact(quiet, summarise, keep_last=2)
    assert later is not None and "The plan" not in later.messages[0].content
    assert plan in [m.content for m in later.messages[1:]]


def test_nothing_to_condense_in_a_young_turn() -> None:
    assert cut_point(steps(2), keep_last=4) is None
    assert cut_point([Message("user", "hi")], keep_last=1) is None


class WithDigest(ToolsOrPlain):
    """The script for tool steps; SUMMARY for every request without tools (``digests``)."""

    def __init__(self, script: list[Turn], usage: dict[str, int] | None = None) -> None:
        super().__init__(script, usage, answer=lambda n: SUMMARY)
        self.digests = self.plain


async def test_a_run_that_outgrows_a_small_window_completes_through_compaction(
    tmp_path: Path, servers, monkeypatch
) -> None:
    root = tmp_path / "project"
    root.mkdir()
    for i in range(1, 9):  # ~1,500 tokens each
        (root / f"f{i}.txt").write_text(f"MARKER-{i}\n" + "lorem ipsum dolor sit amet\n" * 220)
    config_file = tmp_path / "config" / "rung" / "config.toml"
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(
        '[prices."m"]\ninput = "1.00"\noutput = "2.00"\n'
        "[agent]\ncontext_window = 7000\nkeep_last = 2\n"
    )
    script = [Turn(calls=[("read", {"path": f"f{i}.txt"})]) for i in range(1, 9)]
    script.append(Turn(text="All eight files start with a marker line."))
    model = WithDigest(script)
    url = servers(model).url
    config = load_config()
    ladder = Ladder(config, RungOverrides("custom", "m", url + "/v1"), only_override=True)
    tools = agent_session(config, root, None, mode="accept-edits")
    events: list[Any] = []
    agent = Agent(ladder, Session(config, "agent", history=True), tools, [events.append])
    try:
        result = await agent.run("Read every file f1..f8 and tell me how each starts.")
    finally:
        await ladder.aclose()
        agent.session.close()
    assert result.reason == "answered", result.message
    assert model.problems == []
    compactions = [e for e in events if isinstance(e, Compacted)]
    assert compactions and model.digests
    assert all(c.after_tokens < c.before_tokens and c.rung == "custom" for c in compactions)
    # Every request stayed within the window the agent keeps to.
    sizes = [e.context_tokens for e in events if isinstance(e, StepStarted)]
    assert max(sizes) <= 7000, sizes
    # After the first compaction, the model sees the summary and not the oldest output.
    after = next(b for b in model.bodies if MARK in json.dumps(b["messages"][1]["content"]))
    first = json.dumps(after["messages"])
    assert SUMMARY in first and "MARKER-1" not in first  # f1's output was condensed away
    assert "Read every file f1..f8" in first  # the task, verbatim
    # The digests are paid for: priced steps of kind "digest", counted in the run's cost
    # and in the history (apart from the conversation read back).
    digest_steps = [s for s in result.steps if s.kind == "digest"]
    assert len(digest_steps) == len(model.digests)
    assert result.cost == sum(s.cost for s in result.steps)  # type: ignore[misc]
    store = open_store(data_dir())
    try:
        rows = store.replies_since()
        assert sorted(r.step_kind for r in rows if r.superseded) == ["digest"] * len(model.digests)
        assert sum(r.cost_usd for r in rows) == result.cost  # type: ignore[misc]
    finally:
        store.close()
