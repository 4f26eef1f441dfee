"""A resumed agent session sends the transcript the model saw, and only that: the real
loop, history and OpenAI dialect on a scripted local server."""

from __future__ import annotations

from pathlib import Path

from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_ask_agent import project
from tests.agent.test_loop_cancel import make
from tests.fakes import openai_tool_stream


async def test_questions_around_a_failed_step_are_sent_once_each_on_every_resume(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    cut = openai_tool_stream([("c1", "read", '{"path": "calc.py"}')], cut_in_call=0)
    model = ScriptedModel([Turn(raw=cut), Turn(text="Answer two."), Turn(text="Answer three.")])
    url = servers(model).url

    async def turn(question: str, resume: bool) -> str:
        agent, _ = make(root, url)
        if resume:
            session_id = agent.session.store.sessions(limit=1, source="agent")[0].id  # type: ignore[union-attr]
            agent.resume(session_id)
        result = await agent.run(question)
        await agent.ladder.aclose()
        agent.session.close()
        return result.reason

    assert await turn("one", resume=False) == "failed"  # the stream was cut mid-call
    assert await turn("two", resume=True) == "answered"
    assert await turn("three", resume=True) == "answered"
    users = [m["content"] for m in model.bodies[2]["messages"] if m["role"] == "user"]
    assert users == ["one\n\ntwo", "three"]
    second, third = model.bodies[1]["messages"], model.bodies[2]["messages"]
    assert third[: len(second)] == second  # the resumed prefix is what was sent before
