"""UX27 #18, #19 and the small ones: `rung ask --agent | head -1` stops the run before its
next paid step; Ctrl+C says the steps and the cost spent; a step-limit stop says "1 step"
and --json keeps the text the run printed. Real `rung` processes against a scripted
OpenAI-dialect server, a real git project, a real history."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_ask_agent import CALC, agent, env, project
from tests.conftest import subprocess_env
from tests.fakes import Sleep, openai_head, openai_stream, openai_tool_stream

EDIT = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}


def popen(tmp_path: Path, url: str, root: Path, *args: str) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "rung", "ask", "--agent", "--tier", "custom", "--base-url",
            url + "/v1", "--model", "m", *args]  # fmt: skip
    return subprocess.Popen(argv, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=subprocess_env(tmp_path, **env()))  # fmt: skip


def test_a_reader_that_left_stops_the_run_before_its_next_step(tmp_path: Path, servers) -> None:
    root = project(tmp_path)
    # Step 1 prints its plan's first line, then takes a moment before its call: the
    # reader (`head -1`) has left by the time the step ends.
    plan = openai_tool_stream([("c1", "list", '{"pattern": "*.py"}')], text="Plan: look.\n")
    plan.insert(len(openai_head()) + 1, Sleep(1.5))
    script = [Turn(raw=plan), Turn(calls=[("read", {"path": "calc.py"})]),
              Turn(calls=[("edit", EDIT)]), Turn(text="Fixed.")]  # fmt: skip
    model = ScriptedModel(script)
    proc = popen(tmp_path, servers(model).url, root, "fix add")
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline() == "Plan: look.\n"
    proc.stdout.close()  # `head -1` exits
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert proc.returncode == 141, err
    assert "Traceback" not in err
    assert len(model.bodies) == 1  # no paid step after the reader left
    assert (root / "calc.py").read_text() == CALC  # and no edit


def test_ctrl_c_says_the_steps_and_the_cost_spent(tmp_path: Path, servers) -> None:
    root = project(tmp_path)  # "m": $1 / $2 per million tokens: $0.0011 a step
    stalled = openai_stream(["Thinking", " more"], stall_after=1, stall=30)
    model = ScriptedModel([Turn(calls=[("list", {"pattern": "*"})]), Turn(raw=stalled)])
    proc = popen(tmp_path, servers(model).url, root, "look")
    deadline = time.monotonic() + 60
    while len(model.bodies) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # step 2 is streaming
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    line = next(x for x in err.splitlines() if x.startswith("rung: interrupted"))
    # Step 1 cost $0.0011; step 2, cut short, is an estimate: the total is marked "~".
    assert line.startswith("rung: interrupted after 2 steps · ~$0.00"), line
    assert "--continue" in line and "Traceback" not in err


def test_a_step_limit_stop_says_one_step_and_json_keeps_the_plan(tmp_path: Path, servers) -> None:
    root = project(tmp_path)
    model = ScriptedModel([Turn(text="Plan: list, then read.", calls=[("list", {"pattern": "*"})])])
    done = agent(tmp_path, servers(model).url, "--max-steps", "1", "--json", "look", cwd=root)
    assert done.returncode == 1, done.stderr
    assert "stopped at the step limit (1 step)" in done.stderr
    data = json.loads(done.stdout)
    assert data["stop_reason"] == "max_steps"
    assert data["text"] == "Plan: list, then read."  # what the plain view printed
