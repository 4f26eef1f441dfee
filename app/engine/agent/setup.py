"""One agent session's parts, built from the config: the context (project root, its undo
journal, the sandbox if it works here), the permissions (mode and rules: the config's,
the command line's, the project's saved "always" answers) and the dispatcher.

The view passes its ``ask`` callback (None when nobody can be asked: headless, no
terminal); command-line ``--mode``/``--allow``/``--deny`` come as arguments and win
over the config. Bad rules are reported, never fatal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rung.engine.agent.base import ToolContext
from rung.engine.agent.dispatcher import AskCallback, Dispatcher, StepCounter
from rung.engine.agent.permissions import Mode, Permissions, SavedRules, parse_rules
from rung.engine.agent.sandbox import Probe, probe
from rung.engine.config import Config, data_dir
from rung.engine.workspace import edits_journal


@dataclass
class AgentSession:
    dispatcher: Dispatcher
    probe: Probe  # ``probe.status``: "commands sandboxed" or "commands not sandboxed"
    max_steps: int
    problems: list[str]  # rules that are not rules, said once

    def steps(self) -> StepCounter:
        """A step counter for one user turn."""
        return StepCounter(self.max_steps)


def agent_session(
    config: Config,
    root: Path,
    ask: AskCallback | None,
    *,
    mode: str | None = None,
    allow: Sequence[str] = (),
    deny: Sequence[str] = (),
    max_steps: int | None = None,
) -> AgentSession:
    """Everything an agent loop needs for the project at ``root``."""
    found = probe()
    root = Path(root).resolve()
    context = ToolContext(
        root,
        journal=edits_journal(root),
        sandbox=found.sandbox,
        run_timeout=config.get("agent", "run_timeout"),
        max_run_timeout=config.get("agent", "max_run_timeout"),
        allow_network=config.get("agent", "network"),
    )
    allowed, bad_allow = parse_rules([*config.get("permissions", "allow"), *allow])
    denied, bad_deny = parse_rules([*config.get("permissions", "deny"), *deny])
    permissions = Permissions(
        Mode(mode or config.get("permissions", "mode")),
        allowed,
        denied,
        saved=SavedRules(data_dir(), root),
        sandboxed=found.sandbox is not None,
    )
    steps = max_steps or config.get("agent", "max_steps")
    return AgentSession(Dispatcher(context, permissions, ask), found, steps, bad_allow + bad_deny)
