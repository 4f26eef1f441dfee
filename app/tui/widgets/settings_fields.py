"""Pieces every settings form uses: a field's label (with its hint beside it, never a
placeholder that looks like a value) and a validator that asks the config's own schema,
so a field turns red as it is typed and is refused on save by the same rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual.containers import Vertical
from textual.content import Content
from textual.validation import ValidationResult, Validator
from textual.widgets import Checkbox, Input, Static

from rung.engine.config import SCHEMA, Config, ConfigValueError


class FieldLabel(Static):
    """A field's name in bold and, after it, what happens when it is left empty."""

    DEFAULT_CSS = """
    FieldLabel { width: 1fr; height: auto; color: $text; }
    """

    def __init__(self, label: str, hint: str = "", *, id: str | None = None) -> None:
        self.label = label
        super().__init__(self._content(hint), id=id, markup=False)

    def _content(self, hint: str) -> Content:
        # Plain Content, not markup: hints quote URLs and file paths.
        parts: list[tuple[str, str] | str] = [(self.label, "bold")]
        if hint:
            parts.append(("  " + hint, "dim"))
        return Content.assemble(*parts)

    def set_hint(self, hint: str) -> None:
        self.update(self._content(hint))


def from_text(section: str, key: str, raw: str) -> Any:
    """An Input's text as the type the config field holds (numbers parsed, money kept as
    text for the config's own Decimal check). Raises ValueError for a bad number."""
    default = SCHEMA[section][key][1]
    if isinstance(default, bool):
        return raw
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def check_field(section: str, key: str, raw: str) -> str | None:
    """What is wrong with ``raw`` for ``[section] key``, in words, or None."""
    try:
        value = from_text(section, key, raw.strip())
    except ValueError:
        return f"{raw.strip()!r} is not a number"
    try:
        SCHEMA[section][key][0](value)
    except ConfigValueError as exc:
        return str(exc)
    return None


class ConfigValidator(Validator):
    """Validates an Input against one config field; the failure says why."""

    def __init__(self, section: str, key: str) -> None:
        super().__init__()
        self.section = section
        self.key = key

    def validate(self, value: str) -> ValidationResult:
        problem = check_field(self.section, self.key, value)
        return self.success() if problem is None else self.failure(problem)


@dataclass(frozen=True)
class FormField:
    """One plain config field on a form: built from this and saved from this."""

    label: str
    ident: str  # the widget's id
    section: str
    key: str
    hint: str = ""
    check: bool = False  # a yes/no field (a checkbox) rather than text


def field_text(value: Any) -> str:
    return "" if value is None else str(value)


def field_widget(field: FormField, config: Config) -> Vertical:
    """The field with its label above it (a checkbox carries its own label)."""
    value = config.get(field.section, field.key)
    if field.check:
        parts: list[Any] = [Checkbox(field.label, value, id=field.ident, compact=True)]
        if field.hint:
            parts.append(Static(field.hint, classes="hint", markup=False))
        return Vertical(*parts, classes="field")
    return Vertical(
        FieldLabel(field.label, field.hint),
        Input(
            value=field_text(value),
            id=field.ident,
            compact=True,
            validators=[ConfigValidator(field.section, field.key)],
        ),
        classes="field",
    )
