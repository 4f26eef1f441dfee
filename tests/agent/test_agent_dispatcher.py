"""The dispatcher: malformed calls are told to the model, a looping model is stopped, a
turn's edits are one `rung undo` step, and project instructions are bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from rung.engine.agent import Answer, Mode, StepCounter
from rung.engine.agent.instructions import project_instructions
from tests.agent.helpers import Asker, dispatcher, git_project
from tests.test_cli import rung


@pytest.mark.parametrize(("name", "arguments", "said"), [
    ("read", '{"path": "src/calc.py"', "not valid JSON"),
    ("read", "[1, 2]", "must be a JSON object"),
    ("read", {}, "`path` is required"),
    ("read", {"path": 3}, "`path` must be string"),
    ("read", {"path": "a", "limit": True}, "`limit` must be integer"),
    ("read", {"path": "a", "limit": 0}, "`limit` must be at least 1"),
    ("read", {"path": "a", "mode": "x"}, "`mode` is not a parameter"),
    ("rm_rf", {}, "There is no tool 'rm_rf'"),
])  # fmt: skip
async def test_a_malformed_call_is_an_error_result_not_a_crash(
    tmp_path: Path, name: str, arguments: object, said: str
) -> None:
    result = await dispatcher(git_project(tmp_path)).call(name, arguments)  # type: ignore[arg-type]
    assert result.is_error
    assert said in result.text


async def test_the_same_call_three_times_in_a_row_is_refused(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    agent = dispatcher(root)
    call = {"path": "README.md"}
    assert not (await agent.call("read", call)).is_error
    assert not (await agent.call("read", call)).is_error
    third = await agent.call("read", call)
    assert third.is_error and "3 times in a row" in third.text
    assert third.summary == "read: repeated call refused"
    other = await agent.call("read", {"path": "src/calc.py"})
    assert not other.is_error  # changing course works
    agent.new_turn("turn-2")
    assert not (await agent.call("read", call)).is_error


def test_the_step_counter_stops_at_its_limit() -> None:
    steps = StepCounter(limit=2)
    assert steps.take() and steps.take()
    assert not steps.take()
    assert steps.left == 0


async def test_a_turn_of_tool_edits_is_undone_by_one_rung_undo_with_exact_bytes(
    tmp_path: Path,
) -> None:
    root = git_project(tmp_path)
    calc = root / "src" / "calc.py"
    original = calc.read_bytes()
    agent = dispatcher(root, mode=Mode.ACCEPT_EDITS, turn="turn-7")
    one = await agent.call("edit", {"path": "src/calc.py", "old_string": "a - b",
                                    "new_string": "a + b"})  # fmt: skip
    two = await agent.call("write", {"path": "tests/test_calc.py",
                                     "content": "from src.calc import add\n"})  # fmt: skip
    three = await agent.call("edit", {"path": "src/calc.py", "old_string": "def add(a, b):",
                                      "new_string": "def add(a: int, b: int) -> int:"})  # fmt: skip
    assert not any(r.is_error for r in (one, two, three)), (one, two, three)
    undone = rung(tmp_path, "undo", cwd=root)
    assert undone.returncode == 0, undone.stderr
    assert "one turn of 3 edits" in undone.stdout
    assert calc.read_bytes() == original
    assert not (root / "tests").exists()


async def test_a_command_runs_in_the_project_and_reports_its_exit(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    agent = dispatcher(root, ask=Asker(Answer.ONCE))
    result = await agent.call("run", {"command": "ls src; exit 3"})
    assert result.summary == "run ls src; exit 3 → exit 3"
    assert result.text.startswith("[exit code 3;") and "calc.py" in result.text


def test_project_instructions_are_read_bounded_and_never_through_a_link_out(
    tmp_path: Path,
) -> None:
    root = git_project(tmp_path)
    assert project_instructions(root) == ""
    (root / "AGENTS.md").write_text("Run tests with `pytest -q`.\n" + "x" * 50_000)
    (tmp_path / "secret.md").write_text("SECRET")
    (root / "CLAUDE.md").symlink_to(tmp_path / "secret.md")
    text = project_instructions(root, limit=2000)
    assert "Run tests with `pytest -q`." in text
    assert "SECRET" not in text
    assert "cut at 2000 characters" in text
    assert len(text) < 2300


async def test_a_failing_test_run_is_summed_up_and_its_output_fed_back(tmp_path: Path) -> None:
    import sys

    from tests.agent.helpers import sandbox_or_none

    root = git_project(tmp_path)
    (root / "test_calc.py").write_text(
        "from src.calc import add\n\ndef test_add():\n    assert add(2, 3) == 5\n\n"
        "def test_zero():\n    assert add(0, 0) == 0\n"
    )
    sandbox = sandbox_or_none()
    # Allowed by a rule under the sandbox; asked (and allowed once) without one.
    agent = dispatcher(root, sandbox=sandbox, allow=(f"run:{sys.executable} -m pytest *",),
                       ask=None if sandbox else Asker(Answer.ONCE))  # fmt: skip
    command = f"{sys.executable} -m pytest -q -p no:cacheprovider test_calc.py"
    failing = await agent.call("run", {"command": command})
    assert failing.summary.endswith("→ exit 1, 1 failed"), failing.summary
    assert "assert -1 == 5" in failing.text  # the test output is fed back
    agent.permissions.mode = Mode.ACCEPT_EDITS
    fixed = await agent.call("edit", {"path": "src/calc.py", "old_string": "a - b",
                                      "new_string": "a + b"})  # fmt: skip
    assert not fixed.is_error
    passing = await agent.call("run", {"command": command})
    assert passing.summary.endswith("→ exit 0, 2 passed"), passing.summary
