"""Checking a tool call's arguments against the tool's JSON Schema (the small part of
JSON Schema the built-in tools use: an object of strings, integers and booleans)."""

from __future__ import annotations

import json
from typing import Any

MAX_ARGUMENT_BYTES = 2 * 1024 * 1024
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,), "integer": (int,), "boolean": (bool,), "number": (int, float),
    "object": (dict,), "array": (list,),
}  # fmt: skip


def parse_arguments(raw: str | dict[str, Any] | None) -> dict[str, Any]:
    """The arguments object from a call (JSON text or already parsed). Raises ValueError."""
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        if len(raw) > MAX_ARGUMENT_BYTES:
            raise ValueError(f"the arguments are longer than {MAX_ARGUMENT_BYTES} bytes")
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"the arguments are not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError("the arguments must be a JSON object")
    return raw


def problems(arguments: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """What is wrong with ``arguments``; empty when they fit."""
    found: list[str] = []
    properties: dict[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in arguments:
            found.append(f"`{name}` is required")
    for name, value in arguments.items():
        spec = properties.get(name)
        if spec is None:
            if schema.get("additionalProperties", True) is False:
                found.append(f"`{name}` is not a parameter (known: {', '.join(properties)})")
            continue
        kind = spec.get("type")
        # A server's schema may say ["string", "null"]: only a single named type is checked.
        types = _TYPES.get(kind, (object,)) if isinstance(kind, str) else (object,)
        # JSON booleans are Python ints: true is not an integer here.
        if not isinstance(value, types) or (kind in ("integer", "number")
                                             and isinstance(value, bool)):  # fmt: skip
            found.append(f"`{name}` must be {kind}, not {type(value).__name__}")
            continue
        if isinstance(value, str) and len(value) < spec.get("minLength", 0):
            found.append(f"`{name}` must not be empty")
        if isinstance(value, int | float) and not isinstance(value, bool):
            if "minimum" in spec and value < spec["minimum"]:
                found.append(f"`{name}` must be at least {spec['minimum']}")
            if "maximum" in spec and value > spec["maximum"]:
                found.append(f"`{name}` must be at most {spec['maximum']}")
    return found
