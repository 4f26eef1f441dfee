"""`rung ask --agent` and money (issue 27): `--max-cost` stops before the paid step that
would pass it, `--json` breaks the run down by step kind with the all-premium what-if,
and the text view ends with the run's summary. A real `rung` process against a scripted
OpenAI-dialect server; a real history."""

from __future__ import annotations

import json
from pathlib import Path

from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_ask_agent import agent, project


def explore(n: int) -> ScriptedModel:
    return ScriptedModel([Turn(calls=[("list", {"pattern": f"*{i}*"})]) for i in range(n)])


def test_max_cost_stops_the_run_before_the_step_that_would_pass_it(tmp_path: Path, servers) -> None:
    root = project(tmp_path)  # $0.0011 a step
    model = explore(6)
    done = agent(tmp_path, servers(model).url, "--max-cost", "0.003", "--json", "look around",
                 cwd=root)  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(model.bodies) == 2  # the third step would have taken it past $0.003
    data = json.loads(done.stdout)
    assert data["stop_reason"] == "budget" and data["total_cost_usd"] == "0.0022"
    assert "over $0.003" in data["error"] and "over $0.003" in done.stderr


def test_json_breaks_the_run_down_by_step_kind_with_the_whatif(tmp_path: Path, servers) -> None:
    root = project(tmp_path)
    model = ScriptedModel([Turn(calls=[("read", {"path": "calc.py"})]), Turn(text="It subtracts.")])
    done = agent(tmp_path, servers(model).url, "--json", "what does add do?", cwd=root)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert [s["kind"] for s in data["steps"]] == ["plan", "act"]
    assert data["by_step_kind"] == {
        "plan": {"steps": 1, "cost_usd": "0.0011"},
        "act": {"steps": 1, "cost_usd": "0.0011"},
    }
    # One rung ("custom", model "m"): all on it is what the run cost.
    assert data["premium_model"] == "m" and data["all_premium_usd"] == "0.0022"


def test_the_text_view_ends_with_the_runs_summary(tmp_path: Path, servers) -> None:
    root = project(tmp_path)
    model = ScriptedModel([Turn(calls=[("read", {"path": "calc.py"})]), Turn(text="It subtracts.")])
    done = agent(tmp_path, servers(model).url, "what does add do?", cwd=root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("It subtracts.")
    assert "rung: 2 steps (plan 1, act 1) · $0.0022; all on m ~$0.0022" in done.stderr


def test_a_bad_max_cost_is_a_usage_error(tmp_path: Path, servers) -> None:
    root = project(tmp_path)
    for bad in ("-1", "zero", "0"):
        done = agent(tmp_path, "http://127.0.0.1:9", "--max-cost", bad, "hi", cwd=root)
        assert done.returncode == 2 and "--max-cost" in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
