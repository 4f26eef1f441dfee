"""The built-in tools in a fixed order: the tools list is part of every request's prefix,
and prompt caching needs that prefix byte for byte the same from step to step."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

from rung.engine.agent.base import Need
from rung.engine.agent.tools import edit, listing, read, run, search, write

_MODULES: tuple[ModuleType, ...] = (read, listing, search, edit, write, run)


@dataclass(frozen=True)
class ToolSpec:
    """One tool as the wire formats declare it, and the module that runs it."""

    name: str
    description: str
    parameters: dict[str, Any]  # JSON Schema of the arguments object
    needs: Need
    module: ModuleType


TOOLS: tuple[ToolSpec, ...] = tuple(
    ToolSpec(m.NAME, m.DESCRIPTION, m.PARAMETERS, m.NEEDS, m) for m in _MODULES
)
BY_NAME: dict[str, ToolSpec] = {spec.name: spec for spec in TOOLS}


def tools_for(read_only: bool = False) -> tuple[ToolSpec, ...]:
    """The tools to offer, in the fixed order; ``read_only`` (plan mode): reads only."""
    return tuple(t for t in TOOLS if not read_only or t.needs is Need.READ)
