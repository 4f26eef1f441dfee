"""`rung ask --agent` as a user runs it: a real `rung` subprocess in a temp git project
with a failing test, a scripted model on a real local HTTP server (OpenAI's streamed
tool calls) that checks every result fed back, real tools, the real sandbox, the real
journal and history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rung.engine.agent.sandbox import probe
from tests.agent.scripted_model import ScriptedModel, Turn
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


def agent(tmp_path: Path, url: str, *args: str, cwd: Path):  # type: ignore[no-untyped-def]
    base = ["ask", "--agent", "--tier", "custom", "--base-url", url + "/v1", "--model", "m"]
    return rung(tmp_path, *base, *args, cwd=cwd, **env())


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
def test_the_agent_fixes_a_failing_test_headless_and_rung_undo_restores_it(
    tmp_path: Path, servers
) -> None:
    root = project(tmp_path)
    (tmp_path / "elsewhere.txt").write_text("not the project's\n")
    before = outside(tmp_path)
    model = ScriptedModel(fix_script())
    api = servers(model)
    done = agent(tmp_path, api.url, "--mode", "accept-edits", "--allow", "run:python3 -m pytest*",
                 "--json", "Make the failing test pass", cwd=root)  # fmt: skip
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
    # 6 steps of 1000 tokens in, 50 out at $1 and $2 per million: 6 x $0.0011.
    assert [s["cost_usd"] for s in data["steps"]] == ["0.0011"] * 6
    assert data["total_cost_usd"] == "0.0066"
    # Each call is one compact line on stderr.
    assert "→ edit calc.py" in done.stderr and "→ run " in done.stderr
    # The model was told the project's instructions and the tools, the same every step.
    first = model.bodies[0]
    system = first["messages"][0]
    assert system["role"] == "system" and "python3 -m pytest" in system["content"]
    assert all(b["tools"] == first["tools"] for b in model.bodies)
    # Append-only: each request starts with the previous one's messages, unchanged.
    for earlier, later in zip(model.bodies, model.bodies[1:], strict=False):
        assert later["messages"][: len(earlier["messages"])] == earlier["messages"]
    assert (root / "calc.py").read_text() == CALC.replace("a - b", "a + b")
    assert outside(tmp_path) == before

    # The whole turn is one undo step, exact bytes.
    undone = rung(tmp_path, "undo", cwd=root)
    assert undone.returncode == 0, undone.stderr
    assert (root / "calc.py").read_text() == CALC

    # `rung cost` counts every step.
    cost = rung(tmp_path, "cost")
    assert cost.returncode == 0, cost.stderr
    assert "Today: $0.0066 over 6 replies" in cost.stdout
