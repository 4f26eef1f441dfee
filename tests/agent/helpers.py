"""A real temp git project and a dispatcher over it, for the agent's tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

from rung.engine.agent import Answer, Dispatcher, Mode, PermissionRequest, Permissions
from rung.engine.agent.base import ToolContext
from rung.engine.agent.permissions import Rule
from rung.engine.agent.sandbox import Sandbox, probe
from rung.engine.workspace import edits_journal


def git_project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, timeout=30)
    (root / "src" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "README.md").write_text("# demo\n")
    (root / ".gitignore").write_text("build/\n")
    (root / "build").mkdir()
    (root / "build" / "out.py").write_text("def add(): pass\n")
    return root


def sandbox_or_none() -> Sandbox | None:
    return probe().sandbox


class Asker:
    """An ask callback that answers from a list and records what it was asked."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.asked: list[PermissionRequest] = []

    async def __call__(self, request: PermissionRequest) -> Answer:
        self.asked.append(request)
        return self.answers.pop(0) if self.answers else Answer.DENY


def dispatcher(
    root: Path,
    *,
    mode: Mode = Mode.ASK,
    allow: tuple[str, ...] = (),
    deny: tuple[str, ...] = (),
    ask: Asker | None = None,
    sandbox: Sandbox | None = None,
    sandboxed: bool | None = None,
    turn: str = "turn-1",
    **context: object,
) -> Dispatcher:
    ctx = ToolContext(root, journal=edits_journal(root), turn=turn, sandbox=sandbox, **context)  # type: ignore[arg-type]
    permissions = Permissions(
        mode,
        [Rule.parse(r) for r in allow],
        [Rule.parse(r) for r in deny],
        sandboxed=(sandbox is not None) if sandboxed is None else sandboxed,
    )
    return Dispatcher(ctx, permissions, ask)
