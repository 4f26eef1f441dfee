"""One agent session's parts, built from the config: the context (project root, its undo
journal, the sandbox if it works here), the permissions (mode and rules: the config's,
the command line's, the project's saved "always" answers) and the dispatcher.

The view passes its ``ask`` callback (None when nobody can be asked: headless, no
terminal); command-line ``--mode``/``--allow``/``--deny`` come as arguments and win
over the config. Bad rules are reported, never fatal.

MCP servers (``[mcp.servers.*]``, a trusted project ``.mcp.json``) are only described
here; ``await session.connect()`` starts them on the agent's first turn and their tools
join the dispatcher's, and ``await session.aclose()`` stops them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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
    mcp: Any = None  # an ``mcp.manager.McpManager`` when MCP servers are configured
    mcp_started: bool = field(default=False, init=False)

    def steps(self) -> StepCounter:
        """A step counter for one user turn."""
        return StepCounter(self.max_steps)

    async def connect(self) -> list[str] | None:
        """Start the MCP servers (the first time only) and add their tools to the
        dispatcher; what failed, to tell the user. None: nothing new (already done, or
        no server configured), the tools are as they were."""
        if self.mcp is None or self.mcp_started:
            return None
        tools, problems = await self.mcp.start()  # cancelled (Esc): tried again next turn
        self.mcp_started = True
        self.dispatcher.add_tools(tools)
        return problems

    async def aclose(self) -> None:
        """Stop the MCP servers (with Rung, or when the session is dropped)."""
        if self.mcp is not None:
            await self.mcp.aclose()


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
    dispatcher = Dispatcher(context, permissions, ask)
    mcp, mcp_problems = _mcp_manager(config, root)
    problems = bad_allow + bad_deny + mcp_problems
    return AgentSession(dispatcher, found, steps, problems, mcp)


def _mcp_manager(config: Config, root: Path) -> tuple[Any, list[str]]:
    """The MCP servers to start on first use (None when none is enabled), and what is
    wrong with their configuration. The SDK is not imported here."""
    from rung.engine.mcp.manager import McpManager, configured_servers, key_lookup

    servers, problems = configured_servers(config.raw, root, data_dir())
    if not any(s.enabled for s in servers):
        return None, problems
    return McpManager(servers, data_dir() / "mcp", key_lookup(config), cwd=root), problems
