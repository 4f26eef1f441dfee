"""UX27 #8, #9, #11: --max-cost's messages read right and an overshoot is said; a turn
the budget stopped before any step leaves no question behind to be doubled; an
interrupted step is priced with what the provider counted before and the cache held.
Real `rung` processes and the real loop against a scripted local server, a real history."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_ask_agent import agent, project
from tests.agent.test_loop_cancel import make, until
from tests.fakes import openai_stream, openai_tool_stream

USAGE = {"prompt_tokens": 1200, "completion_tokens": 50, "total_tokens": 1250}


def listing(i: int) -> Turn:
    return Turn(calls=[("list", {"pattern": f"*{i}*"})])


def test_the_stop_message_shows_amounts_that_differ_and_one_tilde(tmp_path: Path, servers) -> None:
    root = project(tmp_path)
    config = tmp_path / "config" / "rung" / "config.toml"
    config.write_text('[prices."m"]\ninput = "0.10"\noutput = "0.20"\n')  # $ per M tokens
    model = ScriptedModel([listing(i) for i in range(6)], USAGE)  # $0.00013 a step
    done = agent(tmp_path, servers(model).url, "--max-cost", "0.0005", "--json", "look",
                 cwd=root)  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    data = json.loads(done.stdout)
    assert data["stop_reason"] == "budget" and data["total_cost_usd"] == "0.00039"
    message = data["error"]
    # Not "this run cost $0.0004 and the next step ~~$0.0001, over $0.0005" (rounded to
    # where $0.0004 + $0.0001 is not over $0.0005, and a tilde twice).
    assert re.fullmatch(
        r"stopped before step 4: this run cost \$0\.00039 and the next step ~\$0\.0001\d, "
        r"over \$0\.0005",
        message,
    ), message
    assert message in done.stderr
    assert data["over_max_cost"] is False and data["max_cost_note"] is None


def test_a_step_that_costs_more_than_its_forecast_past_max_cost_is_said(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    big = {"prompt_tokens": 3000, "completion_tokens": 50, "total_tokens": 3050}  # $0.0031
    model = ScriptedModel([listing(0), Turn(raw=openai_stream(["All done."], usage=big))])
    done = agent(tmp_path, servers(model).url, "--max-cost", "0.003", "--json", "look",
                 cwd=root)  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    # The forecast for step 2 was ~$0.0011 (step 1 counted 1,000 tokens): it went out,
    # and cost $0.0031. The run is past the cap, and says so.
    assert data["stop_reason"] == "answered" and data["total_cost_usd"] == "0.0042"
    assert data["over_max_cost"] is True
    note = data["max_cost_note"]
    assert note.startswith("this run cost $0.0042, past --max-cost $0.003: step 2 (act) cost")
    assert "more than its estimate ~$0.00" in note
    assert f"rung: {note}" in done.stderr


def test_a_continue_stopped_before_any_step_does_not_double_the_question(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    model = ScriptedModel([Turn(text="A calculator."), Turn(text="Still a calculator.")])
    url = servers(model).url
    question = "What does this project do?"
    first = agent(tmp_path, url, question, cwd=root)
    assert first.returncode == 0, first.stderr
    stopped = agent(tmp_path, url, "--continue", "--max-cost", "0.0001", question, cwd=root)
    assert stopped.returncode == 1 and "stopped before step 1" in stopped.stderr
    assert len(model.bodies) == 1  # nothing was sent
    again = agent(tmp_path, url, "--continue", question, cwd=root)
    assert again.returncode == 0, again.stderr
    users = [m["content"] for m in model.bodies[1]["messages"] if m["role"] == "user"]
    assert users == [question, question]  # the first turn's, and this one's: once each
    assert model.problems == []


async def test_an_interrupted_step_is_priced_with_the_last_count_and_its_warm_cache(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    counted = {"prompt_tokens": 3000, "completion_tokens": 50, "total_tokens": 3050,
               "prompt_tokens_details": {"cached_tokens": 2048}}  # fmt: skip
    first = openai_tool_stream([("c1", "list", '{"pattern": "*"}')], usage=counted)
    stalled = openai_stream(["Let me think", " about this"], stall_after=1, stall=10)
    model = ScriptedModel([Turn(raw=first), Turn(raw=stalled)])
    agent_, _ = make(root, servers(model).url)
    task = asyncio.create_task(agent_.run("look"))
    await until(lambda: len(model.bodies) == 2)
    await asyncio.sleep(0.3)
    agent_.cancel()
    result = await asyncio.wait_for(task, 5)
    await agent_.ladder.aclose()
    agent_.session.close()
    assert result.reason == "cancelled" and len(result.steps) == 2
    cut = result.steps[1]
    assert cut.finish_reason == "interrupted" and cut.estimated
    # At least what step 1's request was counted at (3,000), not the chars/4 ~1,100;
    # and read from the cache as step 1's prompt is held there, not cold.
    assert cut.usage.input_tokens >= 3000, cut.usage
    assert cut.usage.cached_input_tokens == 3000, cut.usage
