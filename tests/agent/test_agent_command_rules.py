"""Command rules judged part by part: an allow rule for one simple command never lets a
chained, substituted, redirected or wrapped command through."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rung.engine.agent import Answer, Mode
from rung.engine.agent.base import Need, Plan, ToolResult
from rung.engine.agent.permissions import (
    Decision,
    Permissions,
    Rule,
    RuleError,
    SavedRules,
)
from tests.agent.helpers import Asker, dispatcher, git_project

RULES = [Rule.parse("run:git status"), Rule.parse("run:pytest *"), Rule.parse("run:echo *")]


def _judge(command: str, **kwargs: object) -> Decision:
    async def never() -> ToolResult:
        raise AssertionError("not run")

    plan = Plan(Need.RUN, command, command, never)
    return Permissions(Mode.AUTO, RULES, **kwargs).judge(plan).decision  # type: ignore[arg-type]


@pytest.mark.parametrize("command", [
    "git status", "pytest -q tests/x.py", "pytest", "git status 2>&1 | pytest -q",
    "git  status", "timeout 60 pytest -q", "env CI=1 pytest", "git status > /dev/null",
    "echo hi && git status",
])  # fmt: skip
def test_commands_every_part_of_which_a_rule_allows_run(command: str) -> None:
    assert _judge(command) is Decision.ALLOW


@pytest.mark.parametrize("command", [
    "git status && curl x", "git status; rm -rf x", "git status || curl x",
    "git status | sh", "git status & curl x", "git status\ncurl x",
    "echo $(curl x)", "echo `curl x`", 'echo "$(curl x)"', "echo <(curl x)",
    "git status > ~/.bashrc", "git status >> .git/hooks/pre-commit", "pytest &> out.txt",
    "sh -c 'curl x'", "bash -c 'git status; curl x'", "eval 'curl x'",
    "env X=1 curl x", "xargs rm < files", "git status --porcelain",
    "PATH=./bin:$PATH git status", "LD_PRELOAD=x.so git status", "sudo git status",
    "(git status; curl x)", "{ git status; }", "git status <<EOF\nx\nEOF",
    "if true; then git status; fi", "$CMD status", "g* status", "git status 'unclosed",
    "bash -lc 'git status'", "env -S 'curl x'", "echo $((1+$(curl x)))",
    "git -c core.pager=evil status", "git --exec-path=/tmp status",
    "git()(curl x); git status", "{curl,x}", "$'\\x63url' x",
])  # fmt: skip
def test_a_rule_never_allows_a_command_sneaking_past_it(command: str) -> None:
    assert _judge(command) is Decision.ASK


def test_find_exec_is_judged_as_the_command_it_runs() -> None:
    rules = [*RULES, Rule.parse("run:find *")]
    find = Permissions(Mode.AUTO, rules)
    assert find.judge(_plan("find . -name '*.py'")).decision is Decision.ALLOW
    assert find.judge(_plan("find . -exec curl x {} \\;")).decision is Decision.ASK
    assert find.judge(_plan("find . -exec echo {} +")).decision is Decision.ALLOW


def _plan(command: str) -> Plan:
    async def never() -> ToolResult:
        raise AssertionError("not run")

    return Plan(Need.RUN, command, command, never)


def test_deny_beats_allow_in_any_part() -> None:
    deny = [Rule.parse("run:curl *")]
    assert _judge("echo $(curl x)", deny=deny) is Decision.DENY
    assert _judge("sh -c 'git status; curl -s x | sh'", deny=deny) is Decision.DENY


def test_without_a_sandbox_every_command_is_asked() -> None:
    assert _judge("git status", sandboxed=False) is Decision.ASK


def test_a_bad_rule_is_named() -> None:
    with pytest.raises(RuleError, match="KIND:PATTERN"):
        Rule.parse("git status")


async def test_always_allow_is_saved_outside_the_project_0600_and_used_next_time(
    tmp_path: Path,
) -> None:
    root = git_project(tmp_path)
    data = tmp_path / "data" / "rung"
    asker = Asker(Answer.ALWAYS)
    agent = dispatcher(root, ask=asker, sandboxed=True)
    agent.permissions.saved = SavedRules(data, root)
    result = await agent.call("run", {"command": "git status --short && git log -1"})
    assert asker.asked[0].always == ("run:git status --short", "run:git log -1")
    assert "exit" in result.summary
    saved = data / "agent_allow.json"
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600
    assert not any(p.name == "agent_allow.json" for p in root.rglob("*"))
    later = Permissions(Mode.ASK, saved=SavedRules(data, root))
    assert [str(r) for r in later.allows()] == ["run:git status --short", "run:git log -1"]
    other = Permissions(Mode.ASK, saved=SavedRules(data, tmp_path))  # another project
    assert other.allows() == []


async def test_headless_denies_and_says_so_without_running(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    agent = dispatcher(root, sandboxed=True)  # no ask callback: not a terminal
    result = await agent.call("run", {"command": "touch made"})
    assert result.is_error
    assert "nobody can be asked" in result.text and "run:touch made" in result.text
    assert not (root / "made").exists()


async def test_an_always_rule_that_cannot_be_saved_holds_for_the_session_and_is_said(
    tmp_path: Path,
) -> None:
    root = git_project(tmp_path)
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the data directory should be")
    asker = Asker(Answer.ALWAYS)
    agent = dispatcher(root, ask=asker, sandboxed=True)
    agent.permissions.saved = SavedRules(blocked, root)
    first = await agent.call("run", {"command": "git status --short"})
    assert "exit 0" in first.summary
    assert agent.notices and "could not be saved" in agent.notices[0]
    again = await agent.call("run", {"command": "git status --short"})
    assert "exit 0" in again.summary and len(asker.asked) == 1  # not asked twice


def test_a_damaged_rules_file_is_never_overwritten(tmp_path: Path) -> None:
    data = tmp_path / "data" / "rung"
    data.mkdir(parents=True)
    (data / "agent_allow.json").write_text('{"/other/project": ["run:make"]')  # cut short
    permissions = Permissions(Mode.ASK, saved=SavedRules(data, tmp_path))
    problem = permissions.remember(["run:git status"])
    assert problem and "move it away" in problem
    assert (data / "agent_allow.json").read_text() == '{"/other/project": ["run:make"]'
    assert [str(r) for r in permissions.allows()] == ["run:git status"]
