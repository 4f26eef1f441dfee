"""One path for every tool call: arguments checked against the schema, permission, the
tool, then its text made safe for the model and the screen.

``await dispatcher.call(name, arguments)`` never raises for anything the model did: an
unknown tool, arguments that are not JSON or do not fit the schema, a refused path, a
denied call, a failing tool, each comes back as a ``ToolResult`` with ``is_error`` set,
for the model to read and change course. Cancelling the awaiting task (Esc) cancels the
call; a running command's whole process group is killed first.

Every result text is sanitised (``safe_text.for_terminal``: control and escape
sequences made visible, invisible characters spelled out, key-shaped secrets masked)
and bounded (head and tail kept) before anyone sees it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from rung.engine.agent.base import Plan, ToolContext, ToolResult, failed
from rung.engine.agent.paths import never_read
from rung.engine.agent.permissions import Decision, Mode, Permissions, Verdict
from rung.engine.agent.registry import BY_NAME, BuiltinTool, tools_for
from rung.engine.agent.schema import parse_arguments, problems
from rung.engine.safe_text import for_terminal, one_line
from rung.tiers.base import ToolSpec

REPEAT_LIMIT = 3  # the same call this many times in a row is refused
DEFAULT_MAX_STEPS = 50
SUMMARY_CHARS = 120


class Answer(StrEnum):
    ONCE = "once"
    ALWAYS = "always"
    DENY = "deny"


@dataclass(frozen=True)
class PermissionRequest:
    """What the approval dialog shows: the call, why it is asked, and its full detail."""

    tool: str
    summary: str  # one line, sanitised
    detail: str  # the diff or the exact command, sanitised
    reason: str
    always: tuple[str, ...]  # the rules "always allow" would save; empty: not offered


AskCallback = Callable[[PermissionRequest], Awaitable[Answer]]


class StepCounter:
    """Steps of one agent turn against a limit (default 50)."""

    def __init__(self, limit: int = DEFAULT_MAX_STEPS) -> None:
        self.limit = limit
        self.used = 0

    def take(self) -> bool:
        """Count one step; False when the limit was already reached."""
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)


def bound(text: str, limit: int) -> str:
    """At most ``limit`` characters: the head and the tail, the cut said in between."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… {len(text) - 2 * half} characters cut …\n{text[-half:]}"


class Dispatcher:
    def __init__(
        self,
        context: ToolContext,
        permissions: Permissions,
        ask: AskCallback | None = None,
        *,
        repeat_limit: int = REPEAT_LIMIT,
    ) -> None:
        self.context = context
        self.permissions = permissions
        self.ask = ask  # None: nobody can be asked (headless, no terminal): denied
        self.repeat_limit = repeat_limit
        self._last_call: str | None = None
        self._repeats = 0
        self.notices: list[str] = []  # for the view to show once (e.g. a rule not saved)
        self.extra: dict[str, Any] = {}  # MCP servers' tools (``mcp.tools.McpTool``), by name
        context.hidden = lambda path: permissions.read_denied(path) or never_read(path)

    def tools(self) -> tuple[BuiltinTool, ...]:
        """The tools to declare to the model, in their fixed order: the built-in ones,
        then MCP servers' (sorted; in plan mode only those marked read-only)."""
        plan = self.permissions.mode is Mode.PLAN
        extra = tuple(t for t in self.extra.values() if not plan or t.read_only)
        return tools_for(read_only=plan) + extra

    def add_tools(self, tools: list[Any]) -> None:
        """MCP tools join after the built-in ones, sorted by name (a stable prefix)."""
        for tool in sorted(tools, key=lambda t: t.name):
            if tool.name not in BY_NAME:
                self.extra[tool.name] = tool

    def tool_specs(self) -> list[ToolSpec]:
        """``tools()`` in the tiers' wire form, for a ``ChatRequest``."""
        return [tool.spec() for tool in self.tools()]

    def new_turn(self, turn: str) -> None:
        """A new user turn: its edits are one undo step; the repeat guard starts over."""
        self.context.turn = turn
        self._last_call, self._repeats = None, 0

    async def call(self, name: str, arguments: str | dict[str, Any] | None) -> ToolResult:
        result = await self._call(name, arguments)
        return self._safe(result)

    def _safe(self, result: ToolResult) -> ToolResult:
        text = for_terminal(bound(result.text, self.context.output_cap))
        summary = one_line(result.summary, SUMMARY_CHARS)
        return dataclasses.replace(result, text=text, summary=summary)

    def _repeated(self, name: str, arguments: dict[str, Any]) -> bool:
        key = json.dumps([name, arguments], sort_keys=True, ensure_ascii=False)
        self._repeats = self._repeats + 1 if key == self._last_call else 1
        self._last_call = key
        return self._repeats >= self.repeat_limit

    async def _call(self, name: str, raw: str | dict[str, Any] | None) -> ToolResult:
        spec = (BY_NAME.get(name) or self.extra.get(name)) if isinstance(name, str) else None
        if spec is None:
            known = ", ".join(t.name for t in self.tools())
            return failed(f"There is no tool {name!r}; the tools are: {known}.", f"{name}?")
        try:
            arguments = parse_arguments(raw)
        except ValueError as exc:
            return failed(f"The call to {name} was malformed: {exc}.", f"{name}: bad call")
        wrong = problems(arguments, spec.parameters)
        if wrong:
            return failed(f"The call to {name} was malformed: {'; '.join(wrong)}.",
                          f"{name}: bad call")  # fmt: skip
        if self._repeated(name, arguments):
            return failed(
                f"This exact {name} call was made {self._repeats} times in a row and was not "
                "run again. Its result will not change: try something different.",
                f"{name}: repeated call refused",
            )
        try:
            plan = spec.module.plan(arguments, self.context)
        except Exception as exc:  # a tool's bug must not end the agent's turn
            return failed(f"The {name} tool failed: {type(exc).__name__}: {exc}", f"{name} failed")
        if isinstance(plan, ToolResult):
            return plan
        refused = await self._permit(spec, plan)
        if refused is not None:
            return refused
        try:
            return await plan.execute()
        except Exception as exc:
            return failed(f"The {name} tool failed: {type(exc).__name__}: {exc}",
                          f"{plan.summary} failed")  # fmt: skip

    async def _permit(self, spec: BuiltinTool, plan: Plan) -> ToolResult | None:
        """None when the call may run; else the denial told to the model."""
        verdict: Verdict = self.permissions.judge(plan)
        if verdict.decision is Decision.ALLOW:
            return None
        if verdict.decision is Decision.DENY:
            return failed(f"Denied: {plan.summary} ({verdict.reason}). It was not run.",
                          f"{plan.summary} → denied")  # fmt: skip
        if self.ask is None:
            hint = f" Allow it with a rule such as {verdict.always[0]!r}." if verdict.always else ""
            return failed(
                f"Denied: {plan.summary} needs permission ({verdict.reason}) and nobody can "
                f"be asked here (not a terminal). It was not run.{hint}",
                f"{plan.summary} → denied (nobody to ask)",
            )
        request = PermissionRequest(
            spec.name,
            one_line(plan.summary, SUMMARY_CHARS),
            for_terminal(bound(plan.detail, self.context.output_cap)),
            one_line(verdict.reason),
            verdict.always,
        )
        try:
            answer = await self.ask(request)
        except Exception as exc:  # the view failed to ask: nobody said yes
            return failed(f"Denied: {plan.summary} (asking failed: {exc}). It was not run.",
                          f"{plan.summary} → denied")  # fmt: skip
        if answer is Answer.DENY:
            return failed(f"The user denied: {plan.summary}. It was not run.",
                          f"{plan.summary} → denied by you")  # fmt: skip
        if answer is Answer.ALWAYS and verdict.always:
            problem = self.permissions.remember(verdict.always)
            if problem:
                self.notices.append(problem)
        return None
