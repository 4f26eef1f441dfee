"""The built-in tools in a fixed order: the tools list is part of every request's prefix,
and prompt caching needs that prefix byte for byte the same from step to step."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from rung.engine.agent.base import Need
from rung.engine.agent.tools import edit, listing, read, run, search, write
from rung.tiers.base import ToolSpec

_MODULES: tuple[ModuleType, ...] = (read, listing, search, edit, write, run)


@dataclass(frozen=True)
class BuiltinTool:
    """One built-in tool: what the model is told about it, what it needs, and the module
    that runs it (``spec()`` is the tier's wire form)."""

    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments object
    needs: Need
    module: ModuleType

    def spec(self) -> ToolSpec:
        """The tool as a request declares it (every dialect renders this one form)."""
        return ToolSpec(self.name, self.description, copy.deepcopy(self.parameters))


TOOLS: tuple[BuiltinTool, ...] = tuple(
    BuiltinTool(m.NAME, m.DESCRIPTION, m.PARAMETERS, m.NEEDS, m) for m in _MODULES
)
BY_NAME: dict[str, BuiltinTool] = {spec.name: spec for spec in TOOLS}


def tools_for(read_only: bool = False) -> tuple[BuiltinTool, ...]:
    """The tools to offer, in the fixed order; ``read_only`` (plan mode): reads only."""
    return tuple(t for t in TOOLS if not read_only or t.needs is Need.READ)
