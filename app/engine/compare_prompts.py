"""Prompts for a comparison and the checks that grade their answers, as the user wrote
them: read from a prompt file or stdin (one a line, or JSON lines with checks), or taken
from a stored conversation. Only parsing here: running a check is compare_checks.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only for the hint: parsing prompts needs no history store
    from rung.engine.store import StoredMessage

CHECK_KINDS = ("contains", "regex", "json", "judge")


class PromptFileError(ValueError):
    """A prompt file Rung cannot use; the message names the line."""


@dataclass(frozen=True)
class Check:
    """One test of an answer: ``contains`` (text), ``regex`` (pattern), ``json`` (the
    answer is valid JSON) or ``judge`` (``value`` is the judging rung, with a rubric)."""

    kind: str
    value: str = ""
    rubric: str = ""

    def describe(self) -> str:
        if self.kind == "json":
            return "json"
        if self.kind == "judge":
            return f"judge: {self.value}"
        return f"{self.kind}: {self.value}"

    def as_dict(self) -> dict[str, str]:
        out = {"kind": self.kind, "value": self.value}
        if self.rubric:
            out["rubric"] = self.rubric
        return out


@dataclass(frozen=True)
class ComparePrompt:
    text: str
    checks: tuple[Check, ...] = ()

    @property
    def judges(self) -> list[Check]:
        return [c for c in self.checks if c.kind == "judge"]


def _strings(value: Any, what: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(v, str) and v for v in items):
        raise ValueError(f"{what} must be a non-empty string or a list of them")
    return items


def _checks_from(raw: Any) -> tuple[Check, ...]:
    """``{"contains": "x", "regex": "y", "json": true, "judge": "rung", "rubric": "..."}``
    or a list of such objects (one check each)."""
    groups = raw if isinstance(raw, list) else [raw]
    checks: list[Check] = []
    for group in groups:
        if not isinstance(group, dict):
            raise ValueError("checks must be an object or a list of objects")
        unknown = set(group) - {*CHECK_KINDS, "rubric"}
        if unknown:
            raise ValueError(
                f"unknown check(s) {', '.join(sorted(unknown))}; known: {', '.join(CHECK_KINDS)}"
            )
        for text in _strings(group["contains"], "contains") if "contains" in group else []:
            checks.append(Check("contains", text))
        for pattern in _strings(group["regex"], "regex") if "regex" in group else []:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"regex {pattern!r} is invalid: {exc}") from None
            checks.append(Check("regex", pattern))
        if "json" in group:
            if not isinstance(group["json"], bool):
                raise ValueError("json must be true or false")
            if group["json"]:
                checks.append(Check("json"))
        if "judge" in group or "rubric" in group:
            judge, rubric = group.get("judge"), group.get("rubric")
            if not isinstance(judge, str) or not judge:
                raise ValueError("a rubric needs a judge: the name of the rung that grades")
            if not isinstance(rubric, str) or not rubric.strip():
                raise ValueError(f"judge {judge!r} needs a rubric: what a passing answer does")
            checks.append(Check("judge", judge, rubric.strip()))
    return tuple(checks)


def parse_prompts(text: str) -> list[ComparePrompt]:
    """Prompts from a file or stdin: JSON lines (``{"prompt": ..., "checks": ...}``) when
    the first non-blank line is a JSON object, otherwise one prompt per non-blank line.
    Raises PromptFileError naming the line."""
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if not first.lstrip().startswith("{"):
        return [ComparePrompt(line.strip()) for line in lines if line.strip()]
    prompts = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("each line must be a JSON object")
            prompt = item.get("prompt")
            if not isinstance(prompt, str) or not prompt.strip():
                raise ValueError('"prompt" must be a non-empty string')
            checks = _checks_from(item["checks"]) if item.get("checks") is not None else ()
        except ValueError as exc:  # json.JSONDecodeError is a ValueError
            raise PromptFileError(f"line {number}: {exc}") from None
        prompts.append(ComparePrompt(prompt, checks))
    return prompts


def prompts_from_history(messages: list[StoredMessage], last: int) -> list[ComparePrompt]:
    """The last ``last`` questions of a stored conversation, oldest first (each asked
    on its own, without the conversation around it)."""
    questions = [m.content for m in messages if m.role == "user" and m.content.strip()]
    return [ComparePrompt(q) for q in questions[-last:]] if last > 0 else []
