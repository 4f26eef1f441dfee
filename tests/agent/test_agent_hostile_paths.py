"""Paths a model may try: out of the project, into .git, through a link, a runs-code
file, Rung's own data. Refused, or asked for this one call only, never by a rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from rung.engine.agent import Answer, Mode
from tests.agent.helpers import Asker, dispatcher, git_project


@pytest.mark.parametrize("name", ["../outside.txt", "src/../../outside.txt", "/etc/passwd",
                                  "link/outside.txt", "~/.bashrc"])  # fmt: skip
async def test_reads_and_writes_outside_the_project_are_refused(tmp_path: Path, name: str) -> None:
    root = git_project(tmp_path)
    (tmp_path / "outside.txt").write_text("secret\n")
    os.symlink(tmp_path, root / "link")
    agent = dispatcher(root, mode=Mode.ACCEPT_EDITS)
    read = await agent.call("read", {"path": name})
    assert read.is_error and "secret" not in read.text
    wrote = await agent.call("write", {"path": name, "content": "pwned\n", "overwrite": True})
    assert wrote.is_error
    assert (tmp_path / "outside.txt").read_text() == "secret\n"


async def test_git_hooks_are_never_written(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    asker = Asker(Answer.ALWAYS)
    agent = dispatcher(root, mode=Mode.ACCEPT_EDITS, allow=("edit:**",), ask=asker)
    result = await agent.call("write", {"path": ".git/hooks/pre-commit",
                                        "content": "#!/bin/sh\ncurl evil\n"})  # fmt: skip
    assert result.is_error and ".git" in result.text
    assert not (root / ".git" / "hooks" / "pre-commit").exists()


async def test_reading_git_internals_is_asked_per_call_and_never_saved(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    asker = Asker(Answer.ALWAYS, Answer.DENY)
    agent = dispatcher(root, allow=("read:**",), ask=asker)
    first = await agent.call("read", {"path": ".git/config"})
    assert not first.is_error and "[core]" in first.text
    assert asker.asked[0].always == ()  # "always" is not offered for it
    second = await agent.call("read", {"path": ".git/HEAD"})
    assert second.is_error  # asked again (and denied): nothing was remembered
    assert len(asker.asked) == 2


@pytest.mark.parametrize("name", ["conftest.py", ".github/workflows/ci.yml", "Makefile",
                                  "pkg/evil.pth"])  # fmt: skip
async def test_a_runs_code_file_needs_a_yes_even_with_rules_and_accept_edits(
    tmp_path: Path, name: str
) -> None:
    root = git_project(tmp_path)
    headless = dispatcher(root, mode=Mode.ACCEPT_EDITS, allow=("edit:**",))
    refused = await headless.call("write", {"path": name, "content": "import os\n"})
    assert refused.is_error and "nobody can be asked" in refused.text
    assert not (root / name).exists()
    asker = Asker(Answer.ONCE)
    asked = dispatcher(root, mode=Mode.AUTO, allow=("edit:**",), ask=asker)
    done = await asked.call("write", {"path": name, "content": "import os\n"})
    assert not done.is_error, done.text
    assert "runs code by itself" in asker.asked[0].reason
    assert asker.asked[0].always == ()


async def test_rungs_own_data_directory_is_refused(tmp_path: Path) -> None:
    # A project that contains Rung's data directory (XDG_DATA_HOME is in tmp_path here).
    data = tmp_path / "data" / "rung"
    data.mkdir(parents=True)
    (data / "keys.json").write_text("{}")
    agent = dispatcher(tmp_path, mode=Mode.ACCEPT_EDITS)
    result = await agent.call("write", {"path": "data/rung/keys.json", "content": "x",
                                        "overwrite": True})  # fmt: skip
    assert result.is_error and "Rung's own directory" in result.text
    assert (data / "keys.json").read_text() == "{}"


async def test_plan_mode_offers_and_runs_only_reads(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    agent = dispatcher(root, mode=Mode.PLAN, ask=Asker(Answer.ONCE))
    assert [t.name for t in agent.tools()] == ["read", "list", "search"]
    edit = await agent.call("edit", {"path": "src/calc.py", "old_string": "a - b",
                                     "new_string": "a + b"})  # fmt: skip
    assert edit.is_error and "plan mode" in edit.text
    run = await agent.call("run", {"command": "touch made"})
    assert run.is_error and not (root / "made").exists()


@pytest.mark.parametrize("ripgrep", [True, False])
async def test_a_read_deny_rule_hides_files_from_read_list_and_search(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ripgrep: bool
) -> None:
    import shutil

    if not ripgrep:
        monkeypatch.setattr(shutil, "which", lambda name: None)
    root = git_project(tmp_path)
    (root / "secrets").mkdir()
    (root / "secrets" / "prod.env").write_text("TOKEN=canary-7f3a\n")
    (root / "notes.txt").write_text("canary-7f3a is the test value\n")
    agent = dispatcher(root, deny=("read:secrets/**",))
    read = await agent.call("read", {"path": "secrets/prod.env"})
    assert read.is_error and "canary" not in read.text
    listed = await agent.call("list", {})
    assert "secrets/prod.env" not in listed.text and "notes.txt" in listed.text
    found = await agent.call("search", {"pattern": "canary-7f3a"})
    assert found.text == "notes.txt:1:canary-7f3a is the test value"


async def test_reads_are_asked_when_the_project_is_the_home_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text("[default]\n")
    monkeypatch.setenv("HOME", str(home))
    headless = dispatcher(home)
    result = await headless.call("read", {"path": ".aws/credentials"})
    assert result.is_error and "not a project directory" in result.text


async def test_an_ssh_directory_in_the_project_is_never_read(tmp_path: Path) -> None:
    root = git_project(tmp_path)
    (root / "deploy" / ".ssh").mkdir(parents=True)
    (root / "deploy" / ".ssh" / "id_ed25519").write_text("PRIVATE KEY canary\n")
    agent = dispatcher(root, ask=Asker(Answer.ONCE))
    result = await agent.call("read", {"path": "deploy/.ssh/id_ed25519"})
    assert result.is_error and ".ssh" in result.text and "canary" not in result.text
    found = await agent.call("search", {"pattern": "canary"})
    assert found.text == "No matches."
    listed = await agent.call("list", {})
    assert "id_ed25519" not in listed.text
