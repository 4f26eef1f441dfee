"""The agent's engine half: tools, permissions, sandbox and the dispatcher (no UI).

A session builds one ``ToolContext`` (the project root, its undo journal, the sandbox
from ``sandbox.probe()``), one ``Permissions`` (mode and rules) and one ``Dispatcher``
with the view's ``ask`` callback (None when nobody can be asked). For each user turn it
calls ``dispatcher.new_turn(turn_id)``; for each tool call of the model
``await dispatcher.call(name, arguments)`` gives the ``ToolResult`` to send back.
``dispatcher.tools()`` are the tools to declare, in a fixed order.
"""

from rung.engine.agent.base import Need, ToolContext, ToolResult
from rung.engine.agent.dispatcher import (
    Answer,
    Dispatcher,
    PermissionRequest,
    StepCounter,
)
from rung.engine.agent.permissions import Mode, Permissions, Rule, SavedRules, parse_rules
from rung.engine.agent.registry import TOOLS, BuiltinTool
from rung.engine.agent.sandbox import Probe, Sandbox, probe

__all__ = [
    "TOOLS",
    "Answer",
    "BuiltinTool",
    "Dispatcher",
    "Mode",
    "Need",
    "PermissionRequest",
    "Permissions",
    "Probe",
    "Rule",
    "Sandbox",
    "SavedRules",
    "StepCounter",
    "ToolContext",
    "ToolResult",
    "parse_rules",
    "probe",
]
