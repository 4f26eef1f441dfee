"""Themes are data: TOML files turned into Textual themes. Built-in ones ship in the
``themes`` package; the user's live in ``<config dir>/themes``. A broken user theme is
reported once and skipped; the app keeps its default theme."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from textual.color import Color, ColorParseError
from textual.theme import Theme

DEFAULT_THEME = "rung-dark"
COLOR_FIELDS = (
    "primary", "secondary", "accent", "warning", "error", "success",
    "foreground", "background", "surface", "panel", "boost",
)  # fmt: skip


class ThemeError(ValueError):
    pass


def theme_from_toml(text: str, origin: str) -> Theme:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{origin}: not valid TOML ({exc})") from None
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ThemeError(f'{origin}: needs a name = "..."')
    if "primary" not in data:
        raise ThemeError(f"{origin}: needs at least a primary color")
    unknown = set(data) - {*COLOR_FIELDS, "name", "dark", "variables"}
    if unknown:
        raise ThemeError(f"{origin}: unknown field(s) {', '.join(sorted(unknown))}")
    colors: dict[str, str] = {}
    for field in COLOR_FIELDS:
        if field in data:
            value = data[field]
            try:
                Color.parse(value)
            except (ColorParseError, TypeError, ValueError):
                raise ThemeError(f"{origin}: {field} = {value!r} is not a color") from None
            colors[field] = value
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ThemeError(f"{origin}: [variables] must be a table")
    return Theme(
        name=name,
        dark=bool(data.get("dark", True)),
        variables={str(k): str(v) for k, v in variables.items()},
        **colors,
    )


def builtin_themes() -> list[Theme]:
    files = sorted(
        (f for f in resources.files("rung.themes").iterdir() if f.name.endswith(".toml")),
        key=lambda f: f.name,
    )
    return [theme_from_toml(f.read_text(encoding="utf-8"), f.name) for f in files]


def user_themes(folder: Path) -> tuple[list[Theme], list[str]]:
    """Themes from the user's folder, and a message per file that could not be used."""
    themes: list[Theme] = []
    problems: list[str] = []
    if not folder.is_dir():
        return themes, problems
    for path in sorted(folder.glob("*.toml")):
        try:
            themes.append(theme_from_toml(path.read_text(encoding="utf-8"), str(path)))
        except (ThemeError, OSError, UnicodeDecodeError) as exc:
            problems.append(str(exc))
    return themes, problems
