"""An agent session from the config file: mode and rules from [permissions], limits from
[agent], the command line's rules added, bad rules reported and skipped."""

from __future__ import annotations

from pathlib import Path

from rung.engine.agent import Mode
from rung.engine.agent.setup import agent_session
from rung.engine.config import load_config
from tests.agent.helpers import git_project


async def test_rules_and_mode_come_from_the_config_and_the_command_line(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    path = tmp_path / "config.toml"
    path.write_text(
        '[permissions]\nmode = "accept-edits"\nallow = ["run:git status", "oops"]\n'
        'deny = ["run:curl *"]\n[agent]\nrun_timeout = 5\nmax_steps = 7\n'
    )
    config = load_config(path)
    assert config.problems == []
    session = agent_session(config, root, None, allow=["run:pytest *"])
    permissions = session.dispatcher.permissions
    assert permissions.mode is Mode.ACCEPT_EDITS
    assert [str(r) for r in permissions.allows()] == ["run:git status", "run:pytest *"]
    assert [str(r) for r in permissions.deny] == ["run:curl *"]
    assert session.problems and "'oops' is not a rule" in session.problems[0]
    assert session.dispatcher.context.run_timeout == 5
    assert session.steps().limit == 7
    edited = await session.dispatcher.call(
        "edit", {"path": "src/calc.py", "old_string": "a - b", "new_string": "a + b"}
    )
    assert not edited.is_error  # accept-edits from the config
    planned = agent_session(config, root, None, mode="plan")
    assert [t.name for t in planned.dispatcher.tools()] == ["read", "list", "search"]


def test_a_bad_mode_in_the_config_is_reported_and_ask_is_used(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[permissions]\nmode = "yolo"\n')
    config = load_config(path)
    assert any("[permissions] mode" in p for p in config.problems)
    session = agent_session(config, git_project(tmp_path), None)
    assert session.dispatcher.permissions.mode is Mode.ASK
