"""edits.policy, the one list of what a proposed edit may touch (security review issue
23): each kind of file that runs code by itself is recognised, ordinary files are not,
and no allowance opens what is refused. Real files in temporary directories."""

from __future__ import annotations

from pathlib import Path

import pytest

from rung.engine.edits.policy import (
    Allowance,
    attached_files,
    classify,
    headless_refusal,
    runs_code,
)

RUNS_CODE = [
    ".venv/lib/python3.11/site-packages/x.pth",
    "lib/evil.pth",
    "sitecustomize.py",
    "src/usercustomize.py",
    "env/lib/python3.12/site-packages/requests/__init__.py",
    "conftest.py",
    "tests/unit/conftest.py",
    ".husky/pre-commit",
    ".vscode/tasks.json",
    ".vscode/settings.json",
    ".vscode/launch.json",
    ".idea/workspace.xml",
    "project.code-workspace",
    ".envrc",
    ".github/workflows/ci.yml",
    ".gitlab-ci.yml",
    ".circleci/config.yml",
    "package.json",
    "web/package.json",
    "setup.py",
    "pyproject.toml",
    "Makefile",
    "makefile",
    "GNUmakefile",
    "rules.mk",
    "justfile",
    "Rakefile",
    "build.rs",
    ".pre-commit-config.yaml",
    "dotfiles/.bashrc",
    "home/.zshrc",
    ".profile",
    ".config/fish/config.fish",
]
ORDINARY = [
    "app/main.py",
    "README.md",
    "docs/setup.md",
    "src/package_json.py",
    "makefile.md",
    "venvs.txt",
    ".github/CODEOWNERS",
    ".gitignore",
    "notes/bashrc.txt",
]


@pytest.mark.parametrize("path", RUNS_CODE)
def test_files_that_run_code_by_themselves_are_recognised(path: str) -> None:
    assert runs_code(path), path


@pytest.mark.parametrize("path", ORDINARY)
def test_ordinary_files_do_not_run_code(path: str) -> None:
    assert runs_code(path) is None


def test_a_wildcard_allows_ordinary_files_but_is_no_yes_for_code(tmp_path: Path) -> None:
    root = tmp_path.resolve()
    (root / "app.py").write_text("x\n")
    (root / "Makefile").write_text("all:\n")
    attached = attached_files(["./app.py", "Makefile"], root)
    app = classify("app.py", root / "app.py", root, attached)
    make = classify("Makefile", root / "Makefile", root, attached)
    new = classify("docs/new.md", root / "docs" / "new.md", root, attached)
    assert app.attached and make.attached and not new.attached
    assert headless_refusal(app, True, Allowance()) is None
    # Attached, but it runs code: only a pattern naming it exactly is its yes.
    assert "--allow-path Makefile" in (headless_refusal(make, True, Allowance()) or "")
    assert headless_refusal(make, True, Allowance(patterns=("*",))) is not None
    assert headless_refusal(make, True, Allowance(patterns=("./Makefile",))) is None
    assert "--allow-new" in (headless_refusal(new, False, Allowance()) or "")
    assert headless_refusal(new, False, Allowance(new_files=True)) is None
    for pattern in ("docs/**", "docs/", "./docs/*.md", "DOCS/NEW.MD"):
        assert headless_refusal(new, False, Allowance(patterns=(pattern,))) is None, pattern
    assert headless_refusal(new, False, Allowance(patterns=("doc/**", "*.txt"))) is not None


def test_refusals_hold_whatever_is_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = (tmp_path / "home").resolve()
    (home / "work").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    everything = Allowance(new_files=True, patterns=("**", ".bashrc", ".ssh/authorized_keys"))
    cases = {
        ".bashrc": "shell start-up file",
        ".config/rung/config.toml": "Rung's own directory",
        ".ssh/authorized_keys": ".ssh directory",
        ".config/fish/conf.d/x.fish": "shell start-up file",
    }
    attached = attached_files(list(cases), home)  # even attached
    for name, why in cases.items():
        verdict = classify(name, home / name, home, attached)
        assert why in (verdict.refused or ""), name
        assert headless_refusal(verdict, False, everything) == verdict.refused
    # The home directory is not a project: a file not attached is refused there...
    stray = classify("notes.md", home / "notes.md", home, frozenset())
    assert "not a project directory" in (stray.refused or "")
    # ...but in a project inside it, only marked.
    work = home / "work"
    inside = classify("notes.md", work / "notes.md", work, frozenset())
    assert inside.refused is None and not inside.attached
    outside = classify("x.py", tmp_path / "x.py", work, frozenset())
    assert "outside the project" in (outside.refused or "")
