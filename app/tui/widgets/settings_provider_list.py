"""The list on the left of Settings' Providers tab: every API provider with its state at a
glance (its key, whether it is on the ladder, whether a test reached it), and the key
storage entry last."""

from __future__ import annotations

from dataclasses import dataclass

from textual.content import Content
from textual.widgets import OptionList
from textual.widgets.option_list import Option

STORAGE = "storage"  # the option id of the key storage entry


@dataclass(frozen=True)
class ProviderRow:
    name: str
    label: str
    key: str  # KeyState.short: "key in keyring", "no key", "invalid key"…
    key_ok: bool
    key_bad: bool
    on_ladder: bool
    tested: bool | None = None  # None: not tested in this visit


def row_prompt(row: ProviderRow) -> Content:
    first: list[tuple[str, str] | str] = [(row.label, "bold")]
    if row.on_ladder:
        first.append((" · on ladder", "$text-success"))
    key_style = "$text-error" if row.key_bad else ("$text" if row.key_ok else "dim")
    lines = [Content.assemble(*first), Content.assemble("  ", (row.key, key_style))]
    if row.tested is not None:
        word = "✓ reachable" if row.tested else "✗ unreachable"
        lines.append(
            Content.assemble("  ", (word, "$text-success" if row.tested else "$text-error"))
        )
    return Content("\n").join(lines)


def storage_prompt(where: str, bad: bool) -> Content:
    return Content("\n").join(
        [
            Content.assemble(("Key storage", "bold")),
            Content.assemble("  ", (where, "$text-warning" if bad else "dim")),
        ]
    )


class ProviderList(OptionList):
    """Highlight a provider to see its detail; Enter goes to its first field."""

    DEFAULT_CSS = """
    ProviderList { width: 34; height: 1fr; max-height: 100%; border: none;
        border-right: vkey $panel; padding: 0; }
    ProviderList:focus { border: none; border-right: vkey $accent; }
    ProviderList > .option-list--option { padding: 0 1; }
    """

    def __init__(self, rows: list[ProviderRow], storage: tuple[str, bool], **kwargs: object):
        options = [Option(row_prompt(row), id=row.name) for row in rows]
        options.append(Option(storage_prompt(*storage), id=STORAGE))
        super().__init__(*options, **kwargs)  # type: ignore[arg-type]

    def show_rows(self, rows: list[ProviderRow], storage: tuple[str, bool]) -> None:
        for row in rows:
            self.replace_option_prompt(row.name, row_prompt(row))
        self.replace_option_prompt(STORAGE, storage_prompt(*storage))
