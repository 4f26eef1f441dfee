"""What a proposed edit may touch: one list, declared as data, for the coding assistant
now and the agent's file tools later.

A model's reply names the files, so it must not be able to reach what would take over
the user's account or run code by itself. Three answers, from ``classify``:

- **refused**, whatever the user allows: Rung's own config, data and cache directories
  (keys and history), anything in an ``.ssh`` directory, the shell's start-up files in
  the home directory, anything outside the project root (also through links or ``..``:
  see ``paths.resolve_inside``), and, when the project root is the home directory or
  ``/`` (not a project), every file the user did not attach;
- **runs code**: a file that something executes without being asked (Python path
  hooks, test hooks, git hooks, editor tasks, CI workflows, package manager scripts,
  shell rc files). Such a file is written only after an explicit yes for that file:
  in the review screen a separate confirmation, from the command line an
  ``--allow-path`` that names it without wildcards;
- otherwise an ordinary file, **attached** (the user named it with ``@``) or not.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# Shell start-up files: refused in the home directory, "runs code" anywhere else.
SHELL_STARTUP = frozenset({
    ".bashrc", ".bash_profile", ".bash_login", ".bash_logout", ".profile",
    ".zshrc", ".zprofile", ".zshenv", ".zlogin", ".zlogout", ".cshrc", ".tcshrc",
    ".kshrc", ".mkshrc", ".inputrc",
})  # fmt: skip
# Start-up directories under the home directory (fish reads every file in its conf.d).
SHELL_STARTUP_DIRS = (".config/fish", ".bashrc.d", ".zshrc.d", ".config/environment.d")
NEVER_DIRS = frozenset({".ssh"})  # a key or authorized_keys file, wherever it is

# (glob on the path relative to the project, why it runs code). A pattern without "/"
# matches the file name at any depth; "dir/**" matches everything below a directory
# called "dir" at any depth. Case is ignored (macOS and Windows file systems ignore it).
RUNS_CODE: tuple[tuple[str, str], ...] = (
    ("*.pth", "a Python path hook (.pth files run at every Python start)"),
    ("sitecustomize.py", "a Python start-up hook"),
    ("usercustomize.py", "a Python start-up hook"),
    ("site-packages/**", "an installed Python package"),
    ("dist-packages/**", "an installed Python package"),
    (".venv/**", "a virtual environment"),
    ("venv/**", "a virtual environment"),
    ("conftest.py", "a pytest hook (runs with every test run)"),
    (".git/hooks/**", "a git hook"),
    (".husky/**", "a git hook (husky)"),
    (".githooks/**", "a git hook"),
    (".pre-commit-config.yaml", "pre-commit's hooks"),
    (".vscode/tasks.json", "an editor task file"),
    (".vscode/settings.json", "editor settings (they can name programs to run)"),
    (".vscode/launch.json", "an editor launch file"),
    ("*.code-workspace", "editor settings (they can name programs to run)"),
    (".idea/**", "editor settings (they can name programs to run)"),
    (".envrc", "a direnv script (runs on entering the directory)"),
    (".github/workflows/**", "a CI workflow"),
    (".github/actions/**", "a CI action"),
    (".gitlab-ci.yml", "a CI workflow"),
    (".circleci/**", "a CI workflow"),
    (".travis.yml", "a CI workflow"),
    (".drone.yml", "a CI workflow"),
    ("azure-pipelines.yml", "a CI workflow"),
    ("bitbucket-pipelines.yml", "a CI workflow"),
    ("Jenkinsfile", "a CI workflow"),
    (".buildkite/**", "a CI workflow"),
    ("package.json", "package manager scripts (npm runs them on install)"),
    ("setup.py", "a package build script"),
    ("setup.cfg", "package build settings"),
    ("pyproject.toml", "package build settings (build hooks)"),
    ("tox.ini", "a test runner's commands"),
    ("noxfile.py", "a test runner's commands"),
    ("Makefile", "a build script"),
    ("GNUmakefile", "a build script"),
    ("*.mk", "a build script"),
    ("justfile", "a build script"),
    (".justfile", "a build script"),
    ("Rakefile", "a build script"),
    ("Taskfile.yml", "a build script"),
    ("build.rs", "a build script (cargo runs it)"),
    ("build.gradle", "a build script"),
    ("build.gradle.kts", "a build script"),
    ("settings.gradle", "a build script"),
    ("settings.gradle.kts", "a build script"),
    ("pom.xml", "a build script (plugins)"),
    *((name, "a shell start-up file") for name in sorted(SHELL_STARTUP)),
    (".config/fish/**", "a shell start-up file"),
)


@dataclass(frozen=True)
class Verdict:
    path: str  # relative to the project root, as checked
    refused: str | None = None  # why it may never be written; None: it may be, see below
    runs_code: str | None = None  # why writing it could run code by itself
    attached: bool = False  # the user attached it (named it)


@dataclass(frozen=True)
class Allowance:
    """What the user allows from the command line beyond the attached files."""

    new_files: bool = False  # --allow-new: create files that do not exist yet
    patterns: tuple[str, ...] = ()  # --allow-path GLOB, relative to the project root

    def names(self, path: str) -> bool:
        """A pattern names ``path`` itself, without wildcards: a per-file yes."""
        return any(
            not any(c in p for c in "*?[") and _clean(p) == path.casefold() for p in self.patterns
        )

    def matches(self, path: str) -> bool:
        """A pattern matches ``path``; ``docs/`` means everything below ``docs``."""
        return any(
            _glob(_clean(p) + ("/**" if p.strip().endswith("/") else ""), path.casefold())
            for p in self.patterns
        )


def _clean(pattern: str) -> str:
    return pattern.strip().removeprefix("./").rstrip("/").casefold()


def _glob(pattern: str, path: str) -> bool:
    """``fnmatch`` on the whole path; ``dir/**`` also matches everything below ``dir``."""
    if fnmatch.fnmatchcase(path, pattern):
        return True
    return pattern.endswith("/**") and (path + "/").startswith(pattern[:-2])


def _runs_code_rule(pattern: str, path: str) -> bool:
    pattern, path = pattern.casefold(), path.casefold()
    parts = PurePosixPath(path).parts
    if "/" not in pattern:
        return fnmatch.fnmatchcase(parts[-1], pattern)
    if pattern.endswith("/**"):
        # "a/b/**": a directory run "a/b" anywhere above the file.
        wanted = tuple(pattern[:-3].split("/"))
        size = len(wanted)
        return any(parts[i : i + size] == wanted for i in range(len(parts) - size))
    return path == pattern or path.endswith("/" + pattern)


def runs_code(path: str) -> str | None:
    """Why the file at ``path`` (relative to a project) runs code by itself, or None."""
    for pattern, why in RUNS_CODE:
        if _runs_code_rule(pattern, path):
            return why
    return None


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (OSError, RuntimeError):
        return None


def _under(path: Path, top: Path) -> bool:
    return path == top or top in path.parents


def not_a_project(root: Path) -> bool:
    """The home directory or ``/``: too much lives there for a model to pick files."""
    real = root.resolve()
    return real == Path(real.anchor) or real == _home()


def _private_dirs() -> list[Path]:
    from rung.engine.attachments import private_dirs  # the same list attachments refuse

    return private_dirs()


def refusal(real: Path, root: Path) -> str | None:
    """Why the real file ``real`` may never be written by an edit, or None."""
    for private in _private_dirs():
        if _under(real, private):
            return f"it is in Rung's own directory {private} (keys, history, settings)"
    # Case-folded: on macOS and Windows ".SSH" is the same directory.
    if any(part.casefold() in NEVER_DIRS for part in real.parts):
        return "it is in an .ssh directory (keys and logins)"
    home = _home()
    if home is not None and _under(real, home):
        relative = real.relative_to(home).as_posix().casefold()
        if relative in SHELL_STARTUP or any(
            relative.startswith(d + "/") for d in SHELL_STARTUP_DIRS
        ):
            return "it is a shell start-up file in the home directory"
    if not _under(real, root.resolve()):
        return f"it is outside the project {root}"
    return None


def attached_files(names: Iterable[str], root: Path) -> frozenset[Path]:
    """The real paths of the files attached as ``names`` (written relative to ``root``)."""
    found: set[Path] = set()
    for name in names:
        try:
            found.add((root / Path(name).expanduser()).resolve())
        except (OSError, RuntimeError, ValueError):
            continue
    return frozenset(found)


def classify(path: str, real: Path, root: Path, attached: Collection[Path]) -> Verdict:
    """The rules for writing ``path`` (relative to ``root``; ``real``: where it leads).

    ``attached``: the real paths of the files the user attached (``attached_files``).
    """
    is_attached = real in attached
    refused = refusal(real, root)
    if refused is None and not is_attached and not_a_project(root):
        refused = (
            f"{root} is not a project directory, so only files attached with @ can be changed there"
        )
    top = root.resolve()
    inside = real.relative_to(top).as_posix() if _under(real, top) else path
    why = runs_code(path) or runs_code(inside)
    return Verdict(path, refused, why, is_attached)


def headless_refusal(verdict: Verdict, exists: bool, allowance: Allowance) -> str | None:
    """Why `rung ask --apply` (or `--diff`) leaves this file out, or None to write it."""
    if verdict.refused:
        return verdict.refused
    if verdict.runs_code and not allowance.names(verdict.path):
        return f"it is {verdict.runs_code}; name it with --allow-path {verdict.path} to allow it"
    if verdict.attached or verdict.runs_code:
        return None
    if allowance.matches(verdict.path):
        return None
    if not exists:
        if allowance.new_files:
            return None
        return "it is a new file; allow new files with --allow-new"
    return "it was not attached; attach it with @ or allow it with --allow-path"
