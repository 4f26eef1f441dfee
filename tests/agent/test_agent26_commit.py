"""[agent] commit = "turn": each finished agent turn that changed files is committed in a
git project, those files only, with a one-line message a cheap rung writes. Never an
amend, never a push, never the user's other staged or unstaged changes; skipped with a
word outside git or when a file the turn changed had changes of the user's.

Real parts: real git repositories in tmp dirs (checked with `git log`, `git show
--stat`, `git diff --cached`), a real `rung ask --agent` subprocess, a scripted
OpenAI-compatible model server on 127.0.0.1, the real journal and history."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from rung.engine.agent.commit import Before, before_turn, clean_message, commit_files
from tests.agent.scripted_model import ScriptedModel, Turn
from tests.agent.test_ask_agent import CALC, agent, project
from tests.fakes import openai_stream

IDENTITY = {"GIT_AUTHOR_NAME": "Ada", "GIT_AUTHOR_EMAIL": "ada@example.com",
            "GIT_COMMITTER_NAME": "Ada", "GIT_COMMITTER_EMAIL": "ada@example.com"}  # fmt: skip
FIX = {"path": "calc.py", "old_string": "a - b", "new_string": "a + b"}


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=30,
                          check=True)  # fmt: skip
    return done.stdout


def repo(tmp_path: Path) -> Path:
    """The agent tests' project, committed once, with the user's identity."""
    root = project(tmp_path)
    git(root, "config", "user.name", "Ada")
    git(root, "config", "user.email", "ada@example.com")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "start")
    return root


def turn_on(tmp_path: Path) -> None:
    config = tmp_path / "config" / "rung" / "config.toml"
    config.write_text(config.read_text() + '\n[agent]\ncommit = "turn"\n')


class Model:
    """The scripted agent (requests with tools) and the commit message writer (without)."""

    def __init__(self, script: list[Turn], message: str) -> None:
        self.agent = ScriptedModel(script)
        self.message = message
        self.message_requests: list[dict] = []  # type: ignore[type-arg]

    def __call__(self, request):  # type: ignore[no-untyped-def]
        body = request.json()
        if body.get("tools"):
            return self.agent(request)
        self.message_requests.append(body)
        return openai_stream([self.message])


def fix_turn() -> list[Turn]:
    return [Turn(calls=[("edit", FIX)]), Turn(text="Fixed add.", expect=("a + b",))]


def test_a_finished_turn_is_committed_alone_with_the_rungs_message(tmp_path: Path, servers) -> None:
    root = repo(tmp_path)
    turn_on(tmp_path)
    # The user's own work in progress: one change staged, one not, one new file.
    (root / "AGENTS.md").write_text("Run the tests with pytest -q.\n")
    git(root, "add", "AGENTS.md")
    (root / "test_calc.py").write_text((root / "test_calc.py").read_text() + "# mine\n")
    (root / "notes.txt").write_text("mine\n")
    start = git(root, "rev-parse", "HEAD").strip()
    model = Model(fix_turn(), "Fix add() to add\x1b[31m instead of subtract.\nMore text")
    api = servers(model)
    done = agent(tmp_path, api.url, "--mode", "accept-edits", "--json", "fix add", cwd=root)
    assert done.returncode == 0, done.stderr
    head = git(root, "rev-parse", "HEAD").strip()
    assert head != start and git(root, "rev-parse", "HEAD~1").strip() == start  # no amend
    # The rung's message, made one safe line.
    assert git(root, "log", "-1", "--format=%B", head).strip() == (
        "Fix add() to add instead of subtract"
    )
    assert git(root, "show", "--stat", "--format=", head).split("|")[0].strip() == "calc.py"
    assert "a + b" in git(root, "show", f"{head}:calc.py")
    # The user's changes are where they were: staged, unstaged, untracked.
    assert git(root, "diff", "--cached", "--name-only").split() == ["AGENTS.md"]
    assert git(root, "diff", "--name-only").split() == ["test_calc.py"]
    assert "?? notes.txt" in git(root, "status", "--porcelain")
    assert "calc.py" not in git(root, "status", "--porcelain").replace("test_calc.py", "")
    assert f"Committed {head[:8]}: Fix add()" in done.stderr
    assert json.loads(done.stdout)["commit"] == head
    assert len(model.message_requests) == 1 and model.agent.problems == []
    # The message request was paid for and counted, not part of the conversation.
    assert "calc.py" in model.message_requests[0]["messages"][-1]["content"]


def test_a_file_the_user_had_changed_is_not_committed_and_that_is_said(
    tmp_path: Path, servers
) -> None:
    root = repo(tmp_path)
    turn_on(tmp_path)
    (root / "calc.py").write_text(CALC + "# the user's line\n")
    start = git(root, "rev-parse", "HEAD").strip()
    api = servers(Model(fix_turn(), "Fix add"))
    done = agent(tmp_path, api.url, "--mode", "accept-edits", "fix add", cwd=root)
    assert done.returncode == 0, done.stderr
    assert git(root, "rev-parse", "HEAD").strip() == start
    assert "Not committed: calc.py had changes of yours before the turn" in done.stderr
    assert "a + b" in (root / "calc.py").read_text()  # the turn's edit stands


def test_outside_git_the_turn_is_not_committed_and_that_is_said(tmp_path: Path, servers) -> None:
    root = project(tmp_path)
    subprocess.run(["rm", "-rf", str(root / ".git")], check=True, timeout=30)
    turn_on(tmp_path)
    api = servers(Model(fix_turn(), "Fix add"))
    done = agent(tmp_path, api.url, "--mode", "accept-edits", "fix add", cwd=root)
    assert done.returncode == 0, done.stderr
    assert "Not committed: not a git repository" in done.stderr
    assert "a + b" in (root / "calc.py").read_text()


def test_off_by_default_no_commit(tmp_path: Path, servers) -> None:
    root = repo(tmp_path)
    start = git(root, "rev-parse", "HEAD").strip()
    model = Model(fix_turn(), "Fix add")
    done = agent(tmp_path, servers(model).url, "--mode", "accept-edits", "fix add", cwd=root)
    assert done.returncode == 0, done.stderr
    assert git(root, "rev-parse", "HEAD").strip() == start and not model.message_requests


def test_commit_files_in_a_subdirectory_project_and_a_new_repository(tmp_path: Path) -> None:
    """The project may be a folder of a repository, and the repository may have no
    commit yet; a deleted file is committed as deleted."""
    top = tmp_path / "top"
    (top / "sub").mkdir(parents=True)
    git(top, "init", "-q")
    git(top, "config", "user.name", "Ada")
    git(top, "config", "user.email", "ada@example.com")
    (top / "sub" / "a.py").write_text("a\n")
    (top / "other.py").write_text("other\n")
    before = before_turn(top / "sub")
    assert before.top == top.resolve() and before.prefix == "sub/"
    # Both files were new before the turn: the user's, not committed.
    assert "sub/a.py" in before.dirty and "other.py" in before.dirty
    refused = commit_files(before, ["a.py"], "Add a")
    assert not refused.committed and "had changes of yours" in refused.message
    clean = Before(before.top, before.prefix, frozenset({"other.py"}))
    outcome = commit_files(clean, ["a.py"], "Add a")
    assert outcome.committed, outcome.message
    assert git(top, "show", "--stat", "--format=%s", "HEAD").split()[:2] == ["Add", "a"]
    assert git(top, "ls-tree", "-r", "--name-only", "HEAD").split() == ["sub/a.py"]
    (top / "sub" / "a.py").unlink()
    gone = commit_files(clean, ["a.py"], "Remove a")
    assert gone.committed and git(top, "ls-tree", "-r", "--name-only", "HEAD").split() == []
    assert git(top, "rev-list", "--count", "HEAD").strip() == "2"
    again = commit_files(clean, ["a.py"], "Nothing")
    assert not again.committed and "no change" in again.message


def test_a_model_message_is_one_safe_bounded_line() -> None:
    assert clean_message('```\n"Fix add\x1b]0;pwned\x07 to add."\nsecond line') == "Fix add to add"
    assert clean_message("Commit message: Tidy\r\nmore") == "Tidy"
    assert len(clean_message("x" * 500)) == 72
    assert clean_message("  \n``` \n") == ""


async def test_a_broken_journal_is_said_never_raised(tmp_path: Path) -> None:
    """The turn is done either way: what stops the commit is a sentence, not a traceback."""
    from rung.engine.agent.commit import commit_turn

    class Broken:
        def history(self):  # type: ignore[no-untyped-def]
            raise OSError("journal entry 7 cannot be read")

    root = repo(tmp_path)
    outcome = await commit_turn(before_turn(root), Broken(), "turn-1", [], None, None)
    assert outcome is not None and not outcome.committed
    assert outcome.message == "Not committed: journal entry 7 cannot be read"
