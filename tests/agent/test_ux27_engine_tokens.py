"""UX27 #3, #4: the agent sizes its requests by the provider's reported token counts (the
context meter, the compaction trigger, each step's forecast), and a compaction that
cannot get under the mark says so once instead of paying a digest before every step.
The real loop, the real OpenAI dialect against a scripted local server, real tools."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from rung.engine.agent.events import Compacted, StepStarted
from rung.tiers.base import Notice
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_ask_agent import project
from tests.agent.test_compaction import WithDigest
from tests.agent.test_loop_cancel import make
from tests.fakes import Request, Step


def explore(n: int) -> list[Turn]:
    return [Turn(calls=[("list", {"pattern": f"*{i}*"})]) for i in range(n)]


def configure(root: Path, text: str) -> None:
    config = root.parent / "config" / "rung" / "config.toml"
    config.write_text(config.read_text() + text)


# A provider that counts 7,000 tokens in a request whose characters say ~1,000 (code and
# JSON tokenize densely): the agent must believe the provider.
REPORTED = {"prompt_tokens": 7000, "completion_tokens": 50, "total_tokens": 7050}


async def test_the_context_meter_and_compaction_use_the_reported_prompt(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    configure(root, "\n[agent]\ncontext_window = 8000\nkeep_last = 1\n")
    model = WithDigest([*explore(3), Turn(text="done")], REPORTED)
    agent, events = make(root, servers(model).url)
    result = await agent.run("look around")
    await agent.ladder.aclose()
    agent.session.close()
    assert result.reason == "answered", result.message
    started = [e for e in events if isinstance(e, StepStarted)]
    # Step 2's request holds step 1's 7,000 counted tokens and more: the meter says so.
    assert started[1].context_tokens >= 7000, [s.context_tokens for s in started]
    assert started[1].context_window == 8000
    # Over 80% of the window: older steps were condensed (before, never: the estimate
    # of ~1k tokens never neared it).
    compactions = [e for e in events if isinstance(e, Compacted)]
    assert compactions and model.digests
    assert compactions[0].before_tokens >= 7000
    # After compaction the reported count no longer applies: the estimate stands in.
    after = started[started.index(next(s for s in started if s.step > compactions[0].step)) - 1]
    assert after.context_tokens < 7000


async def test_each_steps_forecast_uses_the_reported_prompt(tmp_path: Path, servers) -> None:
    root = project(tmp_path)  # "m": $1 / $2 per million tokens
    model = ScriptedModel(explore(4), REPORTED)
    agent, _ = make(root, servers(model).url)
    agent.money.max_cost = Decimal("0.01")
    result = await agent.run("look around")
    await agent.ladder.aclose()
    agent.session.close()
    # Step 1 cost $0.0071 (7,000 in, 50 out); step 2 sends at least as much again, so it
    # would pass $0.01: the run stops before it. (With the chars/4 estimate the forecast
    # was ~$0.0007, step 2 went out and the run ended past the cap.)
    assert result.reason == "budget", result.message
    assert len(model.bodies) == 1
    assert result.cost == Decimal("0.0071")
    assert "stopped before step 2" in result.message


async def test_a_window_too_small_says_so_once_instead_of_a_digest_per_step(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    # The agent's prompt and tools alone are ~1.5k tokens: 1,000 can never be met.
    configure(root, "\n[agent]\ncontext_window = 1000\nkeep_last = 2\n")
    model = WithDigest([*explore(10), Turn(text="done")])
    agent, events = make(root, servers(model).url)
    result = await agent.run("look around")
    await agent.ladder.aclose()
    agent.session.close()
    assert result.reason == "answered", result.message
    assert len(model.bodies) == 11 and model.problems == []  # every step went out
    notices = [e.text for e in events if isinstance(e, Notice) and "too small" in e.text]
    assert len(notices) == 1, notices
    assert "context window (1,000 tokens) is too small" in notices[0]
    # A digest at most once per 4 steps (2 x keep_last), not before every step (9 before).
    assert 1 <= len(model.digests) <= 3, len(model.digests)
    digests = [s for s in result.steps if s.kind == "digest"]
    assert len(digests) == len(model.digests)
    json.dumps(notices)  # plain text


class Dense(WithDigest):
    """A provider whose tokenizer counts about twice the chars/4 estimate (dense code
    and JSON), every request measured."""

    def __call__(self, request: Request) -> list[Step]:
        prompt = len(json.dumps(request.json())) // 2
        self.usage = {"prompt_tokens": prompt, "completion_tokens": 20,
                      "total_tokens": prompt + 20}  # fmt: skip
        return super().__call__(request)


async def test_a_compaction_judged_by_the_count_not_the_estimate_does_not_loop(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    # The agent's prompt and tools are ~1.1k tokens by chars/4 and ~2.2k as this
    # provider counts: after compaction the estimate is under 80% of 3,000, the count is
    # not. Judged by the estimate, every step paid a digest and was still over.
    configure(root, "\n[agent]\ncontext_window = 3000\nkeep_last = 2\n")
    model = Dense([*explore(12), Turn(text="done")])
    agent, events = make(root, servers(model).url)
    result = await agent.run("look around")
    await agent.ladder.aclose()
    agent.session.close()
    assert result.reason == "answered", result.message
    assert len(model.bodies) == 13 and model.problems == []
    notices = [e.text for e in events if isinstance(e, Notice) and "too small" in e.text]
    assert len(notices) == 1, notices
    assert 1 <= len(model.digests) <= 3, len(model.digests)
    # The meter after a compaction is near what the provider then counts, not half of it.
    started = [e for e in events if isinstance(e, StepStarted)]
    first = next(c for c in events if isinstance(c, Compacted))
    after = next(s for s in started if s.step == first.step)
    counted = len(json.dumps(model.bodies[first.step - 1])) // 2
    assert after.context_tokens >= 0.8 * counted, (after.context_tokens, counted)
