"""`rung ask --agent` as a user runs it: a real `rung` subprocess in a temp git project
with a failing test, a scripted model on a real local HTTP server (OpenAI's streamed
tool calls) that checks every result fed back, real tools, the real sandbox, the real
journal and history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from rung.engine.agent.sandbox import probe
from rung.tiers.pricing import format_usd
from tests.agent.scripted_model import DIALECTS, ScriptedModel, Turn, system_text, transcript
from tests.test_cli import rung

CALC = "def add(a, b):\n    return a - b\n"
TEST = "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
PYTEST = "python3 -m pytest -q -p no:cacheprovider"

needs_sandbox = pytest.mark.skipif(probe().sandbox is None, reason="no working bwrap here")


def project(tmp_path: Path) -> Path:
    config = tmp_path / "config" / "rung" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[prices."m"]\ninput = "1.00"\noutput = "2.00"\n')  # $ per M tokens
    root = tmp_path / "project"
    root.mkdir()
    (root / "calc.py").write_text(CALC)
    (root / "test_calc.py").write_text(TEST)
    (root / "AGENTS.md").write_text("Run the tests with python3 -m pytest.\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, timeout=30)
    return root


def env() -> dict[str, str]:
    # `python3` in a command is this venv's (it has pytest), inside the sandbox too.
    return {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "PYTHONDONTWRITEBYTECODE": "1"}  # fmt: skip


KEYS = {"anthropic": {"ANTHROPIC_API_KEY": "sk-ant-test-1234567"},
        "gemini": {"GEMINI_API_KEY": "g-test-1234567"}}  # fmt: skip


def agent(tmp_path: Path, url: str, *args: str, cwd: Path, dialect: str = "openai"):  # type: ignore[no-untyped-def]
    tier, base_url = {"openai": ("custom", url + "/v1"), "anthropic": ("anthropic", url + "/v1"),
                      "gemini": ("gemini", url)}[dialect]  # fmt: skip
    base = ["ask", "--agent", "--tier", tier, "--base-url", base_url, "--model", "m"]
    return rung(tmp_path, *base, *args, cwd=cwd, **env(), **KEYS.get(dialect, {}))


def fix_script() -> list[Turn]:
    return [
        Turn(calls=[("read", {"path": "calc.py"})]),
        Turn(calls=[("search", {"pattern": "def add"})], expect=("return a - b",)),
        Turn(calls=[("run", {"command": PYTEST})], expect=("calc.py",)),
        Turn(
            calls=[("edit", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})],
            expect=("1 failed",),
        ),
        Turn(calls=[("run", {"command": PYTEST})], expect=("a + b",)),
        Turn(text="Fixed add: it subtracted. The test passes now.", expect=("1 passed",)),
    ]


def outside(tmp_path: Path) -> dict[str, bytes]:
    """Every file under tmp_path but the project and Rung's own config and data."""
    skip = {tmp_path / "project", tmp_path / "data", tmp_path / "config"}
    return {
        str(p): p.read_bytes()
        for p in tmp_path.rglob("*")
        if p.is_file() and not any(s in p.parents for s in skip)
    }


@needs_sandbox
@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_agent_fixes_a_failing_test_headless_and_rung_undo_restores_it(
    tmp_path: Path, servers, dialect: str
) -> None:
    root = project(tmp_path)
    (tmp_path / "elsewhere.txt").write_text("not the project's\n")
    before = outside(tmp_path)
    model = ScriptedModel(fix_script(), dialect=dialect)
    api = servers(model)
    done = agent(tmp_path, api.url, "--mode", "accept-edits", "--allow", "run:python3 -m pytest*",
                 "--json", "Make the failing test pass", cwd=root, dialect=dialect)  # fmt: skip
    assert model.problems == []
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    data = json.loads(done.stdout)
    assert data["text"] == "Fixed add: it subtracted. The test passes now."
    assert data["stop_reason"] == "answered" and data["num_steps"] == 6
    assert [t["tool"] for t in data["tools"]] == ["read", "search", "run", "edit", "run"]
    assert not any(t["is_error"] for t in data["tools"])
    assert "1 failed" in data["tools"][2]["summary"]
    assert len(data["steps"]) == 6 and all(s["cost_usd"] is not None for s in data["steps"])
    total = sum(Decimal(s["cost_usd"]) for s in data["steps"])
    assert Decimal(data["total_cost_usd"]) == total > 0
    if dialect == "openai":
        # 6 steps of 1000 tokens in, 50 out at $1 and $2 per million: 6 x $0.0011.
        assert [s["cost_usd"] for s in data["steps"]] == ["0.0011"] * 6
    # Each call is one compact line on stderr.
    assert "→ edit calc.py" in done.stderr and "→ run " in done.stderr
    # The model was told the project's instructions and the tools, the same every step.
    first = model.bodies[0]
    assert "python3 -m pytest" in system_text(first, dialect)
    assert all(system_text(b, dialect) == system_text(first, dialect) for b in model.bodies)
    assert all(b["tools"] == first["tools"] for b in model.bodies)
    # Append-only: each request starts with the previous one's messages, unchanged.
    for earlier, later in zip(model.bodies, model.bodies[1:], strict=False):
        before_msgs, after_msgs = transcript(earlier, dialect), transcript(later, dialect)
        assert after_msgs[: len(before_msgs)] == before_msgs
    assert (root / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert outside(tmp_path) == before

    # The whole turn is one undo step, exact bytes.
    undone = rung(tmp_path, "undo", cwd=root)
    assert undone.returncode == 0, undone.stderr
    assert (root / "calc.py").read_text() == CALC

    # `rung cost` counts every step.
    cost = rung(tmp_path, "cost")
    assert cost.returncode == 0, cost.stderr
    assert f"Today: {format_usd(total)} over 6 replies" in cost.stdout


def lines(out: str) -> list[dict]:  # type: ignore[type-arg]
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_a_model_looping_on_one_call_is_refused_and_told_to_change_course(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    same = ("read", {"path": "calc.py"})
    model = ScriptedModel([
        Turn(calls=[same]), Turn(calls=[same], expect=("return a - b",)),
        Turn(calls=[same], expect=("return a - b",)),
        Turn(text="I keep reading the same file.", expect=("was not run again",)),
    ])  # fmt: skip
    api = servers(model)
    done = agent(tmp_path, api.url, "--stream-json", "look at calc.py", cwd=root)
    assert model.problems == []
    assert done.returncode == 0, done.stderr
    events = lines(done.stdout)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "step_start" and kinds[-1] == "result"
    assert kinds.count("step_start") == 4 and kinds.count("step_end") == 4
    results = [e for e in events if e["type"] == "tool_result"]
    assert [r["is_error"] for r in results] == [False, False, True]
    assert "repeated call refused" in results[2]["summary"]
    assert "".join(e["text"] for e in events if e["type"] == "text") == (
        "I keep reading the same file."
    )
    assert events[-1]["stop_reason"] == "answered" and events[-1]["num_steps"] == 4


def test_the_step_limit_ends_the_turn_with_status_1_and_says_so(tmp_path: Path, servers) -> None:
    root = project(tmp_path)
    model = ScriptedModel([Turn(calls=[("list", {"pattern": f"*{i}*"})]) for i in range(5)])
    api = servers(model)
    done = agent(tmp_path, api.url, "--max-steps", "2", "--json", "explore", cwd=root)
    assert done.returncode == 1
    assert "step limit (2 steps)" in done.stderr and "--max-steps" in done.stderr
    assert len(model.bodies) == 2  # no third request went out
    data = json.loads(done.stdout)
    assert data["stop_reason"] == "max_steps" and data["num_steps"] == 2
    assert "Traceback" not in done.stderr


def test_on_a_non_tty_a_command_needing_permission_is_denied_told_and_never_run(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    model = ScriptedModel([
        Turn(calls=[("run", {"command": "touch ran.txt"})]),
        Turn(text="I could not run it.", expect=("nobody can be asked",)),
    ])  # fmt: skip
    api = servers(model)
    done = agent(tmp_path, api.url, "--json", "touch a file", cwd=root)
    assert model.problems == []
    assert done.returncode == 0, done.stderr
    assert not (root / "ran.txt").exists()
    assert "✗ run touch ran.txt → denied (nobody to ask)" in done.stderr
    assert json.loads(done.stdout)["tools"][0]["is_error"] is True


def test_a_stream_cut_mid_call_fails_the_step_keeps_the_transcript_and_continue_resumes(
    tmp_path: Path, servers
) -> None:
    from tests.fakes import openai_tool_stream

    root = project(tmp_path)
    cut = openai_tool_stream([("c1", "read", '{"path": "test_calc.py"}')], cut_in_call=0)
    model = ScriptedModel([
        Turn(calls=[("read", {"path": "calc.py"})]),
        Turn(raw=cut, expect=("return a - b",)),
        # `--continue`: the first step's call and result come back; the cut step does not.
        Turn(text="Resumed."),
    ])  # fmt: skip
    api = servers(model)
    done = agent(tmp_path, api.url, "fix the test", cwd=root)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "ended the reply" in done.stderr or "connection" in done.stderr.lower()
    again = agent(tmp_path, api.url, "--continue", "--json", cwd=root)
    assert again.returncode == 0, again.stderr
    assert model.problems == []
    assert "continuing agent session" in again.stderr
    resumed = model.bodies[2]["messages"]
    assert resumed[: len(model.bodies[1]["messages"])] == model.bodies[1]["messages"]
    assert resumed[-1] == {"role": "user", "content": "Continue the task where you stopped."}
    assert json.loads(again.stdout)["text"] == "Resumed."


@needs_sandbox
def test_kill_9_while_a_command_runs_then_continue_picks_the_task_up(
    tmp_path: Path, servers
) -> None:
    import time

    from tests.conftest import subprocess_env

    root = project(tmp_path)
    model = ScriptedModel([
        Turn(calls=[("edit", {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"})]),
        Turn(calls=[("run", {"command": "touch started.txt && sleep 30"})], expect=("a + b",)),
        Turn(text="Done after the restart."),
    ])  # fmt: skip
    api = servers(model)
    base = ["ask", "--agent", "--tier", "custom", "--base-url", api.url + "/v1", "--model", "m",
            "--mode", "accept-edits", "--allow", "run:sleep *",
            "--allow", "run:touch *"]  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "rung", *base, "fix it"], cwd=root, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=subprocess_env(tmp_path, **env()),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not (root / "started.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # the sleep command is running now
    finally:
        proc.kill()
        proc.communicate(timeout=30)
    assert len(model.bodies) == 2
    assert (root / "calc.py").read_text() == CALC.replace("a - b", "a + b")  # whole, no half

    again = agent(tmp_path, api.url, "--continue", "--json", cwd=root)
    assert again.returncode == 0, again.stderr
    assert model.problems == []
    assert json.loads(again.stdout)["text"] == "Done after the restart."
    resumed = model.bodies[2]["messages"]
    assert resumed[: len(model.bodies[1]["messages"])] == model.bodies[1]["messages"]
    lost = resumed[len(model.bodies[1]["messages"]) + 1]  # after the step that ran it
    assert lost["role"] == "tool" and "Rung was stopped while this call ran" in lost["content"]
    # The killed turn and the resumed one: `rung undo` still puts calc.py back exactly.
    assert rung(tmp_path, "undo", cwd=root).returncode == 0
    assert (root / "calc.py").read_text() == CALC


def test_the_budget_is_checked_before_every_step(tmp_path: Path, servers) -> None:
    root = project(tmp_path)
    config = tmp_path / "config" / "rung" / "config.toml"
    config.write_text(config.read_text() + '\n[budget]\nsession_usd = "0.002"\n')
    model = ScriptedModel([Turn(calls=[("list", {"pattern": f"*{i}*"})]) for i in range(5)])
    api = servers(model)
    done = agent(tmp_path, api.url, "--json", "explore", cwd=root)
    # $0.0011 a step: after two steps the session's $0.002 is spent; no third request.
    assert len(model.bodies) == 2
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["stop_reason"] == "budget" and data["total_cost_usd"] == "0.0022"
    assert "budget" in done.stderr and "Traceback" not in done.stderr


@needs_sandbox
def test_ctrl_c_mid_command_exits_130_kills_it_and_keeps_the_turn(tmp_path: Path, servers) -> None:
    import signal
    import time

    from tests.conftest import subprocess_env

    root = project(tmp_path)
    model = ScriptedModel([Turn(calls=[("run", {"command": "sleep 3 && touch late.txt"})])])
    api = servers(model)
    argv = [sys.executable, "-m", "rung", "ask", "--agent", "--tier", "custom", "--base-url",
            api.url + "/v1", "--model", "m", "--allow", "run:sleep *", "--allow", "run:touch *",
            "wait"]  # fmt: skip
    proc = subprocess.Popen(argv, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env=subprocess_env(tmp_path, **env()))  # fmt: skip
    deadline = time.monotonic() + 60
    while len(model.bodies) < 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # the command is running
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and time.monotonic() - started < 5
    assert "interrupted" in err and "--continue" in err and "Traceback" not in err
    time.sleep(3)
    assert not (root / "late.txt").exists()  # the command's process group went with it


def test_a_rung_without_its_key_ends_the_turn_with_a_clear_message(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = rung(tmp_path, "ask", "--agent", "--tier", "anthropic", "--json", "fix it", cwd=root)
    assert done.returncode == 1
    assert "ANTHROPIC_API_KEY" in done.stderr and "Traceback" not in done.stderr
    assert json.loads(done.stdout)["stop_reason"] == "failed"


def test_agent_flags_without_agent_and_bad_combinations_are_usage_errors(tmp_path: Path) -> None:
    for args, said in (
        (["--mode", "auto", "hi"], "--mode: for the agent only (add --agent)"),
        (["--agent", "--json", "--stream-json", "hi"], "do not go together"),
        (["--agent", "--max-steps", "0", "hi"], "at least 1"),
        (["--agent", "--apply", "hi"], "--diff and --apply"),
    ):
        done = rung(tmp_path, "ask", *args)
        assert done.returncode == 2, (args, done.stderr)
        assert said in done.stderr and "Traceback" not in done.stderr
