"""run: a shell command in the project, sandboxed where bubblewrap works."""

from __future__ import annotations

import re
from typing import Any

from rung.engine.agent.base import Need, Plan, ToolContext, ToolResult, failed
from rung.engine.agent.sandbox import run_command

NAME = "run"
NEEDS = Need.RUN
MAX_COMMAND = 16_000
DESCRIPTION = (
    "Run a shell command (bash -c) in the project root and return its exit code and "
    "output (stdout and stderr together; long output keeps its start and end). Runs "
    "without a terminal or stdin, with a timeout (`timeout` seconds). Where sandboxed, "
    "only the project is writable, /tmp is private and the network is off."
)
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "command": {"type": "string", "minLength": 1, "description": "The command line."},
        "timeout": {"type": "integer", "minimum": 1, "description": "Seconds it may take."},
    },
    "required": ["command"],
    "additionalProperties": False,
}


# A test runner's totals line (pytest: "3 failed, 12 passed in 0.42s"), for the summary.
_TOTALS = re.compile(r"^[=\s]*((?:\d+ (?:failed|passed|errors?|skipped)[, ]*)+) in [\d.]+s", re.M)


def outcome(output: str) -> str:
    """``3 failed`` (or ``12 passed``) from the last totals line in ``output``, or ""."""
    found = _TOTALS.findall(output[-4096:])
    if not found:
        return ""
    counts = dict((name.rstrip("s") if name.startswith("error") else name, number)
                  for number, name in re.findall(r"(\d+) (\w+)", found[-1]))  # fmt: skip
    bad = [f"{counts[k]} {k}" for k in ("failed", "error") if k in counts]
    if bad:
        return ", ".join(bad)
    return f"{counts['passed']} passed" if "passed" in counts else ""


def _short(command: str, limit: int = 60) -> str:
    flat = " ".join(command.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def plan(arguments: dict[str, Any], context: ToolContext) -> Plan | ToolResult:
    command: str = arguments["command"]
    if len(command) > MAX_COMMAND:
        return failed(f"The command is longer than {MAX_COMMAND} characters", "run refused")
    if "\0" in command:
        return failed("The command holds a NUL character", "run refused")
    asked = float(arguments.get("timeout", context.run_timeout))
    timeout = min(asked, context.max_run_timeout)
    capped = f" (the {asked:g} s asked for is above the limit)" if asked > timeout else ""
    shown = _short(command)

    async def execute() -> ToolResult:
        try:
            # The capture leaves room for the status line: the dispatcher's bound cuts nothing.
            done = await run_command(
                command, context.root, timeout=timeout, cap=context.output_cap - 512,
                sandbox=context.sandbox, network=context.allow_network,
            )  # fmt: skip
        except OSError as exc:
            return failed(f"The command could not start: {exc}", f"run {shown} → not started")
        if done.timed_out:
            status = f"timed out after {timeout:g} s{capped}; its processes were killed"
            summary = f"run {shown} → timed out"
        else:
            status = f"exit code {done.exit_code}"
            totals = outcome(done.output)
            summary = f"run {shown} → exit {done.exit_code}" + (f", {totals}" if totals else "")
        text = f"[{status}; {done.total_bytes} bytes of output]\n{done.output}"
        code = None if done.timed_out else done.exit_code
        return ToolResult(text, summary, is_error=done.timed_out, exit_code=code)

    return Plan(NEEDS, command, f"run {shown}", execute, detail=command)
